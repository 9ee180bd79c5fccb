"""The alert judge: judge each new check against its offer's rules, remember rule state in
the database, store the alerts that fire and wake the dispatcher.

State changes and the alerts they raise are written in one transaction, so after a crash or
restart an alert is neither repeated (the rule is already disarmed) nor lost (the dispatcher
delivers stored alerts that no channel has finished with).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Protocol

from prometheus_client import CollectorRegistry, Counter
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from pricewatch.alerts.message import Alert
from pricewatch.alerts.quiet import hold_until
from pricewatch.alerts.resolve import RuleBook, rule_book
from pricewatch.alerts.rules import (
    LOWEST_EVER,
    PREVIOUS,
    Facts,
    Firing,
    Kind,
    Rule,
    State,
    evaluate,
)
from pricewatch.config import QuietHoursConfig, Settings
from pricewatch.db import alerts as alert_rows
from pricewatch.db.errors import mapped
from pricewatch.models import Check, Offer, Outcome

log = logging.getLogger(__name__)


class Waker(Protocol):
    """What the judge tells when it stored new alerts (the Dispatcher)."""

    def wake(self) -> None: ...


@dataclass(frozen=True, slots=True)
class _Judged:
    states: dict[alert_rows.StateKey, tuple[State, State]]
    alerts: list[Alert]


class AlertJudge:
    """``await judge.process_many([(offer, check), ...])`` after each check or round."""

    def __init__(
        self,
        engine: AsyncEngine,
        rules: RuleBook,
        *,
        quiet_hours: QuietHoursConfig | None = None,
        dispatcher: Waker | None = None,
        registry: CollectorRegistry | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._engine = engine
        self._rules = rules
        self._quiet = quiet_hours
        self._dispatcher = dispatcher
        self._clock = clock
        self._fired = Counter("pricewatch_alerts", "Alerts raised, by rule", ["rule"],
                              registry=registry or CollectorRegistry())

    @classmethod
    def from_settings(cls, settings: Settings, engine: AsyncEngine, *,
                      dispatcher: Waker | None = None,
                      registry: CollectorRegistry | None = None) -> AlertJudge:
        return cls(engine, rule_book(settings), quiet_hours=settings.model.alerts.quiet_hours,
                   dispatcher=dispatcher, registry=registry)

    def wants(self, offer: Offer) -> bool:
        """Whether a rule judges this offer (its own rules, or its product's cheapest-store)."""
        return bool(self._rules.rules(offer.key)) or offer.product_id in self._rules.cheapest

    def reconfigure(self, settings: Settings) -> None:
        """Apply a reloaded config: new rules and quiet hours; the stored states stay."""
        self._rules = rule_book(settings)
        self._quiet = settings.model.alerts.quiet_hours

    async def process_many(self, items: Sequence[tuple[Offer, Check]]) -> list[Alert]:
        """Judge checks in order (one transaction); returns the alerts stored."""
        items = [(o, c) for o, c in items if self.wants(o)]
        if not items:
            return []
        subjects = {o.key for o, _ in items} | {o.product_id for o, _ in items}
        with mapped("cannot judge alerts"):
            async with self._engine.begin() as conn:
                await alert_rows.lock_subjects(conn, subjects)
                states = await alert_rows.load_states(conn, subjects)
                judged = _Judged({}, [])
                for offer, check in items:
                    await self._judge(conn, offer, check, states, judged)
                await alert_rows.save_states(conn, judged.states, self._clock())
                stored = []
                for alert in judged.alerts:
                    held = hold_until(self._clock(), self._quiet)
                    alert_id = await alert_rows.insert_alert(conn, alert, held)
                    stored.append(replace(alert, id=alert_id))
        for alert in stored:
            self._fired.labels(alert.rule.split(".", 1)[0]).inc()
            log.info("alert %s: %s", alert.id, alert.title)
        if stored and self._dispatcher is not None:
            self._dispatcher.wake()
        return stored

    async def _judge(self, conn: AsyncConnection, offer: Offer, check: Check,
                     states: dict[alert_rows.StateKey, State], judged: _Judged) -> None:
        rules = self._rules.rules(offer.key)
        needs = {PREVIOUS, LOWEST_EVER, *(f for r in rules for f in r.needs)}
        facts = await alert_rows.facts(conn, offer.key, check, needs) \
            if check.outcome is Outcome.OK else {}
        now = check.observed_at
        firings: list[tuple[Firing, str]] = []
        for rule in rules:
            self._step(offer.key, rule, check, facts=facts, now=now, states=states,
                       judged=judged, firings=firings)
        cheapest_rule = self._rules.cheapest.get(offer.product_id)
        if cheapest_rule is not None and check.outcome is Outcome.OK:
            key = (offer.product_id, cheapest_rule.id)
            before = states.get(key, State())
            cheapest = await alert_rows.cheapest_store(conn, offer.product_id, check, offer.store,
                                                  before.memo)
            self._step(offer.product_id, cheapest_rule, check, facts=facts, now=now,
                       states=states, judged=judged, firings=firings, cheapest=cheapest)
        for firing, subject in firings:
            judged.alerts.append(_alert(offer, check, firing, subject, facts))

    def _step(self, subject: str, rule: Rule, check: Check, *, facts: Facts,
              now: datetime, states: dict[alert_rows.StateKey, State], judged: _Judged,
              firings: list[tuple[Firing, str]], cheapest: str | None = None) -> None:
        key = (subject, rule.id)
        before = states.get(key, State())
        after, firing = evaluate(rule, before, check, facts, now, cheapest=cheapest)
        if after != before:
            original = judged.states.get(key, (before, after))[0]
            judged.states[key] = (original, after)
            states[key] = after
        if firing is not None:
            firings.append((firing, subject))


def _alert(offer: Offer, check: Check, firing: Firing, subject: str,
           facts: Facts) -> Alert:
    previous = facts.get(PREVIOUS)
    lowest = facts.get(LOWEST_EVER)
    if check.price is not None and (lowest is None or check.price < lowest):
        lowest = check.price
    return Alert(
        rule=firing.rule.id, subject=subject, product_id=offer.product_id,
        product_name=offer.product_name, store=offer.store, url=offer.url,
        observed_at=check.observed_at, reason=firing.reason, new_price=check.price,
        currency=check.currency,
        old_price=previous,
        lowest_ever=lowest if firing.rule.kind is not Kind.CHEAPEST_STORE_CHANGED else None,
        in_stock=check.in_stock,
    )

