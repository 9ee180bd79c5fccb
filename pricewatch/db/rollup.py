"""Each offer's good checks summed up per UTC day (``check_days``), kept by ``insert_checks``
in the same transaction as the checks, so the rows can never disagree.

A day keeps its number of checks, lowest and highest price, first and last check (time and
price) and how many said out of stock: enough for ``db.history`` to draw a long range from
days instead of every check while keeping every minimum and maximum. One upsert per offer,
currency and day of a batch; a day that spans batches is merged in SQL (lower low, higher
high, earlier first, later last).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import case
from sqlalchemy.ext.asyncio import AsyncConnection

from pricewatch.db.engine import dialect_insert
from pricewatch.db.tables import check_days
from pricewatch.models import Check, Outcome

DAY = 86400


def day_of(at: datetime) -> int:
    """The UTC day of a timezone-aware time: whole days since 1970-01-01."""
    return int(at.timestamp() // DAY)


@dataclass(slots=True)
class _Day:
    checks: int
    low: Decimal
    high: Decimal
    first_at: datetime
    first_price: Decimal
    last_at: datetime
    last_price: Decimal
    sold_out: int


def summarize(rows: Iterable[tuple[int, Check]]) -> dict[tuple[int, str, int], _Day]:
    """A batch's good checks ``(offer id, check)`` per (offer id, currency, day)."""
    days: dict[tuple[int, str, int], _Day] = {}
    for oid, c in rows:
        if c.outcome is not Outcome.OK or c.price is None or c.currency is None:
            continue
        key = (oid, c.currency, day_of(c.observed_at))
        out = 1 if c.in_stock is False else 0
        d = days.get(key)
        if d is None:
            days[key] = _Day(1, c.price, c.price, c.observed_at, c.price, c.observed_at,
                             c.price, out)
            continue
        d.checks += 1
        d.sold_out += out
        d.low = min(d.low, c.price)
        d.high = max(d.high, c.price)
        if c.observed_at < d.first_at:
            d.first_at, d.first_price = c.observed_at, c.price
        if c.observed_at >= d.last_at:
            d.last_at, d.last_price = c.observed_at, c.price
    return days


def _upsert(dialect: str) -> Any:
    stmt = dialect_insert(dialect)(check_days)
    new, old = stmt.excluded, check_days.c
    earlier = new.first_at < old.first_at
    later = new.last_at >= old.last_at  # a later batch wins a tie, as a later id would
    return stmt.on_conflict_do_update(
        index_elements=[old.offer_id, old.currency, old.day],
        set_={"checks": old.checks + new.checks,
              "low": case((new.low < old.low, new.low), else_=old.low),
              "high": case((new.high > old.high, new.high), else_=old.high),
              "first_at": case((earlier, new.first_at), else_=old.first_at),
              "first_price": case((earlier, new.first_price), else_=old.first_price),
              "last_at": case((later, new.last_at), else_=old.last_at),
              "last_price": case((later, new.last_price), else_=old.last_price),
              "sold_out": old.sold_out + new.sold_out})


async def add_days(conn: AsyncConnection, rows: Iterable[tuple[int, Check]]) -> None:
    """Fold a batch's good checks into ``check_days`` (inside the caller's transaction)."""
    days = summarize(rows)
    if not days:
        return
    await conn.execute(_upsert(conn.dialect.name), [
        {"offer_id": oid, "currency": currency, "day": day, "checks": d.checks, "low": d.low,
         "high": d.high, "first_at": d.first_at, "first_price": d.first_price,
         "last_at": d.last_at, "last_price": d.last_price, "sold_out": d.sold_out}
        for (oid, currency, day), d in days.items()])
