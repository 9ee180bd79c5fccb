"""One daemon per database: a lock taken before anything is migrated or fetched.

Two daemons on one database check every offer twice and double the load on the shops. The lock
is one the operating system or the server drops when its holder dies, so a crash never leaves
a stale lock behind:

- SQLite: ``flock`` on ``<database>.lock`` beside the file; the holder writes its pid, host and
  start time into it, so the refusal can name it.
- PostgreSQL: a session advisory lock on a connection kept for the daemon's lifetime, whose
  ``application_name`` names the holder.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import socket
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from pricewatch.errors import DatabaseInUse, StorageError, StorageUnavailable

# pg_try_advisory_lock(bigint): a fixed key, "pricewatch" in the high bytes; advisory locks are
# scoped to the current database, so one key serves every database.
ADVISORY_KEY = 0x7072696365770001


def holder_name() -> str:
    """Who takes the lock: shown to a second daemon that is refused."""
    return (f"pricewatch pid {os.getpid()} on {socket.gethostname()} since "
            f"{datetime.now(UTC).isoformat(timespec='seconds')}")


@asynccontextmanager
async def daemon_lock(engine: AsyncEngine) -> AsyncIterator[None]:
    """Hold the database's daemon lock for the block; ``DatabaseInUse`` if another holds it."""
    if engine.dialect.name == "sqlite":
        database = engine.url.database
        if not database or database == ":memory:":
            yield  # a private in-memory database cannot be shared
            return
        with _file_lock(Path(database + ".lock")):
            yield
        return
    async with _advisory_lock(engine):
        yield


def _open_lock(path: Path) -> int:
    try:
        return os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise StorageError(f"cannot create the daemon lock {path}: {exc.strerror}") from exc


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    fd = _open_lock(path)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 500, 0).decode("utf-8", "replace").strip() or "another process"
            raise DatabaseInUse(f"database {path.with_suffix('')} is in use by {holder} "
                                f"(lock {path}); one daemon per database") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, (holder_name() + "\n").encode(), 0)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


@asynccontextmanager
async def _advisory_lock(engine: AsyncEngine) -> AsyncIterator[None]:
    try:
        conn = await engine.connect()
    except (SQLAlchemyError, OSError) as exc:
        raise StorageUnavailable(f"cannot connect to take the daemon lock: "
                                 f"{_first_line(exc)}") from exc
    try:
        try:
            await conn.execute(text("SELECT set_config('application_name', :name, false)"),
                               {"name": holder_name()[:63]})
            taken = (await conn.execute(text("SELECT pg_try_advisory_lock(:key)"),
                                        {"key": ADVISORY_KEY})).scalar_one()
            holder = None if taken else await _advisory_holder(conn)
            await conn.commit()  # the lock is the session's, not the transaction's
        except (SQLAlchemyError, OSError) as exc:
            raise StorageError(f"cannot take the daemon lock: {_first_line(exc)}") from exc
        if not taken:
            raise DatabaseInUse(f"database {engine.url.database} is in use by "
                                f"{holder or 'another session'}; one daemon per database")
        yield
    finally:
        with contextlib.suppress(Exception):
            await conn.close()  # ends the session, and with it the lock


async def _advisory_holder(conn: AsyncConnection) -> str | None:
    row = (await conn.execute(text(
        "SELECT a.application_name, a.client_addr::text, a.pid FROM pg_locks l "
        "JOIN pg_stat_activity a ON a.pid = l.pid WHERE l.locktype = 'advisory' "
        "AND l.granted AND l.database = (SELECT oid FROM pg_database "
        "WHERE datname = current_database()) "
        "AND (l.classid::bigint << 32 | l.objid::bigint) = :key"), {"key": ADVISORY_KEY})).first()
    if row is None:
        return None
    name, addr, pid = row
    return f"{name or 'a session'} (backend pid {pid}{f' from {addr}' if addr else ''})"


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0][:300] if lines else type(exc).__name__
