"""Creating the async engine for SQLite (aiosqlite, WAL) or PostgreSQL (asyncpg)."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any
from urllib.parse import quote

from sqlalchemy import event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from pricewatch.errors import ConfigError
from pricewatch.redact import mask_url

_ASYNC_DRIVERS = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+asyncpg",
                  "postgres": "postgresql+asyncpg"}


def async_url(url: str) -> URL:
    """``sqlite:///x.db`` -> ``sqlite+aiosqlite:///x.db``; ``postgresql://`` -> asyncpg."""
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError) as exc:  # a port that is no number: ValueError
        raise ConfigError(f"invalid database URL: {mask_url(str(exc))}",
                          field="database.url") from exc
    backend = parsed.drivername.split("+", 1)[0]
    if backend not in _ASYNC_DRIVERS:
        raise ConfigError(f"unsupported database {backend!r}", field="database.url")
    return parsed.set(drivername=_ASYNC_DRIVERS[backend])


CONNECT_TIMEOUT = 10.0


def create_engine(url: str, *, echo: bool = False,
                  statement_timeout: float = 30.0) -> AsyncEngine:
    """An engine with the pragmas, pool settings and timeouts pricewatch relies on.

    ``statement_timeout`` bounds every database call: on PostgreSQL both the server
    (``statement_timeout``) and the client (asyncpg's ``command_timeout``, which also ends a
    wait on a connection that went silent); on SQLite the wait for a lock (busy timeout)."""
    target = async_url(url)
    kwargs: dict[str, Any] = {"echo": echo}
    if target.get_backend_name() == "postgresql":
        # pre_ping turns a connection killed by a Postgres restart into a fresh one.
        kwargs.update(pool_pre_ping=True, pool_size=5, max_overflow=5,
                      pool_timeout=statement_timeout, connect_args={
                          "timeout": min(CONNECT_TIMEOUT, statement_timeout),
                          # The client gives the server a moment to report its own timeout.
                          "command_timeout": statement_timeout + 1.0,
                          "server_settings": {
                              "statement_timeout": str(int(statement_timeout * 1000))},
                      })
    engine = create_async_engine(target, **kwargs)
    if target.get_backend_name() == "sqlite":
        busy_ms = int(statement_timeout * 1000)
        event.listen(engine.sync_engine, "connect",
                     lambda conn, record: _sqlite_pragmas(conn, busy_ms))
    return engine


def probe_sqlite(url: str) -> None:
    """Raise sqlite3.Error if a SQLite database could not be opened (or created), without
    creating or changing anything (a second daemon is refused before it creates a file).

    A failed first connection through aiosqlite leaves its worker thread posting to the event
    loop after ``asyncio.run`` closed it (a traceback on stderr); a plain read-only open finds
    the same problems (a missing folder, a directory, a file that is not a database)."""
    target = async_url(url)
    path = target.database
    if target.get_backend_name() != "sqlite" or not path or path == ":memory:":
        return
    file = Path(path)
    if not file.exists():
        if not file.parent.is_dir():
            raise sqlite3.OperationalError(
                f"unable to open database file: no folder {file.parent}")
        return
    connection = sqlite3.connect(f"file:{quote(str(file))}?mode=ro", uri=True)
    try:
        connection.execute("PRAGMA schema_version").fetchone()
    finally:
        connection.close()


def _sqlite_pragmas(dbapi_connection: Any, busy_ms: int) -> None:
    # WAL lets readers (the CLI's history, Grafana) run while the daemon writes; NORMAL sync is
    # durable across process crashes in WAL mode and much faster than FULL.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={busy_ms}")
    cursor.close()


def dialect_insert(dialect: str) -> Any:
    """The dialect's INSERT construct (the one with ``on_conflict_*``) for ``dialect``, by
    name (the writer's upserts are the same statement on both databases)."""
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert
