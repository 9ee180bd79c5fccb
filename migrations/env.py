"""Alembic environment: one migration history for SQLite and PostgreSQL.

pricewatch calls Alembic with an open connection (``config.attributes["connection"]``); the
``alembic`` command line (developers generating revisions) gives a URL instead.
"""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection

from pricewatch.db.engine import create_engine
from pricewatch.db.tables import metadata


def run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        # SQLite cannot ALTER most things; batch mode rebuilds tables the portable way.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_from_url(url: str) -> None:
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(run)
    finally:
        await engine.dispose()


connection = context.config.attributes.get("connection")
if connection is not None:
    run(connection)
else:
    asyncio.run(_run_from_url(context.config.get_main_option("sqlalchemy.url") or ""))
