"""What each page shows, assembled from the database (and the daemon's memory when the
database cannot answer): plain data for the templates and the JSON API."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from urllib.parse import urlsplit

from sqlalchemy.ext.asyncio import AsyncConnection

from pricewatch.db import history as h
from pricewatch.db.alerts import Recent, recent_alerts
from pricewatch.models import Check, Outcome
from pricewatch.runtime.web import chart
from pricewatch.runtime.web.status import OfferStatus

RANGES = {"7d": timedelta(days=7), "30d": timedelta(days=30), "90d": timedelta(days=90),
          "1y": timedelta(days=365), "all": None}
DEFAULT_RANGE = "all"
CHART_POINTS = 800  # per series: 200 buckets of at most 4 points across a ~900 px plot
STALE_PRICE = timedelta(days=3)
OVERDUE = timedelta(minutes=10)
SORTS = ("name", "price", "low", "high", "checked", "stores")


def safe_url(url: str | None) -> str | None:
    """The URL if it may be a link (http or https with a host), else None: a shop or config
    string like ``javascript:...`` is shown as text, never as a link."""
    if not url:
        return None
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    return url.strip()


@dataclass
class OfferView:
    """One store's offer of a product, as the overview and product page show it."""

    key: str
    store: str
    url: str
    title: str | None = None
    price: Decimal | None = None
    currency: str | None = None
    in_stock: bool | None = None
    priced_at: datetime | None = None
    checked_at: datetime | None = None
    outcome: str | None = None
    error: str | None = None
    http_status: int | None = None
    low: Decimal | None = None
    high: Decimal | None = None
    low_at: datetime | None = None
    high_at: datetime | None = None
    previous: Decimal | None = None
    ago_30d: Decimal | None = None
    spark: str = ""
    next_check: datetime | None = None
    cheapest: bool = False
    offer_id: int | None = None
    image: str | None = None

    @property
    def image_link(self) -> str | None:
        return safe_url(self.image)

    @property
    def link(self) -> str | None:
        return safe_url(self.url)

    @property
    def failed(self) -> bool:
        return self.outcome is not None and self.outcome != Outcome.OK.value

    def attention(self, now: datetime) -> str | None:
        """Why this offer needs a look, or None."""
        if self.outcome == Outcome.BLOCKED.value:
            return "blocked"
        if self.outcome == Outcome.NO_PRICE.value and "ambiguous" in (self.error or "").lower():
            return "ambiguous"
        if self.failed:
            return "failing"
        if self.next_check is not None and self.next_check < now - OVERDUE:
            return "stale"
        if self.priced_at is not None and self.priced_at < now - STALE_PRICE:
            return "stale"
        return None


@dataclass
class ProductView:
    id: str
    name: str
    offers: list[OfferView] = field(default_factory=list)

    @property
    def image(self) -> str | None:
        """The product's picture: the cheapest offer's, else any store's (http(s) only)."""
        first = [self.cheapest] if self.cheapest else []
        return next((o.image_link for o in [*first, *self.offers] if o.image_link), None)

    @property
    def cheapest(self) -> OfferView | None:
        return next((o for o in self.offers if o.cheapest), None)

    def sort_key(self, column: str) -> tuple[bool, object]:
        best = self.cheapest
        if column == "price":
            value: object = None if best is None else best.price
        elif column == "low":
            value = min((o.low for o in self.offers if o.low is not None), default=None)
        elif column == "high":
            value = max((o.high for o in self.offers if o.high is not None), default=None)
        elif column == "checked":
            value = max((o.checked_at for o in self.offers if o.checked_at), default=None)
        elif column == "stores":
            value = len(self.offers)
        else:
            value = self.name.lower()
        return value is None, value if value is not None else 0


def _mark_cheapest(offers: Sequence[OfferView]) -> None:
    """The cheapest in-stock offer in the most common currency (prices in different
    currencies are never compared)."""
    priced = [o for o in offers if o.price is not None and o.in_stock is not False]
    if not priced:
        return
    currencies = [o.currency for o in priced]
    common = max(set(currencies), key=currencies.count)
    best = min((o for o in priced if o.currency == common), key=lambda o: o.price or 0)
    best.cheapest = True


def _from_stats(s: h.OfferStats, live: OfferStatus | None) -> OfferView:
    return OfferView(key=s.key, store=s.store, url=s.url, title=s.title, price=s.price,
                     currency=s.currency, in_stock=s.in_stock, priced_at=s.priced_at,
                     checked_at=s.checked_at, outcome=s.outcome, error=s.error,
                     http_status=s.http_status, low=s.low, high=s.high,
                     next_check=None if live is None else live.next_check, offer_id=s.id,
                     image=s.image)


def from_status(rows: Sequence[OfferStatus]) -> list[ProductView]:
    """Products from the daemon's memory alone (the database is unreachable)."""
    products: dict[str, ProductView] = {}
    for row in sorted(rows, key=lambda r: (r.product, r.store)):
        pid = row.key.rsplit("@", 1)[0]
        product = products.setdefault(pid, ProductView(pid, row.product))
        product.offers.append(OfferView(
            key=row.key, store=row.store, url=row.url,
            price=None if row.price is None else Decimal(row.price), currency=row.currency,
            in_stock=row.in_stock, priced_at=row.priced_at, checked_at=row.checked_at,
            outcome=row.outcome, error=row.error, next_check=row.next_check))
    for product in products.values():
        _mark_cheapest(product.offers)
    return list(products.values())


Extremes = dict[int, tuple[Decimal | None, Decimal | None]]


class ExtremesCache:
    """Every offer's lowest and highest price ever, kept between requests and brought up to
    date from the checks written since (checks are only ever added, so only offers with a
    newer check can have changed): sorting the overview by them costs a seek, not two per
    offer. When there are new checks, the ``MARGIN`` ids before the last newest are looked
    at again, for a writer's transaction that committed after a later one (several daemons
    of a cluster sharing the database)."""

    MARGIN = 1000

    def __init__(self) -> None:
        self._found: Extremes = {}
        self._upto = -1

    async def get(self, conn: AsyncConnection) -> Extremes:
        newest = await h.newest_check_id(conn)
        if self._upto < 0:
            self._found = await h.extremes(conn)
        elif newest != self._upto:
            changed = await h.offers_checked_after(conn, self._upto - self.MARGIN)
            if changed:
                self._found.update(await h.extremes(conn, changed))
        self._upto = newest
        return self._found


async def products(conn: AsyncConnection, live: Sequence[OfferStatus], *,
                   extremes: ExtremesCache | None = None) -> list[ProductView]:
    """Every active product with its offers' current state (no per-page details yet). With
    the daemon's memory (``live``), the newest check and price come from there (fresher
    than the database, and free); the database gives names, titles and the history. With
    ``extremes``, every offer's lowest and highest price too (else only the page's)."""
    out: dict[str, ProductView] = {}
    if live:
        by_key = {row.key: row for row in live}
        for s in await h.offer_catalog(conn):
            product = out.setdefault(s.product_id, ProductView(s.product_id, s.product_name))
            product.offers.append(_from_live(s, by_key.get(s.key)))
        if extremes is not None:
            found = await extremes.get(conn)
            for product in out.values():
                for offer in product.offers:
                    if offer.offer_id in found:
                        offer.low, offer.high = found[offer.offer_id]
    else:
        for s in await h.offer_stats(conn):
            product = out.setdefault(s.product_id, ProductView(s.product_id, s.product_name))
            product.offers.append(_from_stats(s, None))
    for product in out.values():
        _mark_cheapest(product.offers)
    return list(out.values())


def _from_live(s: h.OfferStats, row: OfferStatus | None) -> OfferView:
    view = OfferView(key=s.key, store=s.store, url=s.url, title=s.title, offer_id=s.id)
    if row is not None:
        view.price = None if row.price is None else Decimal(row.price)
        view.currency, view.in_stock, view.priced_at = row.currency, row.in_stock, row.priced_at
        view.checked_at, view.outcome, view.error = row.checked_at, row.outcome, row.error
        view.next_check = row.next_check
    return view


async def add_details(conn: AsyncConnection, page: Sequence[ProductView], now: datetime) -> None:
    """Fill the change, 30-day, lowest/highest (and when) and sparkline of the shown offers."""
    wanted = {o.offer_id: o for p in page for o in p.offers
              if o.offer_id is not None and o.price is not None}
    details = await h.offer_details(conn, list(wanted), now)
    for oid, d in details.items():
        view = wanted[oid]
        view.low, view.high = d.low, d.high
        view.low_at, view.high_at = d.low_at, d.high_at
        view.previous, view.ago_30d = d.previous, d.ago_30d
        view.spark = chart.sparkline(d.spark)


@dataclass
class Filters:
    q: str = ""
    store: str = ""
    stock: str = ""  # "", "in", "out"
    outcome: str = ""  # "", "ok", "failed" or one outcome
    sort: str = "name"
    desc: bool = False
    page: int = 1
    per: int = 50

    def keep(self, offer: OfferView, product: ProductView) -> bool:
        if self.store and offer.store != self.store:
            return False
        if self.stock == "in" and offer.in_stock is not True:
            return False
        if self.stock == "out" and offer.in_stock is not False:
            return False
        if self.outcome == "failed" and not offer.failed:
            return False
        if self.outcome and self.outcome not in ("failed", offer.outcome):
            return False
        if self.q:
            needle = self.q.lower()
            hay = " ".join([product.name, product.id, offer.store, offer.title or ""]).lower()
            if needle not in hay:
                return False
        return True


def select_page(all_products: Sequence[ProductView], f: Filters
                ) -> tuple[list[ProductView], int]:
    """Filter, sort and cut one page; returns (page, number of matching products)."""
    kept = []
    for product in all_products:
        offers = [o for o in product.offers if f.keep(o, product)]
        if offers:
            kept.append(ProductView(product.id, product.name, offers))
    kept.sort(key=lambda p: p.sort_key(f.sort), reverse=f.desc)
    if f.desc:  # products without a value stay last either way
        kept.sort(key=lambda p: p.sort_key(f.sort)[0])
    start = (f.page - 1) * f.per
    return kept[start:start + f.per], len(kept)


def attention(all_products: Sequence[ProductView], now: datetime
              ) -> list[tuple[ProductView, OfferView, str]]:
    out = []
    for product in all_products:
        for offer in product.offers:
            why = offer.attention(now)
            if why is not None:
                out.append((product, offer, why))
    order = {"blocked": 0, "failing": 1, "ambiguous": 2, "stale": 3}
    out.sort(key=lambda t: (order[t[2]], t[0].name, t[1].store))
    return out


# --- the product page --------------------------------------------------------------------------


@dataclass
class SeriesStats:
    store: str
    currency: str
    checks: int
    low: Decimal
    high: Decimal
    median: Decimal | None
    now: Decimal


@dataclass
class ProductPage:
    product: ProductView
    range: str
    since: datetime | None
    panels: list[chart.Panel]
    stats: list[SeriesStats]
    checks: list[tuple[str, Check]]  # (store, check), newest first
    marks: list[h.AlertMark]


def range_start(name: str, now: datetime) -> datetime | None:
    span = RANGES[name]
    return None if span is None else now - span


async def product_offers(conn: AsyncConnection, product_id: str,
                         live: Sequence[OfferStatus]) -> ProductView | None:
    stats = await h.product_offers(conn, product_id)
    if not stats:
        return None
    by_key = {row.key: row for row in live}
    product = ProductView(product_id, stats[0].product_name,
                          [_from_stats(s, by_key.get(s.key)) for s in stats])
    _mark_cheapest(product.offers)
    return product


async def product_page(conn: AsyncConnection, product: ProductView, range_name: str,
                       now: datetime, *, recent: int = 50) -> ProductPage:
    since = range_start(range_name, now)
    stores = {o.offer_id: o.store for o in product.offers if o.offer_id is not None}
    series = await h.downsampled(conn, list(stores), since, None, max_points=CHART_POINTS)
    marks = await h.product_alerts(conn, product.id, since, None)
    stats = []
    for one in series:
        median = await h.median_price(conn, one.offer_id, one.currency, since=since,
                                      until=None, count=one.checks)
        stats.append(SeriesStats(stores[one.offer_id], one.currency, one.checks, one.low,
                                 one.high, median, one.points[-1].price))
    keys = {o.offer_id: o.key for o in product.offers if o.offer_id is not None}
    checks = [(stores[oid], c) for oid, c in await h.recent_checks(conn, list(keys), keys,
                                                                    limit=recent)]
    panels = chart.panels(series, stores, marks, since=since, until=now)
    return ProductPage(product, range_name, since, panels, stats, checks[:recent], marks)


async def alerts(conn: AsyncConnection, limit: int = 100) -> list[Recent]:
    return await recent_alerts(conn, limit=limit)


def utcnow() -> datetime:
    return datetime.now(UTC)
