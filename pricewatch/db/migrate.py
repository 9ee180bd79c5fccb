"""Applying the shipped Alembic migrations and detecting drift from ``tables.py``."""

from __future__ import annotations

from importlib import resources
from typing import TYPE_CHECKING, Any

from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from pricewatch.db.errors import mapped
from pricewatch.db.tables import metadata
from pricewatch.errors import StorageError, StorageUnavailable

if TYPE_CHECKING:
    from alembic.config import Config

# The newest shipped revision (a test keeps it equal to the scripts' head). Every start of
# `run` or `once` checks the database against it with one query; Alembic (with Mako, held in
# RSS for the life of the process) is imported only when there is something to upgrade.
HEAD = "0008"


def alembic_config() -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(resources.files("pricewatch.migrations")))
    return cfg


def head_revision() -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config()).get_current_head()


async def current(engine: AsyncEngine) -> str | None:
    """The stored schema revision (None: an empty database)."""
    return await _stored_revision(engine)


async def upgrade(engine: AsyncEngine, revision: str = "head", *, replay: bool = False) -> None:
    """Bring the database to ``revision`` (idempotent). An empty database gets the newest
    schema directly unless ``replay`` asks for every migration script to run."""
    if revision == "head":
        stored = await _stored_revision(engine)
        if stored == HEAD:
            return
        if stored is None and not replay and await _create_fresh(engine):
            return

    def run(connection: Connection) -> None:
        from alembic import command

        cfg = alembic_config()
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, revision)

    with mapped("migration failed"):
        async with engine.begin() as conn:
            await conn.run_sync(run)


async def _create_fresh(engine: AsyncEngine) -> bool:
    """An empty database gets the models' schema in one transaction, stamped HEAD, without
    Alembic (its import and the replay of every script are most of a first ``once``'s
    start-up; docs/performance.md measures it). Equivalent because the migrations must
    produce exactly the models' schema (tests/integration/test_migrations.py compares them);
    a future migration that adds what the models cannot express (data, triggers) must drop
    this path. False when the database is not empty (then Alembic decides)."""

    def run(connection: Connection) -> bool:
        from sqlalchemy import Column, MetaData, PrimaryKeyConstraint, String, Table, inspect

        if inspect(connection).get_table_names():
            return False
        metadata.create_all(connection)
        version = Table("alembic_version", MetaData(),
                        Column("version_num", String(32), nullable=False),
                        PrimaryKeyConstraint("version_num", name="alembic_version_pkc"))
        version.create(connection)
        connection.execute(version.insert().values(version_num=HEAD))
        return True

    with mapped("creating the schema failed"):
        async with engine.begin() as conn:
            return await conn.run_sync(run)


async def _stored_revision(engine: AsyncEngine) -> str | None:
    """The revision in ``alembic_version``, or None when there is none (a new database)."""
    try:
        with mapped("cannot read the schema revision"):
            async with engine.connect() as conn:
                rows = (await conn.execute(text("SELECT version_num FROM alembic_version"))
                        ).all()
    except StorageUnavailable:
        raise
    except StorageError:
        return None  # no table yet: a new database
    return rows[0][0] if len(rows) == 1 else None


async def current_revision(engine: AsyncEngine) -> str | None:
    def run(connection: Connection) -> str | None:
        from alembic.runtime.migration import MigrationContext

        return MigrationContext.configure(connection).get_current_revision()

    with mapped("cannot read the schema revision"):
        async with engine.connect() as conn:
            return await conn.run_sync(run)


async def drift(engine: AsyncEngine) -> list[Any]:
    """Differences between the migrated database and ``tables.metadata`` (empty when in sync)."""

    def run(connection: Connection) -> list[Any]:
        from alembic.autogenerate import compare_metadata
        from alembic.runtime.migration import MigrationContext

        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, metadata))

    with mapped("cannot compare the schema"):
        async with engine.connect() as conn:
            return await conn.run_sync(run)


def describe_drift(diffs: list[Any]) -> list[str]:
    """One line per difference ``drift`` found, in words: what the database has or lacks."""
    lines: list[str] = []
    for diff in diffs:
        if isinstance(diff, list):  # one column's modifications come grouped
            lines.extend(describe_drift(diff))
            continue
        op = diff[0]
        if op in ("add_table", "remove_table"):
            name = diff[1].name
            lines.append(f"table {name}: in the models, missing from the database"
                         if op == "add_table" else
                         f"table {name}: in the database, not in the models")
        elif op in ("add_column", "remove_column"):
            where = f"{diff[2]}.{diff[3].name}"
            lines.append(f"column {where}: in the models, missing from the database"
                         if op == "add_column" else
                         f"column {where}: in the database, not in the models")
        elif op in ("add_index", "remove_index", "add_constraint", "remove_constraint",
                    "add_fk", "remove_fk"):
            thing = diff[1]
            kind = op.split("_", 1)[1].replace("fk", "foreign key")
            table = getattr(getattr(thing, "table", None), "name", "?")
            side = ("in the models, missing from the database" if op.startswith("add")
                    else "in the database, not in the models")
            lines.append(f"{kind} {thing.name or '(unnamed)'} on {table}: {side}")
        elif op.startswith("modify_"):
            _, _, table, column, _, old, new = diff
            what = op.removeprefix("modify_")
            lines.append(f"column {table}.{column}: {what} is {old!r} in the database, "
                         f"{new!r} in the models")
        else:
            lines.append(repr(diff))
    return lines
