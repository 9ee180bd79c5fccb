"""Pure alert rules: (rule, state, check, facts) -> new state and maybe a firing.

No I/O here. The judge gathers the facts a rule asks for (``Rule.needs``) from the stored
history, calls ``evaluate`` and persists the new state; that split keeps every rule testable
as a table of checks in and alerts out.

Every rule follows one life cycle: it is *armed*; when its condition becomes true it fires once
and disarms; it re-arms when the condition clears (for ``below``: when the price rises above the
target plus the hysteresis). Rules whose baseline moves with the price (``new_low``, a change
vs the previous price) compare each check with a new baseline, so they stay armed: every new
low and every new drop fires (``cooldown`` limits how often).

Only ``ok`` checks are judged. A failed check changes nothing, with one exception: a page that
loaded and said "out of stock" without a price re-arms ``back_in_stock`` (out-of-stock pages
often hide the price; that is not a fetch failure).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from pricewatch.models import Check, Outcome


class Kind(StrEnum):
    BELOW = "below"
    DROP_PERCENT = "drop_percent"
    RISE_PERCENT = "rise_percent"
    NEW_LOW = "new_low"
    BACK_IN_STOCK = "back_in_stock"
    CHEAPEST_STORE_CHANGED = "cheapest_store_changed"


@dataclass(frozen=True, slots=True)
class Fact:
    """A number the judge looks up before evaluating: over ok checks of the same currency,
    strictly before the check being judged; ``window`` in seconds (None: all history)."""

    name: str  # "previous" (last price), "min", "median"
    window: float | None = None


PREVIOUS = Fact("previous")
LOWEST_EVER = Fact("min")


@dataclass(frozen=True, slots=True)
class Rule:
    """One resolved rule of one offer (or product, for cheapest_store_changed)."""

    kind: Kind
    against: str | None = None  # "previous" or "median" for the percentage rules
    threshold: Decimal | None = None  # the target price, or a percentage
    currency: str | None = None  # the target's currency (below)
    hysteresis_percent: Decimal = Decimal(0)
    window: float | None = None  # seconds: median window, new_low window
    cooldown: float | None = None  # seconds

    @property
    def id(self) -> str:
        """Stable name of the rule's state row; changing a threshold keeps the state."""
        return f"{self.kind.value}.{self.against}" if self.against else self.kind.value

    @property
    def needs(self) -> tuple[Fact, ...]:
        if self.kind in (Kind.DROP_PERCENT, Kind.RISE_PERCENT):
            return (PREVIOUS,) if self.against == "previous" else (Fact("median", self.window),)
        if self.kind is Kind.NEW_LOW:
            return (Fact("min", self.window),)
        return ()


@dataclass(frozen=True, slots=True)
class State:
    """What a rule remembers between checks (a row of ``alert_states``)."""

    armed: bool = True
    memo: str | None = None
    last_fired_at: datetime | None = None
    stored: bool = False  # False: the rule has never seen a check of this subject


@dataclass(frozen=True, slots=True)
class Firing:
    """A rule fired: the reference it compared against and a short reason."""

    rule: Rule
    reference: Decimal | None  # the old price / target / median / previous low
    reason: str
    memo: str | None = None  # cheapest_store_changed: the store that was cheapest before


Facts = dict[Fact, Decimal | None]


def evaluate(
    rule: Rule, state: State, check: Check, facts: Facts, now: datetime,
    *, cheapest: str | None = None,
) -> tuple[State, Firing | None]:
    """The rule's new state after ``check`` and the firing it causes, if any."""
    if rule.kind is Kind.CHEAPEST_STORE_CHANGED:
        return _cheapest(rule, state, check, now, cheapest)
    if check.outcome is not Outcome.OK:
        if rule.kind is Kind.BACK_IN_STOCK and check.outcome is Outcome.NO_PRICE \
                and check.in_stock is False:
            return replace(state, armed=True, stored=True), None
        return state, None
    assert check.price is not None  # an ok check always carries a price (models.Check)
    price = check.price
    if rule.kind is Kind.BACK_IN_STOCK:
        if check.in_stock is None:
            return state, None
        if not state.stored:  # first sight: "back" needs an out-of-stock observation first
            return State(armed=not check.in_stock, stored=True), None
        return _transition(rule, state, now, condition=check.in_stock, rearm=not check.in_stock,
                           reference=None, reason="back in stock")
    if rule.kind is Kind.BELOW:
        if rule.threshold is None or (rule.currency and check.currency != rule.currency):
            return state, None
        target = rule.threshold
        rearm_above = target * (1 + rule.hysteresis_percent / 100)
        return _transition(rule, state, now, condition=price <= target,
                           rearm=price > rearm_above, reference=target,
                           reason=f"at or below the target {target}")
    if rule.kind is Kind.NEW_LOW:
        low = facts.get(rule.needs[0])
        if low is None:  # the first price is trivially the lowest; not news
            return replace(state, stored=True), None
        span = "ever" if rule.window is None else f"in {_days(rule.window)}"
        return _transition(rule, state, now, condition=price < low, rearm=True,
                           reference=low, reason=f"lowest price {span}, was {low}")
    # drop_percent / rise_percent
    reference = facts.get(rule.needs[0])
    if reference is None or reference <= 0 or rule.threshold is None:
        return replace(state, stored=True), None
    change = percent_change(reference, price)
    if rule.kind is Kind.DROP_PERCENT:
        condition = change <= -rule.threshold
        reason = f"down {-change:.1f}% vs the {_against(rule)}"
    else:
        condition = change >= rule.threshold
        reason = f"up {change:.1f}% vs the {_against(rule)}"
    return _transition(rule, state, now, condition=condition,
                       rearm=not condition or rule.against == "previous",
                       reference=reference, reason=reason)


def percent_change(old: Decimal, new: Decimal) -> Decimal:
    return (new - old) / old * 100


def _transition(
    rule: Rule, state: State, now: datetime, *, condition: bool, rearm: bool,
    reference: Decimal | None, reason: str,
) -> tuple[State, Firing | None]:
    if condition and state.armed:
        if _cooling(rule, state, now):
            # Stay armed: the alert comes on the first check after the cooldown, if still true.
            return replace(state, stored=True), None
        # A rule whose baseline moves with the price (new low, change vs the previous price)
        # re-arms at once: the next lower low or the next drop is news again.
        fired = State(armed=rearm, memo=state.memo, last_fired_at=now, stored=True)
        return fired, Firing(rule, reference, reason)
    if not condition and rearm and not state.armed:
        return replace(state, armed=True, stored=True), None
    return replace(state, stored=True), None


def _cheapest(
    rule: Rule, state: State, check: Check, now: datetime, cheapest: str | None
) -> tuple[State, Firing | None]:
    if check.outcome is not Outcome.OK or cheapest is None or cheapest == state.memo:
        return state, None
    if state.memo is None or _cooling(rule, state, now):
        return State(armed=True, memo=cheapest, last_fired_at=state.last_fired_at,
                     stored=True), None
    new = State(armed=True, memo=cheapest, last_fired_at=now, stored=True)
    return new, Firing(rule, None, f"now cheapest at {cheapest} (was {state.memo})",
                       memo=state.memo)


def _cooling(rule: Rule, state: State, now: datetime) -> bool:
    return bool(rule.cooldown and state.last_fired_at is not None
                and (now - state.last_fired_at).total_seconds() < rule.cooldown)


def _against(rule: Rule) -> str:
    if rule.against == "median":
        return f"{_days(rule.window or 0).replace(' days', '-day').replace(' day', '-day')} median"
    return "previous price"


def _days(seconds: float) -> str:
    days = seconds / 86400
    return f"{days:g} days" if days != 1 else "1 day"
