"""The database error boundary: which lower-library errors become StorageUnavailable (retry)
or StorageError (refused), with one masked, never-empty line; other errors pass untouched."""

from __future__ import annotations

import socket
import sqlite3

import asyncpg
import pytest
from sqlalchemy import exc as sa

from pricewatch.db.errors import mapped, storage_error
from pricewatch.errors import StorageError, StorageUnavailable
from pricewatch.redact import mask_url


@pytest.mark.parametrize(("text", "masked"), [
    ("postgresql://user:pw@host/db", "postgresql://user:***@host/db"),
    ("postgresql+asyncpg://u:p@ss:w@h:5432/db", "postgresql+asyncpg://u:***@h:5432/db"),
    ("cannot reach redis://:pw@r:6379/0 now", "cannot reach redis://:***@r:6379/0 now"),
    ("postgresql://user@host/db", "postgresql://user@host/db"),
    ("sqlite:////var/lib/pricewatch.db", "sqlite:////var/lib/pricewatch.db"),
])
def test_mask_url(text: str, masked: str) -> None:
    """Every URL password in a text is replaced by ***; URLs without one are unchanged."""
    assert mask_url(text) == masked


def _wrapped(orig: BaseException, cls: type[sa.DBAPIError] = sa.DBAPIError) -> sa.DBAPIError:
    return cls("INSERT ...", {}, orig)


@pytest.mark.parametrize("exc", [
    ConnectionResetError(104, "Connection reset by peer"),
    ConnectionRefusedError(111, "Connect call failed ('127.0.0.1', 5432)"),
    socket.gaierror(-2, "Name or service not known"),
    TimeoutError(),
    asyncpg.QueryCanceledError("canceling statement due to statement timeout"),
    asyncpg.CannotConnectNowError("the database system is starting up"),
    _wrapped(sqlite3.OperationalError("database is locked"), sa.OperationalError),
    _wrapped(sqlite3.OperationalError("unable to open database file"), sa.OperationalError),
    sa.TimeoutError("QueuePool limit reached"),
])
def test_outages_are_temporary(exc: BaseException) -> None:
    """Refused, reset, unknown host, timeouts, locks: StorageUnavailable, worth a retry."""
    assert isinstance(storage_error(exc), StorageUnavailable)


@pytest.mark.parametrize("exc", [
    _wrapped(asyncpg.NumericValueOutOfRangeError("numeric field overflow")),
    _wrapped(asyncpg.UniqueViolationError("duplicate key"), sa.IntegrityError),
    _wrapped(sqlite3.OperationalError("no such table: checks"), sa.OperationalError),
    sa.StatementError("price 1E+14 outside 0 <= price < 10^14", "INSERT", {},
                      ValueError("outside")),
])
def test_refusals_are_permanent(exc: BaseException) -> None:
    """A statement the database refuses is a StorageError, not an outage to wait out."""
    error = storage_error(exc)
    assert isinstance(error, StorageError)
    assert not isinstance(error, StorageUnavailable)


def test_message_is_one_masked_line_never_empty() -> None:
    """An empty message (a bare TimeoutError) still says something, and a URL in a driver's
    message loses its password."""
    assert str(storage_error(TimeoutError())) == "timed out (the connection may have gone silent)"
    error = storage_error(OSError("cannot connect to postgresql://u:hunter2@db/x\nmore lines"))
    assert str(error) == "cannot connect to postgresql://u:***@db/x"


def test_mapped_raises_from_and_lets_bugs_through() -> None:
    """mapped() raises StorageError from the original; an error that is no database error
    (a bug) passes through unchanged."""
    with pytest.raises(StorageUnavailable, match=r"writing: .*reset") as info, mapped("writing"):
        raise ConnectionResetError(104, "Connection reset by peer")
    assert isinstance(info.value.__cause__, ConnectionResetError)
    with pytest.raises(KeyError), mapped("writing"):
        raise KeyError("bug")
    with pytest.raises(StorageUnavailable, match=r"^outer: inner: "), mapped("outer"), \
            mapped("inner"):
        raise ConnectionResetError(104, "reset")


def test_log_lines_are_masked(capsys: pytest.CaptureFixture[str]) -> None:
    """Whatever logs a URL with a password (here a library logger), the line shows ***."""
    import logging

    from pricewatch.cli import logs

    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        logs.setup(level=logging.INFO)
        logging.getLogger("somelib").warning("connecting to %s", "postgresql://u:hunter2@db/x")
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)
    err = capsys.readouterr().err
    assert "hunter2" not in err
    assert "postgresql://u:***@db/x" in err


async def test_only_errors_from_database_code_count_as_database_errors(free_port: int) -> None:
    """An OSError raised in database code (asyncpg connecting) is a database error; one raised
    elsewhere (a port already in use) is not, so the CLI never blames the database for it."""
    from sqlalchemy import text

    from pricewatch.db.engine import create_engine
    from pricewatch.db.errors import raised_by_database

    def elsewhere() -> None:
        raise OSError(98, "address already in use")

    with pytest.raises(OSError, match="in use") as info:
        elsewhere()
    assert not raised_by_database(info.value)
    engine = create_engine(f"postgresql://u@127.0.0.1:{free_port}/x")
    try:
        with pytest.raises(OSError, match="Connect call failed") as refused:
            async with engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
    finally:
        await engine.dispose()
    assert raised_by_database(refused.value)
    assert raised_by_database(_wrapped(ValueError("x")))
