"""Reading the whole history for the web UI: the overview's per-offer statistics, an offer's
price series downsampled in SQL, recent checks and alerts.

Every query is built from the SQLAlchemy columns of ``db.tables`` (so a change of the price
column's storage type flows through its bind and result processing) and is served by an
index: per-offer statistics are correlated look-ups on ``(offer_id, observed_at)`` and
``(offer_id, outcome, price)``, never a scan of the whole table. Like ``db.repository``, every
function takes an open connection and never commits.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Float, Integer, Select, and_, func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from pricewatch.db.repository import _check
from pricewatch.db.tables import alerts, checks, offers, products
from pricewatch.db.writer import classify
from pricewatch.errors import StorageUnavailable
from pricewatch.models import Check, Outcome, plain

OK = Outcome.OK.value


class epoch(FunctionElement[float]):
    """Seconds since 1970 of a UTC timestamp column, on SQLite and PostgreSQL."""

    type = Float()
    inherit_cache = True


@compiles(epoch, "sqlite")
def _epoch_sqlite(element: epoch, compiler: SQLCompiler, **kw: Any) -> str:
    # SQLite stores the naive UTC text that UTCDateTime writes; julianday() parses it.
    return f"((julianday({compiler.process(element.clauses, **kw)}) - 2440587.5) * 86400.0)"


@compiles(epoch, "postgresql")
def _epoch_pg(element: epoch, compiler: SQLCompiler, **kw: Any) -> str:
    return f"extract(epoch from {compiler.process(element.clauses, **kw)})"


def _price(value: Any) -> Decimal | None:
    return None if value is None else plain(Decimal(value))


# --- the overview ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OfferStats:
    """One offer with its newest check, newest good check and lowest/highest price ever."""

    id: int
    key: str
    product_id: str
    product_name: str
    store: str
    url: str
    title: str | None
    last: Check | None  # the newest check, whatever its outcome
    priced: Check | None  # the newest ok check
    low: Decimal | None  # lowest/highest ok price ever, in the priced check's currency
    high: Decimal | None


def _extreme(fn: Any, priced: Any) -> Any:
    inner = checks.alias("extreme")
    return (select(fn(inner.c.price))
            .where(inner.c.offer_id == offers.c.id, inner.c.outcome == OK,
                   inner.c.currency == priced.c.currency)
            .scalar_subquery())


async def offer_stats(conn: AsyncConnection, *, active_only: bool = True,
                      product_id: str | None = None) -> list[OfferStats]:
    """Every (active) offer with its newest check, newest good check and lowest and highest
    price ever: one statement of correlated index look-ups, so it costs per offer, not per
    stored check."""
    last = checks.alias("last")
    priced = checks.alias("priced")
    newest_any = checks.alias("n_any")
    newest_ok = checks.alias("n_ok")
    last_id = (select(newest_any.c.id).where(newest_any.c.offer_id == offers.c.id)
               .order_by(newest_any.c.observed_at.desc(), newest_any.c.id.desc()).limit(1)
               .correlate(offers).scalar_subquery())
    ok_id = (select(newest_ok.c.id).where(newest_ok.c.offer_id == offers.c.id,
                                          newest_ok.c.outcome == OK)
             .order_by(newest_ok.c.observed_at.desc(), newest_ok.c.id.desc()).limit(1)
             .correlate(offers).scalar_subquery())
    low = _extreme(func.min, priced)
    high = _extreme(func.max, priced)
    query = (
        select(offers.c.id, offers.c.key, offers.c.product_id, products.c.name.label("pname"),
               offers.c.store, offers.c.url, offers.c.title,
               *[c.label(f"l_{c.name}") for c in last.c],
               *[c.label(f"p_{c.name}") for c in priced.c],
               low.label("low"), high.label("high"))
        .join(products, products.c.id == offers.c.product_id)
        .outerjoin(last, last.c.id == last_id)
        .outerjoin(priced, priced.c.id == ok_id)
        .order_by(products.c.name, offers.c.product_id, offers.c.store)
    )
    if active_only:
        query = query.where(offers.c.active.is_(True))
    if product_id is not None:
        query = query.where(offers.c.product_id == product_id)
    out = []
    for row in (await conn.execute(query)).all():
        m = row._mapping
        out.append(OfferStats(
            id=row.id, key=row.key, product_id=row.product_id, product_name=row.pname,
            store=row.store, url=row.url, title=row.title,
            last=_prefixed(row.key, m, "l_"), priced=_prefixed(row.key, m, "p_"),
            low=_price(row.low), high=_price(row.high)))
    return out


class _Row:
    """Attribute access to the ``prefix``-named columns of a joined row, for ``_check``."""

    def __init__(self, mapping: Any, prefix: str) -> None:
        self._m = mapping
        self._p = prefix

    def __getattr__(self, name: str) -> Any:
        return self._m[f"{self._p}{name}"]


def _prefixed(key: str, mapping: Any, prefix: str) -> Check | None:
    if mapping[f"{prefix}id"] is None:
        return None
    return _check(key, _Row(mapping, prefix))  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class OfferDetail:
    """What the overview shows for an offer on the current page beyond ``OfferStats``."""

    low_at: datetime | None  # when the lowest/highest price was last seen
    high_at: datetime | None
    previous: Decimal | None  # the last price before the current one (within the window)
    ago_30d: Decimal | None  # the price 30 days ago (the newest good check before then)
    spark: tuple[Point, ...]


async def offer_details(conn: AsyncConnection, stats: Sequence[OfferStats], now: datetime,
                        *, spark_points: int = 48, lookback: int = 500) -> dict[int, OfferDetail]:
    """Details for a page of offers: a few index look-ups per offer plus one downsampled
    30-day series each. ``previous`` is looked for among the newest ``lookback`` good checks,
    so an offer whose price has not moved in years costs no more than one that moves daily."""
    out: dict[int, OfferDetail] = {}
    month = now - timedelta(days=30)
    series = await downsampled(conn, [s.id for s in stats if s.priced is not None], month, now,
                               max_points=spark_points)
    sparks: dict[int, tuple[Point, ...]] = {}
    for one in series:
        if (one.offer_id not in sparks
                and one.currency == _currency(stats, one.offer_id)):
            sparks[one.offer_id] = one.points
    for s in stats:
        if s.priced is None:
            out[s.id] = OfferDetail(None, None, None, None, ())
            continue
        currency = s.priced.currency
        good = [checks.c.offer_id == s.id, checks.c.outcome == OK, checks.c.currency == currency]
        low_at = (await conn.execute(
            select(func.max(checks.c.observed_at)).where(*good, checks.c.price == s.low)
        )).scalar()
        high_at = (await conn.execute(
            select(func.max(checks.c.observed_at)).where(*good, checks.c.price == s.high)
        )).scalar()
        recent = (select(checks.c.price).where(*good)
                  .order_by(checks.c.observed_at.desc(), checks.c.id.desc())
                  .limit(lookback).subquery())
        previous = (await conn.execute(
            select(recent.c.price).where(recent.c.price != s.priced.price).limit(1))).scalar()
        ago = (await conn.execute(
            select(checks.c.price).where(*good, checks.c.observed_at <= month)
            .order_by(checks.c.observed_at.desc(), checks.c.id.desc()).limit(1))).scalar()
        out[s.id] = OfferDetail(low_at, high_at, _price(previous), _price(ago),
                                sparks.get(s.id, ()))
    return out


def _currency(stats: Sequence[OfferStats], offer_id: int) -> str | None:
    for s in stats:
        if s.id == offer_id:
            return None if s.priced is None else s.priced.currency
    return None


# --- one offer's series ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Point:
    """One point of a price series (a real check, or a bucket's first/lowest/highest/last)."""

    at: datetime
    price: Decimal
    in_stock: bool | None


@dataclass(frozen=True, slots=True)
class Series:
    """The good checks of one offer in one currency over a range."""

    offer_id: int
    currency: str
    points: tuple[Point, ...]
    checks: int  # good checks in the range (more than ``len(points)`` when downsampled)
    low: Decimal
    high: Decimal

    @property
    def downsampled(self) -> bool:
        return self.checks > len(self.points)


async def first_observed(conn: AsyncConnection, offer_ids: Sequence[int]) -> datetime | None:
    """When the oldest good check of these offers was made."""
    if not offer_ids:
        return None
    found = (await conn.execute(select(func.min(checks.c.observed_at)).where(
        checks.c.offer_id.in_(list(offer_ids)), checks.c.outcome == OK))).scalar()
    return found if isinstance(found, datetime) else None


def _in_range(offer_ids: Sequence[int], since: datetime | None, until: datetime | None
              ) -> list[ColumnElement[bool]]:
    where = [checks.c.offer_id.in_(list(offer_ids)), checks.c.outcome == OK]
    if since is not None:
        where.append(checks.c.observed_at >= since)
    if until is not None:
        where.append(checks.c.observed_at <= until)
    return where


async def downsampled(conn: AsyncConnection, offer_ids: Sequence[int], since: datetime | None,
                      until: datetime | None, *, max_points: int) -> list[Series]:
    """Each offer's good checks in ``[since, until]`` per currency. When a series has more than
    ``max_points`` checks, the range is cut into time buckets in SQL and each bucket gives its
    first, lowest, highest and last price (at most four points), so every minimum and every
    maximum survives and the step line enters and leaves each bucket at the true price."""
    if not offer_ids:
        return []
    where = _in_range(offer_ids, since, until)
    counts = (await conn.execute(
        select(checks.c.offer_id, checks.c.currency, func.count(), func.min(checks.c.price),
               func.max(checks.c.price), func.min(checks.c.observed_at),
               func.max(checks.c.observed_at))
        .where(*where).group_by(checks.c.offer_id, checks.c.currency))).all()
    out: list[Series] = []
    for oid, currency, count, low, high, first, last in counts:
        if count <= max_points:
            rows = (await conn.execute(
                select(checks.c.observed_at, checks.c.price, checks.c.in_stock)
                .where(*where, checks.c.offer_id == oid, checks.c.currency == currency)
                .order_by(checks.c.observed_at, checks.c.id))).all()
            points = tuple(Point(r.observed_at, plain(Decimal(r.price)), r.in_stock)
                           for r in rows)
        else:
            start = since or first
            end = until or last
            points = await _buckets(conn, oid, currency, where, start=start, end=end,
                                    buckets=max(1, max_points // 4))
        out.append(Series(oid, currency, points, count, plain(Decimal(low)),
                          plain(Decimal(high))))
    return out


async def _buckets(conn: AsyncConnection, oid: int, currency: str,
                   where: list[ColumnElement[bool]], *, start: datetime, end: datetime,
                   buckets: int) -> tuple[Point, ...]:
    start_s = start.timestamp()
    width = max((end.timestamp() - start_s) / buckets, 1e-3)
    bucket = func.floor((epoch(checks.c.observed_at) - start_s) / width).cast(Integer)
    mine = [*where, checks.c.offer_id == oid, checks.c.currency == currency]
    # Out-of-stock good checks in the bucket: the chart shades the bucket if any.
    sold_out = func.sum((checks.c.in_stock.is_(False)).cast(Integer))
    groups = (select(bucket.label("b"), func.min(checks.c.price).label("lo"),
                     func.max(checks.c.price).label("hi"),
                     func.min(checks.c.observed_at).label("t0"),
                     func.max(checks.c.observed_at).label("t1"), sold_out.label("oos"))
              .where(*mine).group_by(bucket).subquery())
    first = checks.alias("f")
    last = checks.alias("l")
    query: Select[Any] = (
        select(groups.c.b, groups.c.lo, groups.c.hi, groups.c.t0, groups.c.t1, groups.c.oos,
               first.c.price.label("p0"), last.c.price.label("p1"))
        .join(first, and_(first.c.offer_id == oid, first.c.observed_at == groups.c.t0,
                          first.c.outcome == OK, first.c.currency == currency))
        .join(last, and_(last.c.offer_id == oid, last.c.observed_at == groups.c.t1,
                         last.c.outcome == OK, last.c.currency == currency))
        .order_by(groups.c.b, first.c.id, last.c.id)
    )
    points: list[Point] = []
    seen: set[int] = set()
    for row in (await conn.execute(query)).all():
        if row.b in seen:  # two checks at the same instant: the join repeats the bucket
            continue
        seen.add(row.b)
        stock = None if row.oos is None else not row.oos
        t0, t1 = row.t0, row.t1
        mid = t0 + (t1 - t0) / 2
        p0, p1 = plain(Decimal(row.p0)), plain(Decimal(row.p1))
        lo, hi = plain(Decimal(row.lo)), plain(Decimal(row.hi))
        inner = [p for p in (lo, hi) if p not in (p0, p1)]
        # The extreme nearer the entry price first: the line takes the shorter way.
        inner.sort(key=lambda p: abs(p - p0))
        points.append(Point(t0, p0, stock))
        points.extend(Point(mid, p, stock) for p in inner)
        if t1 != t0 or p1 != p0:
            points.append(Point(t1, p1, stock))
    return tuple(points)


async def raw_checks(conn: AsyncConnection, offer_ids: Sequence[int], since: datetime | None,
                     until: datetime | None, *, chunk: int = 5000
                     ) -> AsyncIterator[tuple[int, Check]]:
    """Every check (all outcomes) of the offers in the range, oldest first, in chunks."""
    if not offer_ids:
        return
    after: tuple[datetime, int] | None = None
    key = offers.c.key
    while True:
        query = (select(checks, key).join(offers, offers.c.id == checks.c.offer_id)
                 .where(checks.c.offer_id.in_(list(offer_ids)))
                 .order_by(checks.c.observed_at, checks.c.id).limit(chunk))
        if since is not None:
            query = query.where(checks.c.observed_at >= since)
        if until is not None:
            query = query.where(checks.c.observed_at <= until)
        if after is not None:
            query = query.where((checks.c.observed_at > after[0])
                                | and_(checks.c.observed_at == after[0],
                                       checks.c.id > after[1]))
        rows = (await conn.execute(query)).all()
        for row in rows:
            yield row.offer_id, _check(row.key, row)
        if len(rows) < chunk:
            return
        after = (rows[-1].observed_at, rows[-1].id)


async def median_price(conn: AsyncConnection, offer_id: int, currency: str, *,
                       since: datetime | None, until: datetime | None, count: int
                       ) -> Decimal | None:
    """The median good price in the range (``count`` good checks in it)."""
    if count <= 0:
        return None
    where = [*_in_range([offer_id], since, until), checks.c.currency == currency]
    middle = (await conn.execute(
        select(checks.c.price).where(*where).order_by(checks.c.price)
        .offset((count - 1) // 2).limit(2 - count % 2))).scalars().all()
    if not middle:
        return None
    values = [Decimal(v) for v in middle]
    return plain(sum(values, Decimal(0)) / len(values))


# --- alerts of a product -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AlertMark:
    """An alert raised for a product, to mark on its chart."""

    created_at: datetime
    rule: str
    subject: str
    title: str


async def product_alerts(conn: AsyncConnection, product_id: str, since: datetime | None,
                         until: datetime | None, *, limit: int = 200) -> list[AlertMark]:
    query = (select(alerts.c.created_at, alerts.c.rule, alerts.c.subject, alerts.c.title)
             .where(alerts.c.product_id == product_id)
             .order_by(alerts.c.created_at.desc()).limit(limit))
    if since is not None:
        query = query.where(alerts.c.created_at >= since)
    if until is not None:
        query = query.where(alerts.c.created_at <= until)
    return [AlertMark(r.created_at, r.rule, r.subject, r.title)
            for r in reversed((await conn.execute(query)).all())]


async def product_offers(conn: AsyncConnection, product_id: str) -> list[OfferStats]:
    """The product's offers (active or not: their history stays) with their statistics."""
    return await offer_stats(conn, active_only=False, product_id=product_id)


@asynccontextmanager
async def reading(engine: AsyncEngine, *, limit: float = 10.0
                  ) -> AsyncIterator[AsyncConnection]:
    """A connection for reads, bounded in time; driver errors become ``StorageError``."""
    try:
        async with asyncio.timeout(limit), engine.connect() as conn:
            yield conn
    except TimeoutError as exc:
        raise StorageUnavailable(f"database read took longer than {limit:.0f}s") from exc
    except (SQLAlchemyError, OSError) as exc:
        raise classify(exc) from exc
