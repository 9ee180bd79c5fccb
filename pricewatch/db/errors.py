"""The one database error boundary: driver and SQLAlchemy errors become ``StorageError``.

Modelled on httpx's ``map_httpcore_exceptions``: code that talks to the database runs inside
``with mapped("what it was doing"):`` and callers only ever see the project's tree::

    SQLAlchemyError, asyncpg errors, sqlite3 errors, OSError, timeouts
      -> StorageUnavailable   the database cannot be reached now (refused, reset, unknown host,
                              silent connection, statement timeout, locked); retrying may work
      -> StorageError         the database refused this operation (bad data, missing table)

Every message is one line, never empty, and has URL passwords masked. Anything else (a bug)
passes through unchanged.
"""

from __future__ import annotations

import sqlite3
import sys
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from sqlalchemy import exc as sa

from pricewatch.errors import PricewatchError, StorageError, StorageUnavailable
from pricewatch.redact import mask_url

if TYPE_CHECKING:
    from types import ModuleType


def _asyncpg() -> ModuleType | None:
    """asyncpg, if loaded: an asyncpg error exists only once the driver is, and a SQLite-only
    process (a short ``once``) does not pay for its import."""
    return sys.modules.get("asyncpg")


def _asyncpg_unavailable(asyncpg: ModuleType) -> tuple[type[BaseException], ...]:
    """asyncpg errors that mean "the connection or the server is away", not "this statement
    is bad"."""
    return (
        asyncpg.PostgresConnectionError,
        asyncpg.InterfaceError,
        asyncpg.CannotConnectNowError,
        asyncpg.TooManyConnectionsError,
        asyncpg.QueryCanceledError,  # statement_timeout
        asyncpg.AdminShutdownError,
        asyncpg.ConnectionDoesNotExistError,
    )


# SQLite reports a missing table and a locked file with the same exception class.
_SQLITE_PERMANENT = ("no such table", "no such column", "syntax error", "not a database",
                     "readonly database", "constraint failed", "datatype mismatch")


def first_line(exc: BaseException) -> str:
    """The first non-empty line of an exception's message, or its class name."""
    for line in str(exc).splitlines():
        if line.strip():
            return mask_url(line.strip())[:300]
    return type(exc).__name__


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """The exception, what SQLAlchemy wrapped (``orig``) and its causes, innermost last."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        current = todo.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        todo.extend([current.__context__, current.__cause__, getattr(current, "orig", None)])


def _temporary(exc: BaseException) -> bool:
    asyncpg = _asyncpg()
    for link in _chain(exc):
        if asyncpg is not None and isinstance(link, asyncpg.PostgresError
                                              | asyncpg.InterfaceError):
            return isinstance(link, _asyncpg_unavailable(asyncpg))
        if isinstance(link, sqlite3.Error):
            text = str(link).lower()
            return isinstance(link, sqlite3.OperationalError) and not any(
                marker in text for marker in _SQLITE_PERMANENT)
        if isinstance(link, OSError | TimeoutError | sa.TimeoutError | sa.DisconnectionError):
            return True  # ConnectionError, socket.gaierror and asyncio timeouts are OSError/T.E.
        if isinstance(link, sa.DBAPIError) and link.connection_invalidated:
            return True
    return isinstance(exc, sa.OperationalError | sa.InterfaceError)


def _driver_error(exc: BaseException) -> bool:
    """Whether ``exc`` is SQLAlchemy's, asyncpg's or sqlite3's."""
    if isinstance(exc, sa.SQLAlchemyError | sqlite3.Error):
        return True
    asyncpg = _asyncpg()
    return asyncpg is not None and isinstance(exc, asyncpg.PostgresError
                                              | asyncpg.InterfaceError)


def is_storage_exception(exc: BaseException) -> bool:
    """Whether ``exc`` came from the database layer (not a bug elsewhere)."""
    return _driver_error(exc) or isinstance(exc, OSError | TimeoutError)


_DATABASE_MODULES = ("sqlalchemy", "asyncpg", "aiosqlite", "sqlite3", "alembic",
                     "pricewatch.db")


def raised_by_database(exc: BaseException) -> bool:
    """Whether ``exc`` is a database library's error, or an OSError or timeout raised inside
    database code (a socket error elsewhere, such as a port in use, is not a database error)."""
    if _driver_error(exc):
        return True
    return any(str(frame.f_globals.get("__name__", "")).startswith(_DATABASE_MODULES)
               for frame, _line in traceback.walk_tb(exc.__traceback__))


def storage_error(exc: BaseException, action: str = "") -> StorageError | None:
    """The StorageError for a lower library's exception, or None when it is not one."""
    if isinstance(exc, StorageError):
        return exc
    if isinstance(exc, PricewatchError) or not is_storage_exception(exc):
        return None
    detail = first_line(exc)
    if isinstance(exc, TimeoutError) and detail == "TimeoutError":
        detail = "timed out (the connection may have gone silent)"
    message = f"{action}: {detail}" if action else detail
    cls = StorageUnavailable if _temporary(exc) else StorageError
    return cls(message)


@contextmanager
def mapped(action: str = "") -> Iterator[None]:
    """Run a block that talks to the database; re-raise its errors as StorageError."""
    try:
        yield
    except StorageError as exc:
        if not action:
            raise
        # An inner boundary's error gains this one's context: "database URL: migration ...".
        raise type(exc)(f"{action}: {exc}") from exc
    except Exception as exc:
        error = storage_error(exc, action)
        if error is None:
            raise
        raise error from exc
