"""Every command that opens the database fails with one masked line, never a traceback, when
the database cannot be had: PostgreSQL refusing connections, an unknown host, an unopenable
SQLite file."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

SECRET = "s3cr3t-pw"

COMMANDS = {
    "run": ["run"],
    "once": ["once"],
    "history": ["history", "kettle"],
    "export": ["export"],
    "db current": ["db", "current"],
    "db upgrade": ["db", "upgrade"],
    "db check": ["db", "check"],
    "alerts list": ["alerts", "list"],
}


def databases(tmp_path: Path, free_port: int) -> dict[str, str]:
    (tmp_path / "a-directory.db").mkdir()
    return {
        "refused": f"postgresql://pw:{SECRET}@127.0.0.1:{free_port}/nothing",
        "unknown host": f"postgresql://pw:{SECRET}@no-such-host.invalid/nothing",
        "sqlite missing dir": f"sqlite:///{tmp_path / 'no' / 'such' / 'dir' / 'x.db'}",
        "sqlite directory": f"sqlite:///{tmp_path / 'a-directory.db'}",
        "port no number": f"postgresql://pw:{SECRET}@127.0.0.1:notaport/nothing",
    }


def config_for(tmp_path: Path, url: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(f"""\
database:
  url: "{url}"
server:
  enabled: false
http:
  obey_robots: false
products:
  - id: kettle
    name: Kettle
    offers:
      - url: http://127.0.0.1:9/kettle
""", encoding="utf-8")
    return path


def pricewatch(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pricewatch.cli", *args], capture_output=True,
                          text=True, timeout=90, check=False)


@pytest.mark.parametrize("db", ["refused", "unknown host", "sqlite missing dir",
                                "sqlite directory", "port no number"])
@pytest.mark.parametrize("command", list(COMMANDS))
def test_unreachable_database_is_one_line(tmp_path: Path, free_port: int, db: str,
                                          command: str) -> None:
    """The command exits non-zero with exactly one `error:` line naming the database, its
    password masked, and no traceback."""
    url = databases(tmp_path, free_port)[db]
    done = pricewatch(*COMMANDS[command], "-c", str(config_for(tmp_path, url)))
    assert done.returncode != 0, done.stdout
    assert "Traceback" not in done.stderr, done.stderr
    assert SECRET not in done.stderr + done.stdout
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, done.stderr
    assert errors[0].startswith("error: database"), errors
    assert not [line for line in done.stderr.splitlines()
                if line.strip() and not line.startswith("error:") and " ERROR " not in line
                and " WARNING " not in line and " INFO " not in line], done.stderr


def test_validate_masks_the_password(tmp_path: Path, free_port: int) -> None:
    """`validate` names the database with its password replaced by ***."""
    url = databases(tmp_path, free_port)["refused"]
    done = pricewatch("validate", "-c", str(config_for(tmp_path, url)))
    assert done.returncode == 0, done.stderr
    assert SECRET not in done.stdout
    assert f"postgresql://pw:***@127.0.0.1:{free_port}/nothing" in done.stdout


def _with_password(postgres_url: str) -> str:
    # The test server trusts local connections, so any password works and none is checked.
    return postgres_url.replace("postgresql://postgres@", f"postgresql://postgres:{SECRET}@")


@pytest.mark.postgres
def test_once_and_db_current_mask_the_password(tmp_path: Path, postgres_url: str) -> None:
    """`once` and `db current` name the database they used with its password masked."""
    cfg = str(config_for(tmp_path, _with_password(postgres_url)))
    for args in (["db", "upgrade"], ["once", "--allow-failures"], ["db", "current"]):
        done = pricewatch(*args, "-c", cfg)
        assert done.returncode == 0, done.stderr
        assert SECRET not in done.stdout + done.stderr
        assert "postgres:***@127.0.0.1" in done.stdout


@pytest.mark.postgres
async def test_daemon_start_line_masks_the_password(tmp_path: Path, postgres_url: str,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    """The daemon's start line names the database with its password masked."""
    import asyncio
    import logging

    from pricewatch import config
    from pricewatch.runtime.daemon import Daemon
    from tests.conftest import eventually

    daemon = Daemon(config.load(config_for(tmp_path, _with_password(postgres_url)),
                                environ={}))
    caplog.set_level(logging.INFO)
    task = asyncio.create_task(daemon.run())

    async def started() -> bool:
        return "pricewatch running" in caplog.text

    try:
        await eventually(started, 60, "the start line")
    finally:
        daemon.stop()
        await asyncio.wait_for(task, 60)
    assert SECRET not in caplog.text
    assert "postgres:***@127.0.0.1" in caplog.text
