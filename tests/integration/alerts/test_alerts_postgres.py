"""Alert rule state on PostgreSQL survives a new engine the same way it does on SQLite (the
schema itself is compared with the models in tests/integration/test_migrations.py)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from conftest import CONFIG, T0

from pricewatch.alerts import AlertJudge
from pricewatch.config import loads
from pricewatch.db import migrate
from pricewatch.db.engine import create_engine
from pricewatch.db.repository import PendingCheck, insert_checks, sync_catalog
from pricewatch.models import Check, Outcome

pytestmark = pytest.mark.postgres
ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


async def test_no_repeat_after_restart_on_postgres(postgres_url: str) -> None:
    """A target alert fires once; a new engine on the same database does not fire it again."""
    settings = loads(CONFIG, environ={})
    offer = settings.offers()[0]
    fired = []
    for step in range(2):
        engine = create_engine(postgres_url)
        try:
            await migrate.upgrade(engine)
            async with engine.begin() as conn:
                ids = await sync_catalog(conn, [offer], T0)
            check = Check(offer.key, T0 + timedelta(hours=step), Outcome.OK,
                          price=Decimal("150.5"), currency="EUR")
            async with engine.begin() as conn:
                await insert_checks(conn, [PendingCheck(ids[offer.key], check)])
            alerts = AlertJudge.from_settings(settings, engine)
            fired.append([a.rule for a in await alerts.process_many([(offer, check)])])
        finally:
            await engine.dispose()
    assert fired == [["below"], []]
