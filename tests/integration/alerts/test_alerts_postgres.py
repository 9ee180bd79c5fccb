"""The alert tables on PostgreSQL: the migration matches the models, and rule state survives
a new engine the same way it does on SQLite."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from decimal import Decimal

import asyncpg
import pytest
from conftest import CONFIG, T0

from pricewatch.alerts import AlertEngine
from pricewatch.config import loads
from pricewatch.models import Check, Outcome
from pricewatch.store import migrate
from pricewatch.store.engine import create_engine
from pricewatch.store.repository import PendingCheck, insert_checks, sync_catalog

pytestmark = pytest.mark.postgres
ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


@pytest.fixture
async def pg_url() -> AsyncIterator[str]:
    try:
        admin = await asyncpg.connect(ADMIN, timeout=5)
    except (OSError, asyncpg.PostgresError) as exc:
        if os.environ.get("PRICEWATCH_REQUIRE_POSTGRES"):
            raise
        pytest.skip(f"PostgreSQL at 127.0.0.1:5432 is not reachable: {exc}")
    name = f"pw_alerts_{uuid.uuid4().hex[:10]}"
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def test_migration_matches_models_on_postgres(pg_url: str) -> None:
    """After upgrading to head, the alert tables equal tables.py (no drift)."""
    engine = create_engine(pg_url)
    try:
        await migrate.upgrade(engine)
        assert await migrate.current_revision(engine) == "0002"
        assert await migrate.drift(engine) == []
    finally:
        await engine.dispose()


async def test_no_repeat_after_restart_on_postgres(pg_url: str) -> None:
    """A target alert fires once; a new engine on the same database does not fire it again."""
    settings = loads(CONFIG, environ={})
    offer = settings.offers()[0]
    fired = []
    for step in range(2):
        engine = create_engine(pg_url)
        try:
            await migrate.upgrade(engine)
            async with engine.begin() as conn:
                ids = await sync_catalog(conn, [offer], T0)
            check = Check(offer.key, T0 + timedelta(hours=step), Outcome.OK,
                          price=Decimal("150.5"), currency="EUR")
            async with engine.begin() as conn:
                await insert_checks(conn, [PendingCheck(ids[offer.key], check)])
            alerts = AlertEngine.from_settings(settings, engine)
            fired.append([a.rule for a in await alerts.process(offer, check)])
        finally:
            await engine.dispose()
    assert fired == [["below"], []]
