"""Reading the whole history for the web UI: the overview's per-offer statistics, an offer's
price series downsampled in SQL, recent checks and alerts.

Every query is built from the SQLAlchemy columns of ``db.tables`` (so a change of the price
column's storage type flows through its bind and result processing) and is served by an
index: per-offer statistics are correlated look-ups on ``(offer_id, observed_at)`` and
``ix_checks_history``, never a scan of the whole table. Like ``db.repository``, every
function takes an open connection and never commits.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Float, Integer, and_, func, select, true
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from pricewatch.db.errors import first_line, storage_error
from pricewatch.db.repository import _check
from pricewatch.db.rollup import DAY, day_of
from pricewatch.db.tables import alerts, check_days, checks, evidence, offers, products
from pricewatch.errors import StorageUnavailable
from pricewatch.models import Check, Outcome, plain

OK = Outcome.OK.value
# A range with more good checks than this (of one offer and currency) spanning at least
# MIN_DAYS is drawn from check_days; fewer are bucketed from the checks themselves, finer.
BY_DAY_ABOVE = 10_000
MIN_DAYS = 7


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


def _bucket(start: datetime, end: datetime, buckets: int) -> Any:
    """The time bucket (0 .. buckets-1) of a check between ``start`` and ``end``. Two
    milliseconds of slack keep the first and the last check inside the grid: SQLite's
    julianday() is a double, some microseconds off the exact time."""
    start_s = start.timestamp() - 0.001
    width = max((end.timestamp() + 0.001 - start_s) / buckets, 1e-3)
    return func.floor((epoch(checks.c.observed_at) - start_s) / width).cast(Integer)


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
    checked_at: datetime | None = None  # the newest check, whatever its outcome
    outcome: str | None = None
    error: str | None = None
    http_status: int | None = None
    priced_at: datetime | None = None  # the newest ok check
    price: Decimal | None = None
    currency: str | None = None
    in_stock: bool | None = None
    low: Decimal | None = None  # lowest/highest ok price ever, in the newest price's currency
    high: Decimal | None = None
    image: str | None = None  # the product's image as the shop shows it (offers.image_url)


def _newest_id(*, ok: bool) -> Any:
    """The id of the offer's newest (good) check: a walk back on ``(offer_id, observed_at)``."""
    inner = checks.alias("newest_ok" if ok else "newest")
    where = [inner.c.offer_id == offers.c.id]
    if ok:
        where.append(inner.c.outcome == OK)
    return (select(inner.c.id).where(*where)
            .order_by(inner.c.observed_at.desc(), inner.c.id.desc()).limit(1)
            .correlate(offers).scalar_subquery())


def _priced(conn: AsyncConnection) -> tuple[Any, Any]:
    """The offer's newest good check as a joinable (``priced``) and ``offers`` joined to it.
    PostgreSQL gets a LATERAL LIMIT 1 (it planned a join on a correlated id as a hash join
    over every stored check); SQLite, which has no LATERAL, the correlated id."""
    if conn.dialect.name == "postgresql":
        priced = (select(checks.c.id, checks.c.observed_at, checks.c.price, checks.c.currency,
                         checks.c.in_stock)
                  .where(checks.c.offer_id == offers.c.id, checks.c.outcome == OK)
                  .order_by(checks.c.observed_at.desc(), checks.c.id.desc()).limit(1)
                  .lateral("priced"))
        return priced, offers.join(priced, true())
    alias = checks.alias("priced")
    return alias, offers.join(alias, alias.c.id == _newest_id(ok=True))


def _good(inner: Any, priced: Any) -> list[ColumnElement[bool]]:
    return [inner.c.offer_id == offers.c.id, inner.c.outcome == OK,
            inner.c.currency == priced.c.currency]


async def offer_stats(conn: AsyncConnection, *, active_only: bool = True,
                      product_id: str | None = None) -> list[OfferStats]:
    """Every (active) offer with its newest check, newest good check and lowest and highest
    price ever: one statement of correlated index look-ups, so it costs per offer, not per
    stored check. Only the columns the overview shows are read (it reads every offer)."""
    last: Any
    priced: Any
    if conn.dialect.name == "postgresql":
        # LATERAL: PostgreSQL planned a join on a correlated id as a hash join over every
        # stored check; a lateral LIMIT 1 is one backward index walk per offer.
        last = (select(checks.c.id, checks.c.observed_at, checks.c.outcome, checks.c.error,
                       checks.c.http_status).where(checks.c.offer_id == offers.c.id)
                .order_by(checks.c.observed_at.desc(), checks.c.id.desc()).limit(1)
                .lateral("last"))
        priced = (select(checks.c.id, checks.c.observed_at, checks.c.price, checks.c.currency,
                         checks.c.in_stock)
                  .where(checks.c.offer_id == offers.c.id, checks.c.outcome == OK)
                  .order_by(checks.c.observed_at.desc(), checks.c.id.desc()).limit(1)
                  .lateral("priced"))
        joined = (offers.join(products, products.c.id == offers.c.product_id)
                  .outerjoin(last, true()).outerjoin(priced, true()))
    else:
        last = checks.alias("last")
        priced = checks.alias("priced")
        joined = (offers.join(products, products.c.id == offers.c.product_id)
                  .outerjoin(last, last.c.id == _newest_id(ok=False))
                  .outerjoin(priced, priced.c.id == _newest_id(ok=True)))
    lows, highs = checks.alias("lows"), checks.alias("highs")
    low = select(func.min(lows.c.price)).where(*_good(lows, priced)).scalar_subquery()
    high = select(func.max(highs.c.price)).where(*_good(highs, priced)).scalar_subquery()
    query = (
        select(offers.c.id, offers.c.key, offers.c.product_id, products.c.name.label("pname"),
               offers.c.store, offers.c.url, offers.c.title,
               last.c.observed_at.label("checked_at"), last.c.outcome, last.c.error,
               last.c.http_status, priced.c.observed_at.label("priced_at"), priced.c.price,
               priced.c.currency, priced.c.in_stock, low.label("low"), high.label("high"),
               offers.c.image_url)
        .select_from(joined)
        .order_by(products.c.name, offers.c.product_id, offers.c.store)
    )
    if active_only:
        query = query.where(offers.c.active.is_(True))
    if product_id is not None:
        query = query.where(offers.c.product_id == product_id)
    # Positional unpacking: for 10,000 offers, reading Row attributes by name was a quarter
    # of the overview's time.
    return [OfferStats(oid, key, pid, name, store, url, title, checked, outcome, error, http,
                       priced_at, _price(price), currency, stock, _price(low), _price(high),
                       image)
            for (oid, key, pid, name, store, url, title, checked, outcome, error, http,
                 priced_at, price, currency, stock, low, high, image)
            in (await conn.execute(query)).all()]


async def offer_catalog(conn: AsyncConnection) -> list[OfferStats]:
    """Every active offer without its checks (the daemon knows its newest ones): names,
    store, URL and the shop's title."""
    query = (select(offers.c.id, offers.c.key, offers.c.product_id, products.c.name,
                    offers.c.store, offers.c.url, offers.c.title)
             .join(products, products.c.id == offers.c.product_id)
             .where(offers.c.active.is_(True))
             .order_by(products.c.name, offers.c.product_id, offers.c.store))
    return [OfferStats(oid, key, pid, name, store, url, title)
            for oid, key, pid, name, store, url, title in (await conn.execute(query)).all()]


async def extremes(conn: AsyncConnection, offer_ids: Sequence[int] | None = None
                   ) -> dict[int, tuple[Decimal | None, Decimal | None]]:
    """``offer id -> (lowest, highest)`` good price ever, in the newest price's currency, of
    these (or all active) offers: two index seeks each."""
    priced, joined = _priced(conn)
    lows, highs = checks.alias("lows"), checks.alias("highs")
    low = select(func.min(lows.c.price)).where(*_good(lows, priced)).scalar_subquery()
    high = select(func.max(highs.c.price)).where(*_good(highs, priced)).scalar_subquery()
    query = select(offers.c.id, low, high).select_from(joined)
    if offer_ids is None:
        query = query.where(offers.c.active.is_(True))
    else:
        query = query.where(offers.c.id.in_(list(offer_ids)))
    return {oid: (_price(lo), _price(hi)) for oid, lo, hi in (await conn.execute(query)).all()}


async def newest_check_id(conn: AsyncConnection) -> int:
    """The highest check id stored (0 for none): one seek on the primary key."""
    return int((await conn.execute(select(func.coalesce(func.max(checks.c.id), 0))))
               .scalar_one())


async def offers_checked_after(conn: AsyncConnection, check_id: int) -> list[int]:
    """The offers with a check whose id is above ``check_id``: a range on the primary key."""
    return [int(oid) for oid in (await conn.execute(
        select(checks.c.offer_id).where(checks.c.id > check_id).distinct())).scalars()]


@dataclass(frozen=True, slots=True)
class OfferDetail:
    """What the overview shows for an offer on the current page beyond its newest check."""

    low: Decimal | None  # lowest/highest ok price ever, in the newest price's currency
    high: Decimal | None
    low_at: datetime | None  # when the lowest/highest price was last seen
    high_at: datetime | None
    previous: Decimal | None  # the last different price before the current one
    ago_30d: Decimal | None  # the price 30 days ago (the newest good check before then)
    spark: tuple[Point, ...]


async def offer_details(conn: AsyncConnection, offer_ids: Sequence[int], now: datetime, *,
                        spark_points: int = 96, lookback: int = 500) -> dict[int, OfferDetail]:
    """Details for a page of offers, in two statements: correlated look-ups (when the lowest
    and highest price were seen, the previous price, the price 30 days ago) and one 30-day
    downsampled series each. ``previous`` is looked for among the newest ``lookback``
    checks, so an offer whose price has not moved in years costs no more than one that
    moves daily."""
    if not offer_ids:
        return {}
    month = now - timedelta(days=30)
    priced, joined = _priced(conn)
    lows, highs = checks.alias("lows"), checks.alias("highs")
    lo_at, hi_at = checks.alias("lo_at"), checks.alias("hi_at")
    prev, ago, floor = checks.alias("prev"), checks.alias("ago"), checks.alias("floor")
    # Nested subqueries name what they correlate to: left to itself, SQLAlchemy would add
    # offers and priced to their FROM (a cross join per offer).
    low = (select(func.min(lows.c.price)).where(*_good(lows, priced))
           .correlate(offers, priced).scalar_subquery())
    high = (select(func.max(highs.c.price)).where(*_good(highs, priced))
            .correlate(offers, priced).scalar_subquery())
    horizon = (select(floor.c.observed_at).where(floor.c.offer_id == offers.c.id)
               .order_by(floor.c.observed_at.desc()).offset(lookback).limit(1)
               .correlate(offers).scalar_subquery())
    query = (
        select(
            offers.c.id, priced.c.currency, low.label("low"), high.label("high"),
            select(func.max(lo_at.c.observed_at)).where(*_good(lo_at, priced),
                                                        lo_at.c.price == low)
            .scalar_subquery().label("low_at"),
            select(func.max(hi_at.c.observed_at)).where(*_good(hi_at, priced),
                                                        hi_at.c.price == high)
            .scalar_subquery().label("high_at"),
            select(prev.c.price).where(*_good(prev, priced), prev.c.price != priced.c.price,
                                       prev.c.observed_at >= func.coalesce(
                                           horizon, prev.c.observed_at))
            .order_by(prev.c.observed_at.desc(), prev.c.id.desc()).limit(1)
            .scalar_subquery().label("previous"),
            select(ago.c.price).where(*_good(ago, priced), ago.c.observed_at <= month)
            .order_by(ago.c.observed_at.desc(), ago.c.id.desc()).limit(1)
            .scalar_subquery().label("ago"))
        .select_from(joined)
        .where(offers.c.id.in_(list(offer_ids)))
    )
    found = {r.id: r for r in (await conn.execute(query)).all()}
    sparks = await _sparks(conn, {oid: r.currency for oid, r in found.items()}, month, now,
                           spark_points)
    return {oid: OfferDetail(_price(r.low), _price(r.high), r.low_at, r.high_at,
                             _price(r.previous), _price(r.ago),
                             sparks.get(oid, ()))
            for oid, r in found.items()}


async def _sparks(conn: AsyncConnection, currencies: dict[int, str], since: datetime,
                  until: datetime, points: int) -> dict[int, tuple[Point, ...]]:
    """Each offer's 30-day trend in its newest price's currency (``currencies``): first,
    lowest, highest and last of a few time buckets, for all the offers in one statement."""
    if not currencies:
        return {}
    bucket = _bucket(since, until, max(1, points // 4))
    groups = (select(checks.c.offer_id.label("oid"), checks.c.currency.label("cur"),
                     bucket.label("b"),
                     func.min(checks.c.price).label("lo"), func.max(checks.c.price).label("hi"),
                     func.min(checks.c.observed_at).label("t0"),
                     func.max(checks.c.observed_at).label("t1"),
                     func.min(checks.c.id).label("i0"), func.max(checks.c.id).label("i1"),
                     func.sum((checks.c.in_stock.is_(False)).cast(Integer)).label("oos"))
              .where(*_in_range(list(currencies), since, until))
              .group_by(checks.c.offer_id, checks.c.currency, bucket)
              .order_by(checks.c.offer_id, checks.c.currency, bucket))
    rows = [r for r in (await conn.execute(groups)).all() if r.cur == currencies[r.oid]]
    prices = await _prices_by_id(conn, [i for r in rows for i in (r.i0, r.i1)])
    out: dict[int, list[Point]] = {}
    for row in rows:
        if row.cur != currencies[row.oid]:
            continue
        out.setdefault(row.oid, []).extend(_bucket_points(
            row, plain(Decimal(row.lo)), plain(Decimal(row.hi)), prices[row.i0],
            prices[row.i1]))
    return {oid: tuple(p) for oid, p in out.items()}


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


def _in_range(offer_ids: Sequence[int], since: datetime | None, until: datetime | None
              ) -> list[ColumnElement[bool]]:
    where = [checks.c.offer_id.in_(list(offer_ids)), checks.c.outcome == OK]
    if since is not None:
        where.append(checks.c.observed_at >= since)
    if until is not None:
        where.append(checks.c.observed_at <= until)
    return where


async def downsampled(conn: AsyncConnection, offer_ids: Sequence[int], since: datetime | None,
                      until: datetime | None, *, max_points: int,
                      by_day_above: int = BY_DAY_ABOVE) -> list[Series]:
    """Each offer's good checks in ``[since, until]``, one series per currency. An offer with
    more than ``max_points`` checks in the range is cut into time buckets in SQL (one pass
    over its rows, on a grid shared by all the offers) and each bucket gives its first,
    lowest, highest and last price: every minimum and maximum survives, and the step line
    enters and leaves each bucket at the true price. Over more than ``by_day_above`` checks
    and a week or more, the buckets are whole days read from ``check_days`` (the cut days
    at the range's ends from the checks), so a year costs a year of days, not its checks."""
    out: list[Series] = []
    big: list[int] = []
    start: datetime | None = since
    for oid in offer_ids:
        # A bounded read tells small series (returned as they are) from big ones.
        rows = (await conn.execute(
            select(checks.c.observed_at, checks.c.price, checks.c.in_stock, checks.c.currency)
            .where(*_in_range([oid], since, until))
            .order_by(checks.c.observed_at, checks.c.id).limit(max_points + 1))).all()
        if len(rows) > max_points:
            big.append(oid)
            start = rows[0].observed_at if start is None else min(start, rows[0].observed_at)
            continue
        per: dict[str, list[Point]] = {}
        for r in rows:
            per.setdefault(r.currency, []).append(
                Point(r.observed_at, plain(Decimal(r.price)), r.in_stock))
        out.extend(Series(oid, currency, tuple(points), len(points),
                          min(p.price for p in points), max(p.price for p in points))
                   for currency, points in per.items())
    if big and start is not None:
        end = until or datetime.now(start.tzinfo)
        buckets = max(1, max_points // 4)
        days = (end - start).total_seconds() / DAY
        for oid in big:
            for currency in await _currencies(conn, oid):
                # Many checks over weeks or more are drawn from whole days (check_days): the
                # cost follows the days in the range, not the checks; a bucket is then at
                # least a day wide.
                if days >= MIN_DAYS and await _day_checks(
                        conn, oid, currency, since, until) > by_day_above:
                    one = await _day_series(conn, oid, currency, since, until, start=start,
                                            width=max(1, math.ceil(days / buckets)))
                else:
                    one = await _buckets(conn, oid, currency, since, until, start=start,
                                         end=end, buckets=buckets)
                if one is not None and one.checks <= max_points:
                    one = await _raw_series(conn, oid, currency, since, until)
                if one is not None:
                    out.append(one)
    order = {oid: i for i, oid in enumerate(offer_ids)}
    out.sort(key=lambda s: (order[s.offer_id], s.currency))
    return out


async def _raw_series(conn: AsyncConnection, oid: int, currency: str, since: datetime | None,
                      until: datetime | None) -> Series | None:
    """A small series in one currency of a big offer, check by check."""
    rows = (await conn.execute(
        select(checks.c.observed_at, checks.c.price, checks.c.in_stock)
        .where(*_in_range([oid], since, until), checks.c.currency == currency)
        .order_by(checks.c.observed_at, checks.c.id))).all()
    points = tuple(Point(r.observed_at, plain(Decimal(r.price)), r.in_stock) for r in rows)
    if not points:
        return None
    return Series(oid, currency, points, len(points), min(p.price for p in points),
                  max(p.price for p in points))


async def _currencies(conn: AsyncConnection, oid: int) -> list[str]:
    """The currencies of an offer's good checks: one index seek each."""
    found: list[str] = []
    while True:
        where = [checks.c.offer_id == oid, checks.c.outcome == OK,
                 checks.c.currency.is_not(None)]
        if found:
            where.append(checks.c.currency > found[-1])
        nxt = (await conn.execute(select(func.min(checks.c.currency)).where(*where))).scalar()
        if nxt is None:
            return found
        found.append(str(nxt))


async def _buckets(conn: AsyncConnection, oid: int, currency: str, since: datetime | None,
                   until: datetime | None, *, start: datetime, end: datetime, buckets: int
                   ) -> Series | None:
    bucket = _bucket(start, end, buckets)
    # Out-of-stock good checks in the bucket: the chart shades the bucket if any.
    sold_out = func.sum((checks.c.in_stock.is_(False)).cast(Integer))
    # One offer and currency per statement: grouping by the bucket alone was twice as fast
    # on SQLite as grouping several offers by (offer, currency, bucket) (bench/web.py).
    groups = (select(bucket.label("b"), func.count().label("n"),
                     func.min(checks.c.price).label("lo"), func.max(checks.c.price).label("hi"),
                     func.min(checks.c.observed_at).label("t0"),
                     func.max(checks.c.observed_at).label("t1"), sold_out.label("oos"),
                     # The bucket's first and last check by id: checks are written in time
                     # order, and a primary-key look-up is one seek on either database (a
                     # look-up by time let SQLite pick the wrong index and scan per bucket).
                     func.min(checks.c.id).label("i0"), func.max(checks.c.id).label("i1"))
              .where(*_in_range([oid], since, until), checks.c.currency == currency)
              .group_by(bucket).order_by(bucket))
    rows = (await conn.execute(groups)).all()
    prices = await _prices_by_id(conn, [i for r in rows for i in (r.i0, r.i1)])
    points: list[Point] = []
    count, low, high = 0, None, None
    for row in rows:
        lo, hi = plain(Decimal(row.lo)), plain(Decimal(row.hi))
        count += row.n
        low = lo if low is None else min(low, lo)
        high = hi if high is None else max(high, hi)
        points.extend(_bucket_points(row, lo, hi, prices[row.i0], prices[row.i1]))
    if low is None or high is None:
        return None
    return Series(oid, currency, tuple(points), count, low, high)


async def _day_checks(conn: AsyncConnection, oid: int, currency: str, since: datetime | None,
                      until: datetime | None) -> int:
    """About how many good checks the range holds (its days' counts, whole days)."""
    d = check_days.c
    where = [d.offer_id == oid, d.currency == currency]
    if since is not None:
        where.append(d.day >= day_of(since))
    if until is not None:
        where.append(d.day <= day_of(until))
    return int((await conn.execute(select(func.coalesce(func.sum(d.checks), 0))
                                   .where(*where))).scalar_one())


@dataclass(frozen=True, slots=True)
class _Span:
    """A bucket's first and last check time and its out-of-stock count (as a bucket row)."""

    t0: datetime
    t1: datetime
    oos: int | None


async def _day_series(conn: AsyncConnection, oid: int, currency: str, since: datetime | None,
                      until: datetime | None, *, start: datetime, width: int) -> Series | None:
    """A long series from ``check_days``: buckets of ``width`` whole days on a grid from the
    day of ``start`` (shared by the product's offers), each its first, lowest, highest and
    last price. The parts of a day cut by ``since`` or ``until`` come from the checks
    themselves, one bucket each, so the range is exact to the microsecond."""
    first_day = day_of(start)
    head = tail = None
    if since is not None and since.timestamp() > day_of(since) * DAY:
        first_day = max(first_day, day_of(since) + 1)
        head = await _window(conn, oid, currency, since, _midnight(day_of(since) + 1),
                             inclusive=False)
    last_day = None
    if until is not None:
        last_day = day_of(until) - 1
        tail = await _window(conn, oid, currency, _midnight(day_of(until)), until,
                             inclusive=True)
    d = check_days.c
    bucket = ((d.day - first_day) // width).label("b")
    where = [d.offer_id == oid, d.currency == currency, d.day >= first_day]
    if last_day is not None:
        where.append(d.day <= last_day)
    rows = (await conn.execute(
        select(bucket, func.sum(d.checks).label("n"), func.min(d.low).label("lo"),
               func.max(d.high).label("hi"), func.min(d.day).label("d0"),
               func.max(d.day).label("d1"), func.sum(d.sold_out).label("oos"))
        .where(*where).group_by(bucket).order_by(bucket))).all()
    ends: dict[int, Any] = {}
    days = sorted({r.d0 for r in rows} | {r.d1 for r in rows})
    for begin in range(0, len(days), 5000):
        for row in (await conn.execute(
                select(d.day, d.first_at, d.first_price, d.last_at, d.last_price)
                .where(d.offer_id == oid, d.currency == currency,
                       d.day.in_(days[begin:begin + 5000])))).all():
            ends[row.day] = row
    parts: list[tuple[int, Decimal, Decimal, _Span, Decimal, Decimal]] = []
    if head is not None:
        parts.append(head)
    for r in rows:
        a, b = ends[r.d0], ends[r.d1]
        parts.append((int(r.n), plain(Decimal(r.lo)), plain(Decimal(r.hi)),
                      _Span(a.first_at, b.last_at, r.oos), plain(Decimal(a.first_price)),
                      plain(Decimal(b.last_price))))
    if tail is not None:
        parts.append(tail)
    if not parts:
        return None
    points: list[Point] = []
    for _, lo, hi, span, p0, p1 in parts:
        points.extend(_bucket_points(span, lo, hi, p0, p1))
    return Series(oid, currency, tuple(points), sum(p[0] for p in parts),
                  min(p[1] for p in parts), max(p[2] for p in parts))


def _midnight(day: int) -> datetime:
    return datetime.fromtimestamp(day * DAY, UTC)


async def _window(conn: AsyncConnection, oid: int, currency: str, lo: datetime, hi: datetime,
                  *, inclusive: bool) -> tuple[int, Decimal, Decimal, _Span, Decimal, Decimal
                                               ] | None:
    """The good checks of ``[lo, hi)`` (``[lo, hi]`` if ``inclusive``) as one bucket."""
    c = checks.c
    upper = c.observed_at <= hi if inclusive else c.observed_at < hi
    row = (await conn.execute(
        select(func.count().label("n"), func.min(c.price).label("lo"),
               func.max(c.price).label("hi"), func.min(c.observed_at).label("t0"),
               func.max(c.observed_at).label("t1"),
               func.sum((c.in_stock.is_(False)).cast(Integer)).label("oos"),
               func.min(c.id).label("i0"), func.max(c.id).label("i1"))
        .where(c.offer_id == oid, c.outcome == OK, c.currency == currency,
               c.observed_at >= lo, upper))).one()
    if not row.n:
        return None
    prices = await _prices_by_id(conn, [row.i0, row.i1])
    return (int(row.n), plain(Decimal(row.lo)), plain(Decimal(row.hi)),
            _Span(row.t0, row.t1, row.oos), prices[row.i0], prices[row.i1])


async def _prices_by_id(conn: AsyncConnection, ids: list[int]) -> dict[int, Decimal]:
    """The prices of these checks, by primary key. A separate statement, not a join: the
    planner cannot guess how few buckets a GROUP BY gives, and PostgreSQL joined them to
    the whole checks table by hash."""
    out: dict[int, Decimal] = {}
    unique = sorted(set(ids))
    for start in range(0, len(unique), 5000):  # asyncpg's bind-parameter limit is 32,767
        chunk = unique[start:start + 5000]
        for cid, price in (await conn.execute(
                select(checks.c.id, checks.c.price).where(checks.c.id.in_(chunk)))).all():
            out[cid] = plain(Decimal(price))
    return out


def _bucket_points(row: Any, lo: Decimal, hi: Decimal, p0: Decimal, p1: Decimal
                   ) -> list[Point]:
    stock = None if row.oos is None else not row.oos
    t0, t1 = row.t0, row.t1
    inner = [p for p in (lo, hi) if p not in (p0, p1)]
    # The extreme nearer the entry price first: the line takes the shorter way.
    inner.sort(key=lambda p: abs(p - p0))
    mid = t0 + (t1 - t0) / 2
    points = [Point(t0, p0, stock), *(Point(mid, p, stock) for p in inner)]
    if t1 != t0 or p1 != p0:
        points.append(Point(t1, p1, stock))
    return points


async def raw_checks(conn: AsyncConnection, offer_ids: Sequence[int], since: datetime | None,
                     until: datetime | None, *, chunk: int = 5000
                     ) -> AsyncIterator[tuple[int, Check]]:
    """Every check (all outcomes) of the offers in the range, oldest first, in chunks."""
    if not offer_ids:
        return
    after: tuple[datetime, int] | None = None
    key = offers.c.key
    while True:
        query = (select(checks, key, evidence.c.text.label("evidence"))
                 .join(offers, offers.c.id == checks.c.offer_id)
                 .outerjoin(evidence, evidence.c.id == checks.c.evidence_id)
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
    except (DBAPIError, OSError) as exc:  # the driver's; a bad query is a bug, not an outage
        raise (storage_error(exc, "database read")
               or StorageUnavailable(f"database read: {first_line(exc)}")) from exc


async def recent_checks(conn: AsyncConnection, offer_ids: Sequence[int], keys: dict[int, str],
                        *, limit: int = 50) -> list[tuple[int, Check]]:
    """The newest ``limit`` checks of each offer (all outcomes, with their evidence), newest
    first: a backward walk on ``(offer_id, observed_at)`` per offer."""
    out: list[tuple[int, Check]] = []
    for oid in offer_ids:
        rows = (await conn.execute(
            select(checks, evidence.c.text.label("evidence"))
            .outerjoin(evidence, evidence.c.id == checks.c.evidence_id)
            .where(checks.c.offer_id == oid)
            .order_by(checks.c.observed_at.desc(), checks.c.id.desc()).limit(limit))).all()
        out.extend((oid, _check(keys[oid], row)) for row in rows)
    out.sort(key=lambda t: t[1].observed_at, reverse=True)
    return out
