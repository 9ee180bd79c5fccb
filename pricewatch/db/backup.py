"""`pricewatch db backup`: a consistent copy of a SQLite database, taken while the daemon runs.

SQLite's online backup API copies the pages inside one read transaction; in WAL mode that
does not block the daemon's writes, and the copy holds exactly the transactions committed
when it began. PostgreSQL has its own tool for this (pg_dump); we only print its line.
"""

from __future__ import annotations

import os
import shlex
import sqlite3
from pathlib import Path

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from pricewatch.errors import ConfigError, StorageError


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite URL; None for another database."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ConfigError(f"invalid database URL: {exc}", field="database.url") from exc
    if parsed.get_backend_name() != "sqlite":
        return None
    if not parsed.database or parsed.database == ":memory:":
        raise ConfigError("an in-memory SQLite database cannot be backed up",
                          field="database.url")
    return Path(parsed.database)


def pg_dump_line(url: str, file: str) -> str:
    """The pg_dump command that backs up this PostgreSQL database (password hidden)."""
    parsed = make_url(url)
    # pg_dump reads a password from PGPASSWORD (or ~/.pgpass); none is printed here.
    bare = URL.create("postgresql", parsed.username, None, parsed.host, parsed.port,
                      parsed.database, parsed.query)
    target = bare.render_as_string(hide_password=False)
    prefix = "PGPASSWORD=... " if parsed.password else ""
    return f"{prefix}pg_dump --format=custom --file={shlex.quote(file)} {shlex.quote(target)}"


def backup_sqlite(source: Path, target: Path) -> int:
    """Copy ``source`` to ``target`` (atomically replaced); returns the pages copied. The copy
    is a single file (no -wal beside it) that restores by being copied back."""
    if not source.is_file():
        raise StorageError(f"no SQLite database at {source}")
    if target.exists() and target.resolve() == source.resolve():
        raise ConfigError(f"{target} is the database itself; name another file")
    if target.is_dir():
        raise ConfigError(f"{target} is a directory; name the backup file, e.g. "
                          f"{target / source.name}")
    partial = target.with_name(f".{target.name}.partial")
    try:
        src = sqlite3.connect(source, timeout=30)
        try:
            dst = sqlite3.connect(partial)
            try:
                src.backup(dst)  # all pages in one step: one snapshot, never restarted
                dst.execute("PRAGMA journal_mode=DELETE")
                checked = dst.execute("PRAGMA quick_check").fetchone()[0]
                pages = int(dst.execute("PRAGMA page_count").fetchone()[0])
            finally:
                dst.close()
        finally:
            src.close()
        if checked != "ok":
            raise StorageError(f"the backup failed its check: {checked}")
        os.replace(partial, target)
    except sqlite3.Error as exc:
        raise StorageError(f"backup of {source} failed: {exc}") from exc
    except OSError as exc:
        raise StorageError(f"cannot write {target}: {exc}") from exc
    finally:
        partial.unlink(missing_ok=True)
    return pages
