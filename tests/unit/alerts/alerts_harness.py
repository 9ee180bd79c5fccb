"""A real SQLite database, a catalogue from a config text, and an AlertJudge fed one check at
a time (the check is stored first, as a round does). Shared by the alert tests."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from pricewatch.alerts import Alert, AlertJudge
from pricewatch.alerts.judge import Waker
from pricewatch.config import Settings, loads
from pricewatch.db import migrate
from pricewatch.db.engine import create_engine
from pricewatch.db.repository import PendingCheck, insert_checks, sync_catalog
from pricewatch.models import Check, Offer, Outcome

T0 = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Step:
    """One check: an outcome, maybe a price and stock state, for one offer."""

    outcome: Outcome = Outcome.OK
    price: str | None = None
    in_stock: bool | None = None
    offer: int = 0
    currency: str = "EUR"


def ok(price: str, in_stock: bool | None = None, *, offer: int = 0, currency: str = "EUR"
       ) -> Step:
    return Step(Outcome.OK, price, in_stock, offer, currency)


def failed(outcome: Outcome, in_stock: bool | None = None, *, offer: int = 0) -> Step:
    return Step(outcome, None, in_stock, offer)


RESTART = Step(Outcome.CANCELLED, offer=-1)  # a marker: a new engine on the same file


def config_text(rules: str, *, offers: int = 1, product_rules: str = "") -> str:
    urls = "\n".join(f"      - url: http://127.0.0.1:9/p{i}\n        store: shop{i}"
                     for i in range(offers))
    product = f"    alerts: {product_rules}\n" if product_rules else ""
    return (f"alerts:\n  rules: {rules}\nproducts:\n  - id: phone\n    name: Phone X\n"
            f"{product}    offers:\n{urls}\n")


class Harness:
    def __init__(self, tmp_path: Path, text: str, *, waker: Waker | None = None,
                 clock_start: datetime = T0) -> None:
        self.path = tmp_path / "alerts.db"
        self.settings: Settings = loads(text, environ={})
        self.offers: list[Offer] = self.settings.offers()
        self.now = clock_start
        self.waker = waker
        self.db: AsyncEngine | None = None
        self.alerts: AlertJudge | None = None
        self.ids: dict[str, int] = {}

    @property
    def url(self) -> str:
        return f"sqlite:///{self.path}"

    async def open(self) -> None:
        self.db = create_engine(self.url)
        await migrate.upgrade(self.db)
        async with self.db.begin() as conn:
            self.ids = await sync_catalog(conn, self.offers, T0)
        self.alerts = AlertJudge.from_settings(self.settings, self.db, dispatcher=self.waker)
        self.alerts._clock = lambda: self.now  # quiet hours follow the test's clock

    async def close(self) -> None:
        if self.db is not None:
            await self.db.dispose()
            self.db = None

    async def feed(self, step: Step) -> list[Alert]:
        """Store the check, judge it, advance the clock an hour; returns the alerts raised."""
        assert self.db is not None
        assert self.alerts is not None
        if step is RESTART:
            await self.close()
            await self.open()
            return []
        offer = self.offers[step.offer]
        ok_check = step.outcome is Outcome.OK
        check = Check(offer.key, self.now, step.outcome,
                      price=Decimal(step.price) if step.price is not None else None,
                      currency=step.currency if ok_check else None, in_stock=step.in_stock)
        async with self.db.begin() as conn:
            await insert_checks(conn, [PendingCheck(self.ids[offer.key], check)])
        raised = await self.alerts.process_many([(offer, check)])
        self.now += timedelta(hours=1)
        return raised
