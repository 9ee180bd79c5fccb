"""The shipped migrations build exactly the schema the code uses, on both databases."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import inspect

from pricewatch.db import migrate
from pricewatch.db.engine import create_engine
from pricewatch.db.repository import PendingCheck, history, insert_checks, sync_catalog
from pricewatch.errors import StorageError
from pricewatch.models import Check, Outcome
from tests.unit.test_config import GOOD, load_text

ROOT = Path(__file__).resolve().parents[2]


async def check_database(url: str, *, replay: bool = True) -> None:
    engine = create_engine(url)
    try:
        await migrate.upgrade(engine, replay=replay)
        await migrate.upgrade(engine)  # idempotent
        assert await migrate.current_revision(engine) == migrate.head_revision()
        assert await migrate.drift(engine) == []
        async with engine.connect() as conn:
            names = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
        assert {"products", "offers", "checks", "alembic_version"} <= names
    finally:
        await engine.dispose()


async def test_sqlite_migrations_match_models(tmp_path: Path) -> None:
    """Upgrading an empty SQLite file gives the models' schema (no autogenerate diff)."""
    await check_database(f"sqlite:///{tmp_path / 'm.db'}")


@pytest.mark.postgres
async def test_postgres_migrations_match_models(postgres_url: str) -> None:
    """Upgrading an empty PostgreSQL database gives the models' schema too."""
    await check_database(postgres_url)


async def test_sqlite_fresh_schema_is_the_migrations_schema(tmp_path: Path) -> None:
    """An empty SQLite file created without replaying the scripts has the same schema and
    the same stamp as one the scripts built."""
    await check_database(f"sqlite:///{tmp_path / 'f.db'}", replay=False)


@pytest.mark.postgres
async def test_postgres_fresh_schema_is_the_migrations_schema(postgres_url: str) -> None:
    """The same on PostgreSQL."""
    await check_database(postgres_url, replay=False)


async def roundtrip(url: str, tmp_path: Path) -> None:
    engine = create_engine(url)
    try:
        await migrate.upgrade(engine)
        settings = load_text(tmp_path, GOOD, {"TOKEN": "t"})
        now = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
        async with engine.begin() as conn:
            ids = await sync_catalog(conn, settings.offers(), now)
            key = settings.offers()[0].key
            await insert_checks(conn, [
                PendingCheck(ids[key], Check(key, now, Outcome.OK, price=Decimal("423.923"),
                                             currency="KWD", in_stock=True), etag='"v1"'),
                PendingCheck(ids[key], Check(key, now.replace(hour=4), Outcome.TIMEOUT,
                                             error="timed out")),
            ])
        async with engine.connect() as conn:
            newest, oldest = await history(conn, key)
        assert oldest.price == Decimal("423.923")
        assert str(oldest.price) == "423.923"
        assert oldest.observed_at == now
        assert oldest.observed_at.tzinfo is not None
        assert newest.outcome is Outcome.TIMEOUT
        assert newest.price is None
    finally:
        await engine.dispose()


async def test_sqlite_roundtrip_keeps_decimals_and_utc(tmp_path: Path) -> None:
    """A 3-decimal price and a UTC timestamp come back exactly from SQLite."""
    await roundtrip(f"sqlite:///{tmp_path / 'r.db'}", tmp_path)


@pytest.mark.postgres
async def test_postgres_roundtrip_keeps_decimals_and_utc(postgres_url: str, tmp_path: Path) -> None:
    """... and from PostgreSQL."""
    await roundtrip(postgres_url, tmp_path)


@pytest.mark.slow
def test_wheel_ships_migrations(tmp_path: Path) -> None:
    """A plain (non-editable) wheel contains the migrations, so `pip install .` can upgrade,
    and the web UI's templates and static files."""
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q",
         "-w", str(tmp_path), str(ROOT)],
        check=True, capture_output=True, timeout=300,
    )
    wheel = next(tmp_path.glob("pricewatch-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "pricewatch/migrations/env.py" in names
    assert "pricewatch/migrations/script.py.mako" in names
    assert any(n.startswith("pricewatch/migrations/versions/0001_") for n in names)
    assert "pricewatch/py.typed" in names
    # The web UI's templates and static files are package data too.
    assert "pricewatch/runtime/web/templates/overview.html" in names
    assert "pricewatch/runtime/web/static/app.js" in names


def test_head_constant_is_the_newest_shipped_revision() -> None:
    """``migrate.HEAD`` lets a start skip Alembic; it must name the scripts' real head."""
    assert migrate.head_revision() == migrate.HEAD


async def test_a_database_at_head_is_not_upgraded_again(tmp_path: Path) -> None:
    """A database at HEAD is recognised with one query; a stale stamp is upgraded for real
    (Alembic reports an unknown revision rather than skipping it)."""
    engine = create_engine(f"sqlite:///{tmp_path / 'h.db'}")
    try:
        await migrate.upgrade(engine)
        await migrate.upgrade(engine)  # at HEAD: nothing to do
        async with engine.begin() as conn:
            await conn.exec_driver_sql("UPDATE alembic_version SET version_num = '0001'")
        with pytest.raises(StorageError):  # runs 0002 again on a 0002 schema: fails loudly
            await migrate.upgrade(engine)
    finally:
        await engine.dispose()


def test_a_start_at_head_does_not_import_alembic(tmp_path: Path) -> None:
    """Alembic costs 11 MB of RSS for the life of the process; neither an empty database
    nor one already at the newest revision needs it, a database at an older revision does."""
    db = tmp_path / "a.db"
    code = (
        "import asyncio, sys\n"
        "from pricewatch.db import migrate\n"
        "from pricewatch.db.engine import create_engine\n"
        "async def main():\n"
        f"    e = create_engine('sqlite:///{db}')\n"
        "    await migrate.upgrade(e, sys.argv[1])\n"
        "    await e.dispose()\n"
        "    print('alembic' in sys.modules)\n"
        "asyncio.run(main())\n"
    )

    def start(revision: str = "head") -> str:
        return subprocess.run([sys.executable, "-c", code, revision], capture_output=True,
                              text=True, check=True).stdout.strip()

    assert (start(), start()) == ("False", "False")
    db.unlink()
    assert (start("0001"), start()) == ("True", "True")  # 0001 -> 0002 needs the scripts
    assert start() == "False"
