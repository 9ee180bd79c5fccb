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

import asyncio
import contextlib
import fcntl
import logging
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

log = logging.getLogger(__name__)

VERIFY_TIMEOUT = 5.0

# pg_try_advisory_lock(bigint): a fixed key, "pricewatch" in the high bytes; advisory locks are
# scoped to the current database, so one key serves every database.
ADVISORY_KEY = 0x7072696365770001
# Cluster mode: start-up (migrations, the engine's schema, the catalogue) one replica at a time.
STARTUP_KEY = 0x7072696365770002
# Cluster mode: the one replica that delivers alerts.
DELIVERY_KEY = 0x7072696365770003


def holder_name() -> str:
    """Who takes the lock: shown to a second daemon that is refused."""
    return (f"pricewatch pid {os.getpid()} on {socket.gethostname()} since "
            f"{datetime.now(UTC).isoformat(timespec='seconds')}")


class DaemonLock:
    """A held lock. A file lock cannot be lost; a PostgreSQL session can (the server restarts,
    the network drops it), and ``verify()`` takes the lock again on a new session."""

    def __init__(self, engine: AsyncEngine | None = None,
                 held: tuple[AsyncConnection, int] | None = None, *,
                 shared: bool = False) -> None:
        self._engine = engine
        self._shared = shared
        self._conn: AsyncConnection | None = None
        self._backend: int | None = None
        if held is not None:
            self._conn, self._backend = held

    async def verify(self) -> str | None:
        """None if the lock is (again) held; otherwise why not. Never raises."""
        if self._engine is None:
            return None
        try:
            async with asyncio.timeout(VERIFY_TIMEOUT):
                if self._conn is not None:
                    try:
                        await self._conn.execute(text("SELECT 1"))
                        await self._conn.rollback()  # never idle in a transaction for months
                        return None
                    except (SQLAlchemyError, OSError):
                        log.warning("the daemon lock's database session was lost; taking the "
                                    "lock again")
                        with contextlib.suppress(Exception):
                            await self._conn.invalidate()
                        self._conn = None
                self._conn, self._backend = await _take_advisory(
                    self._engine, self._backend, shared=self._shared)
                log.info("daemon lock taken again")
                return None
        except DatabaseInUse as exc:
            log.error("%s", exc)
            return str(exc)
        except Exception as exc:  # the database is away: try again at the next check
            return f"cannot verify the daemon lock: {_first_line(exc)}"

    async def close(self) -> None:
        if self._conn is not None:
            # Closing only returns the connection to the pool, session (and lock) intact.
            with contextlib.suppress(Exception):
                unlock = "pg_advisory_unlock_shared" if self._shared else "pg_advisory_unlock"
                await self._conn.execute(text(f"SELECT {unlock}(:key)"), {"key": ADVISORY_KEY})
                await self._conn.commit()
            with contextlib.suppress(Exception):
                await self._conn.close()
            self._conn = None


@asynccontextmanager
async def daemon_lock(engine: AsyncEngine, *, shared: bool = False
                      ) -> AsyncIterator[DaemonLock]:
    """Hold the database's daemon lock for the block; ``DatabaseInUse`` if another holds it.
    ``shared`` (cluster replicas, PostgreSQL only): any number of replicas hold it together,
    and a single-process daemon, which takes it alone, is refused while they do (and they
    while it does)."""
    if shared:
        lock = DaemonLock(engine, await _take_advisory(engine, shared=True), shared=True)
        try:
            yield lock
        finally:
            await lock.close()
        return
    if engine.dialect.name == "sqlite":
        database = engine.url.database
        if not database or database == ":memory:":
            yield DaemonLock()  # a private in-memory database cannot be shared
            return
        with _file_lock(Path(database + ".lock")):
            yield DaemonLock()
        return
    lock = DaemonLock(engine, await _take_advisory(engine))
    try:
        yield lock
    finally:
        await lock.close()


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


async def _take_advisory(engine: AsyncEngine, stale: int | None = None, *,
                         shared: bool = False) -> tuple[AsyncConnection, int]:
    """A connection holding the advisory lock, and its backend pid; the caller closes it to
    release the lock. ``stale``: the backend pid of this lock's previous session."""
    try:
        conn = await engine.connect()
    except (SQLAlchemyError, OSError) as exc:
        raise StorageUnavailable(f"cannot connect to take the daemon lock: "
                                 f"{_first_line(exc)}") from exc
    try:
        try:
            await conn.execute(text("SELECT set_config('application_name', :name, false)"),
                               {"name": holder_name()[:63]})
            backend = int((await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one())
            holder = await _try_lock(conn, shared=shared)
            if holder is not None and stale is not None and holder[1] == stale:
                # This lock's own session from before an outage, which the server has not
                # noticed yet (a silent network keeps it for hours): end it, take the lock.
                await conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": stale})
                for _ in range(20):
                    holder = await _try_lock(conn, shared=shared)
                    if holder is None or holder[1] != stale:
                        break
                    await asyncio.sleep(0.1)
            await conn.commit()  # the lock is the session's, not the transaction's
        except (SQLAlchemyError, OSError) as exc:
            raise StorageError(f"cannot take the daemon lock: {_first_line(exc)}") from exc
        if holder is not None:
            name, pid, addr = holder
            raise DatabaseInUse(f"database {engine.url.database} is in use by "
                                f"{name or 'a session'} (backend pid {pid}"
                                f"{f' from {addr}' if addr else ''}); one daemon per database")
    except BaseException:
        with contextlib.suppress(Exception):
            await conn.close()
        raise
    return conn, backend


async def _try_lock(conn: AsyncConnection, *, shared: bool = False
                    ) -> tuple[str, int, str | None] | None:
    """None if this session now holds the lock; else (application_name, pid, address) of the
    session that does."""
    take = "pg_try_advisory_lock_shared" if shared else "pg_try_advisory_lock"
    taken = (await conn.execute(text(f"SELECT {take}(:key)"),
                                {"key": ADVISORY_KEY})).scalar_one()
    if taken:
        return None
    row = (await conn.execute(text(
        "SELECT a.application_name, a.pid, a.client_addr::text FROM pg_locks l "
        "JOIN pg_stat_activity a ON a.pid = l.pid WHERE l.locktype = 'advisory' "
        "AND l.granted AND l.database = (SELECT oid FROM pg_database "
        "WHERE datname = current_database()) "
        "AND (l.classid::bigint << 32 | l.objid::bigint) = :key"), {"key": ADVISORY_KEY})).first()
    if row is None:
        return ("", 0, None)  # released meanwhile; the caller reports "a session"
    return str(row[0] or ""), int(row[1]), row[2]


class SoleLock:
    """At most one holder among the processes on a database: a session advisory lock on a
    connection kept while held. When the holder dies its session ends and another process
    takes the lock at its next ``held()``."""

    def __init__(self, engine: AsyncEngine, key: int) -> None:
        self._engine = engine
        self._key = key
        self._conn: AsyncConnection | None = None

    async def held(self) -> bool:
        """Whether this process holds the lock now (taking it if free). Never raises."""
        try:
            async with asyncio.timeout(VERIFY_TIMEOUT):
                if self._conn is not None:
                    try:
                        await self._conn.execute(text("SELECT 1"))
                        await self._conn.rollback()
                        return True
                    except (SQLAlchemyError, OSError):
                        await self._drop()
                conn = await self._engine.connect()
                try:
                    taken = bool((await conn.execute(text("SELECT pg_try_advisory_lock(:key)"),
                                                     {"key": self._key})).scalar_one())
                    await conn.commit()
                except BaseException:
                    await conn.invalidate()
                    raise
                if taken:
                    self._conn = conn
                else:
                    await conn.close()
                return taken
        except Exception as exc:
            log.debug("lock %x not taken: %s", self._key, _first_line(exc))
            return False

    async def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            # Closed, not pooled: the session, and the lock with it, ends here.
            with contextlib.suppress(Exception):
                await conn.invalidate()
            with contextlib.suppress(Exception):
                await conn.close()

    async def close(self) -> None:
        await self._drop()


@asynccontextmanager
async def startup_lock(engine: AsyncEngine) -> AsyncIterator[None]:
    """Cluster start-up, one replica at a time: the first migrates and syncs while the others
    wait here (PostgreSQL's session advisory lock, dropped if its holder dies)."""
    try:
        conn = await engine.connect()
        await conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": STARTUP_KEY})
        await conn.commit()
    except (SQLAlchemyError, OSError) as exc:
        raise StorageUnavailable(f"cannot take the start-up lock: {_first_line(exc)}") from exc
    try:
        yield
    finally:
        # Closed, not returned to the pool: the session, and its lock, end here.
        with contextlib.suppress(Exception):
            await conn.invalidate()
        with contextlib.suppress(Exception):
            await conn.close()


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0][:300] if lines else type(exc).__name__
