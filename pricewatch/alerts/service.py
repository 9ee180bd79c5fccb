"""The alert judge and its dispatcher wired together, as a process uses them.

``pricewatch once`` and the daemon both do::

    async with AlertService(settings, engine, registry=registry) as alerts:
        ...
        await alerts.process_many([(offer, check), ...])   # after each check or round

Leaving the block delivers what is due (bounded by ``grace``); anything still undelivered
stays in the database and is sent by the next process.
"""

from __future__ import annotations

from collections.abc import Sequence
from types import TracebackType

from prometheus_client import CollectorRegistry
from sqlalchemy.ext.asyncio import AsyncEngine

from pricewatch.alerts.dispatch import Claim, Dispatcher
from pricewatch.alerts.judge import AlertJudge
from pricewatch.alerts.message import Alert
from pricewatch.config import Settings
from pricewatch.models import Check, Offer


class AlertService:
    def __init__(self, settings: Settings, engine: AsyncEngine, *,
                 registry: CollectorRegistry | None = None, grace: float = 30.0,
                 claim: Claim | None = None, poll_interval: float = 30.0) -> None:
        self.enabled = settings.model.alerts.enabled
        registry = registry or CollectorRegistry()
        # Built first: an apprise URL apprise cannot read fails before any page is fetched.
        self.dispatcher = Dispatcher.from_settings(settings, engine, registry=registry,
                                                   claim=claim, poll_interval=poll_interval)
        self.judge = AlertJudge.from_settings(settings, engine, dispatcher=self.dispatcher,
                                                registry=registry)
        self._grace = grace

    def reconfigure(self, settings: Settings) -> None:
        """Apply a reloaded config; raises (changing nothing) if its channels are unusable."""
        self.dispatcher.reconfigure(settings)
        self.judge.reconfigure(settings)
        self.enabled = settings.model.alerts.enabled
        if self.enabled:
            self.dispatcher.start()

    def wants(self, offer: Offer) -> bool:
        """Whether any alert rule judges this offer's checks."""
        return self.enabled and self.judge.wants(offer)

    async def process_many(self, items: Sequence[tuple[Offer, Check]]) -> list[Alert]:
        if not self.enabled:
            return []
        return await self.judge.process_many(items)

    async def __aenter__(self) -> AlertService:
        if self.enabled:
            self.dispatcher.start()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        await self.dispatcher.close(grace=self._grace, drain=self.enabled)
