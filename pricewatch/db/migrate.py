"""Applying the shipped Alembic migrations and detecting drift from ``tables.py``."""

from __future__ import annotations

from importlib import resources
from typing import TYPE_CHECKING, Any

from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from pricewatch.db.tables import metadata
from pricewatch.errors import StorageError

if TYPE_CHECKING:
    from alembic.config import Config

# The newest shipped revision (a test keeps it equal to the scripts' head). Every start of
# `run` or `once` checks the database against it with one query; Alembic (with Mako, 11 MB
# of RSS for the life of the process) is imported only when there is something to upgrade.
HEAD = "0005"


def alembic_config() -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(resources.files("pricewatch.migrations")))
    return cfg


def head_revision() -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config()).get_current_head()


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    """Bring the database to ``revision`` (idempotent)."""
    if revision == "head" and await _stored_revision(engine) == HEAD:
        return

    def run(connection: Connection) -> None:
        from alembic import command

        cfg = alembic_config()
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, revision)

    try:
        async with engine.begin() as conn:
            await conn.run_sync(run)
    except SQLAlchemyError as exc:
        raise StorageError(f"migration failed: {exc}") from exc


async def _stored_revision(engine: AsyncEngine) -> str | None:
    """The revision in ``alembic_version``, or None when there is none (a new database)."""
    try:
        async with engine.connect() as conn:
            rows = (await conn.execute(text("SELECT version_num FROM alembic_version"))).all()
    except SQLAlchemyError:
        return None  # no table yet; the upgrade that follows reports real connection errors
    return rows[0][0] if len(rows) == 1 else None


async def current_revision(engine: AsyncEngine) -> str | None:
    def run(connection: Connection) -> str | None:
        from alembic.runtime.migration import MigrationContext

        return MigrationContext.configure(connection).get_current_revision()

    async with engine.connect() as conn:
        return await conn.run_sync(run)


async def drift(engine: AsyncEngine) -> list[Any]:
    """Differences between the migrated database and ``tables.metadata`` (empty when in sync)."""

    def run(connection: Connection) -> list[Any]:
        from alembic.autogenerate import compare_metadata
        from alembic.runtime.migration import MigrationContext

        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, metadata))

    async with engine.connect() as conn:
        return await conn.run_sync(run)
