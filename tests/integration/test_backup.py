"""`pricewatch db backup`: a copy taken while a round writes restores every earlier check."""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
import threading
from pathlib import Path

import pytest

from pricewatch import cli, config
from pricewatch.demo import shop
from pricewatch.demo.catalog import catalog
from pricewatch.runtime.rounds import run_once

NOW = 1_790_000_000.0


def stored_ids(db: Path) -> set[int]:
    with sqlite3.connect(db) as conn:
        try:
            return {row[0] for row in conn.execute("SELECT id FROM checks")}
        except sqlite3.OperationalError:  # the round has not created the tables yet
            return set()


async def test_backup_while_a_round_writes_restores_every_earlier_check(tmp_path: Path) -> None:
    """Backups taken again and again while `once` writes 40 checks (one every 100 ms, in
    batches) each hold every check committed before it began; one copied back over the
    database is a pricewatch database whose schema matches and whose rows are those."""
    products = catalog(40)
    runner, base = await shop.start(size=40, clock=lambda: NOW)
    cfg = tmp_path / "config.yaml"
    lines = ["database: {url: 'sqlite:///pw.db'}",
             "http: {per_host_delay: 100ms, per_host_concurrency: 1, obey_robots: false}",
             "products:"]
    lines += [f"  - {{id: {p.id}, name: {p.name}, offers: [{{url: '{base}{p.path}'}}]}}"
              for p in products]
    cfg.write_text("\n".join(lines) + "\n", encoding="utf-8")
    db = tmp_path / "pw.db"
    done = threading.Event()
    taken: list[tuple[set[int], Path]] = []

    def back_up_repeatedly() -> None:
        while not done.is_set():
            before = stored_ids(db) if db.exists() else set()
            if before:
                target = tmp_path / f"backup-{len(taken)}.db"
                assert cli.main(["db", "backup", str(target), "-c", str(cfg)]) == 0
                taken.append((before, target))
            done.wait(0.2)

    backups = asyncio.create_task(asyncio.to_thread(back_up_repeatedly))
    try:
        result = await run_once(config.load(cfg, environ={}))
    finally:
        done.set()
        await backups
        await runner.cleanup()
    final = stored_ids(db)
    assert len(final) == result.written == 40
    during = [(before, target) for before, target in taken if len(before) < len(final)]
    assert during, "no backup was taken while the round was still writing"
    for before, target in taken:
        assert before <= stored_ids(target), target
    before, target = during[-1]
    for leftover in (db, db.with_name("pw.db-wal"), db.with_name("pw.db-shm")):
        leftover.unlink(missing_ok=True)
    shutil.copyfile(target, db)  # the restore: stop the daemon, copy the backup back
    restored = stored_ids(db)
    assert before <= restored < final
    assert await asyncio.to_thread(cli.main, ["db", "check", "-c", str(cfg)]) == 0


def test_backup_of_postgres_prints_the_pg_dump_line(tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    """For PostgreSQL, `db backup` writes nothing, exits 1 and prints a pg_dump line that
    names the database but not its password."""
    cfg = tmp_path / "config.yaml"
    cfg.write_text("database: {url: 'postgresql://pw:secret@db.lan:5433/prices'}\n",
                   encoding="utf-8")
    assert cli.main(["db", "backup", str(tmp_path / "b.dump"), "-c", str(cfg)]) == 1
    err = capsys.readouterr().err
    assert "PGPASSWORD=... pg_dump --format=custom" in err
    assert "postgresql://pw@db.lan:5433/prices" in err
    assert "secret" not in err
    assert not (tmp_path / "b.dump").exists()
