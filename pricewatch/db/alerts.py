"""Alert queries: rule states, the history facts rules ask for, alerts and delivery attempts.

Like ``store.repository``, every function takes an open connection and never commits.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, func, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection

from pricewatch.alerts.message import Alert
from pricewatch.alerts.rules import Fact, Facts, State
from pricewatch.db.repository import latest_checks
from pricewatch.db.tables import alert_states, alerts, checks, notifications, offers
from pricewatch.models import Check, Outcome, plain

StateKey = tuple[str, str]  # (subject, rule id)

# pg_advisory_xact_lock(int, int): this class, then the subject's hash.
_JUDGE_LOCKS = 0x70770003


async def lock_subjects(conn: AsyncConnection, subjects: Iterable[str]) -> None:
    """On PostgreSQL, hold each subject (offer key, product id) until the transaction ends, so
    replicas judging checks of one offer or product take turns: rule states are read and
    written by one at a time, and a product's cheapest store is judged after the other
    stores' checks are stored. Locks are taken in hash order (never a deadlock)."""
    wanted = sorted(set(subjects))
    if conn.dialect.name != "postgresql" or not wanted:
        return
    await conn.execute(text(
        "SELECT count(pg_advisory_xact_lock(:cls, h)) FROM (SELECT DISTINCT hashtext(s) AS h "
        "FROM unnest(CAST(:subjects AS text[])) AS s ORDER BY h) AS q"),
        {"cls": _JUDGE_LOCKS, "subjects": wanted})


async def load_states(conn: AsyncConnection, subjects: Iterable[str]) -> dict[StateKey, State]:
    query = select(alert_states).where(alert_states.c.subject.in_(list(set(subjects))))
    return {
        (row.subject, row.rule): State(armed=row.armed, memo=row.memo,
                                       last_fired_at=row.last_fired_at, stored=True)
        for row in (await conn.execute(query)).all()
    }


async def save_states(
    conn: AsyncConnection, changes: dict[StateKey, tuple[State, State]], now: datetime
) -> None:
    """Write changed states; ``changes`` maps a key to (state before, state after)."""
    new_rows = []
    for (subject, rule), (before, after) in changes.items():
        values = {"armed": after.armed, "memo": after.memo,
                  "last_fired_at": after.last_fired_at, "updated_at": now}
        if before.stored:
            await conn.execute(update(alert_states).where(
                alert_states.c.subject == subject, alert_states.c.rule == rule).values(values))
        else:
            new_rows.append({"subject": subject, "rule": rule, **values})
    if new_rows:
        await conn.execute(insert(alert_states), new_rows)


def _history(offer_key: str, check: Check) -> list[ColumnElement[bool]]:
    """Ok checks of the offer, in the check's currency, strictly before it."""
    currency = (checks.c.currency.is_(None) if check.currency is None
                else checks.c.currency == check.currency)
    return [offers.c.key == offer_key, checks.c.outcome == Outcome.OK.value, currency,
            checks.c.observed_at < check.observed_at]


async def facts(conn: AsyncConnection, offer_key: str, check: Check,
                needs: Iterable[Fact]) -> Facts:
    base = select(checks.c.price).join(offers, offers.c.id == checks.c.offer_id)
    out: Facts = {}
    for fact in set(needs):
        where = _history(offer_key, check)
        if fact.window is not None:
            where.append(checks.c.observed_at >= check.observed_at - timedelta(
                seconds=fact.window))
        value: Decimal | None
        if fact.name == "previous":
            query = base.where(*where).order_by(checks.c.observed_at.desc(),
                                                checks.c.id.desc()).limit(1)
            value = (await conn.execute(query)).scalar()
        elif fact.name == "min":
            value = (await conn.execute(
                select(func.min(checks.c.price)).join(offers, offers.c.id == checks.c.offer_id)
                .where(*where))).scalar()
        else:  # median
            prices = [Decimal(p) for p in (await conn.execute(base.where(*where))).scalars()]
            value = statistics.median(prices) if prices else None
        out[fact] = None if value is None else plain(Decimal(value))
    return out


async def cheapest_store(conn: AsyncConnection, product_id: str, check: Check,
                         store: str, previous: str | None) -> str | None:
    """The store with the lowest current price among the product's active offers, in the
    check's currency; a tie keeps the previous cheapest so the alert does not flap."""
    rows = (await conn.execute(select(offers.c.id, offers.c.store).where(
        offers.c.product_id == product_id, offers.c.active.is_(True)))).all()
    stores = {row.id: row.store for row in rows}
    latest = await latest_checks(conn, stores, ok_only=True)
    priced: dict[str, Decimal] = {stores[oid]: c.price for oid, c in latest.items()
                                  if c.currency == check.currency and c.price is not None}
    if check.price is not None:  # the check being judged may not be written yet
        priced[store] = check.price
    if len(priced) < 2:
        return None
    low = min(priced.values())
    winners = sorted(s for s, p in priced.items() if p == low)
    return previous if previous in winners else winners[0]


async def insert_alert(conn: AsyncConnection, alert: Alert, hold_until: datetime | None) -> int:
    result = await conn.execute(insert(alerts).values(
        created_at=alert.observed_at, rule=alert.rule, subject=alert.subject,
        product_id=alert.product_id, title=alert.title, body=alert.body,
        payload=json.dumps(alert.payload(), ensure_ascii=False), hold_until=hold_until,
        done=False,
    ).returning(alerts.c.id))
    return int(result.scalar_one())


@dataclass
class Pending:
    """A stored alert that some channel has not finished with."""

    id: int
    title: str
    body: str
    payload: dict[str, Any]
    held: bool
    attempts: dict[str, int] = field(default_factory=dict)  # channel -> attempts so far
    finished: set[str] = field(default_factory=set)  # channels that sent or failed for good


async def due_alerts(conn: AsyncConnection, now: datetime, *, skip: Iterable[int] = (),
                     limit: int = 500) -> list[Pending]:
    query = (select(alerts).where(alerts.c.done.is_(False),
                                  (alerts.c.hold_until.is_(None)) | (alerts.c.hold_until <= now))
             .order_by(alerts.c.id).limit(limit))
    skipped = list(skip)
    if skipped:
        query = query.where(alerts.c.id.not_in(skipped))
    found = {row.id: Pending(row.id, row.title, row.body, json.loads(row.payload),
                             held=row.hold_until is not None)
             for row in (await conn.execute(query)).all()}
    if found:
        attempts = await conn.execute(
            select(notifications.c.alert_id, notifications.c.channel, notifications.c.status)
            .where(notifications.c.alert_id.in_(list(found))))
        for alert_id, channel, status in attempts.all():
            pending = found[alert_id]
            pending.attempts[channel] = pending.attempts.get(channel, 0) + 1
            if status in ("sent", "failed"):
                pending.finished.add(channel)
    return list(found.values())


async def log_attempt(conn: AsyncConnection, alert_ids: Sequence[int], *, channel: str,
                      attempt: int, status: str, error: str | None, digest: bool,
                      now: datetime) -> None:
    await conn.execute(insert(notifications), [
        {"alert_id": i, "channel": channel, "attempt": attempt, "status": status,
         "digest": digest, "error": error, "created_at": now} for i in alert_ids])


async def mark_done(conn: AsyncConnection, alert_ids: Sequence[int]) -> None:
    if alert_ids:
        await conn.execute(update(alerts).where(alerts.c.id.in_(list(alert_ids)))
                           .values(done=True))


@dataclass(frozen=True, slots=True)
class Delivery:
    channel: str
    status: str
    attempts: int
    error: str | None
    digest: bool


@dataclass(frozen=True, slots=True)
class Recent:
    id: int
    created_at: datetime
    rule: str
    subject: str
    title: str
    hold_until: datetime | None
    done: bool
    deliveries: tuple[Delivery, ...]


async def recent_alerts(conn: AsyncConnection, *, limit: int = 20) -> list[Recent]:
    """The newest alerts with the last delivery attempt per channel."""
    rows = (await conn.execute(select(alerts).order_by(alerts.c.id.desc()).limit(limit))).all()
    ids = [row.id for row in rows]
    per: dict[int, dict[str, Delivery]] = {i: {} for i in ids}
    if ids:
        attempts = await conn.execute(select(notifications).where(
            notifications.c.alert_id.in_(ids)).order_by(notifications.c.id))
        for n in attempts.all():
            per[n.alert_id][n.channel] = Delivery(n.channel, n.status, n.attempt, n.error,
                                                  n.digest)
    return [Recent(row.id, row.created_at, row.rule, row.subject, row.title, row.hold_until,
                   row.done, tuple(per[row.id].values())) for row in rows]
