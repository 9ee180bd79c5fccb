"""Days of demo history in a real database, written by pricewatch's own storage and alert code.

The demo catalogue's prices (``price_at``, one step an hour) at two stores, one of them selling
one product in another currency, checked every few hours for ``DAYS`` days; then the events
the dashboards exist to show: a sale (new lows, drops, alerts), a store that starts blocking
(failing store, stale offer) and an extractor that misses now and then. Checks are stored with
``insert_checks`` and judged by the real ``AlertJudge`` in time order, so the ``alerts`` rows
carry the checks' times; deliveries are logged through the dispatcher's own ``log_attempt``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from pricewatch import config
from pricewatch.alerts.judge import AlertJudge
from pricewatch.alerts.resolve import rule_book
from pricewatch.db.alerts import log_attempt
from pricewatch.db.database import open_database, sync
from pricewatch.db.repository import PendingCheck, insert_checks
from pricewatch.demo.catalog import DemoProduct, catalog, in_stock_at, price_at
from pricewatch.models import Check, Offer, Outcome

DAYS = 10
STEP = timedelta(hours=4)
PRODUCTS = 6
HOUR = 3600.0
# The scripted events, by product index (catalog order) and store.
OTHER_CURRENCY = (0, "shop-b", "GBP")  # the Classic Kettle also sells in pounds at shop-b
SALE = (1, "shop-b")  # 30 % off for the last three checks
BLOCKING = (2, "shop-b")  # blocked for the last two days
MISSING = (3, "demo-shop")  # every seventh check finds no price
BLOCKED_FOR = timedelta(days=2)
# Prices follow the catalogue's curves from this moment on, whatever the day the test runs:
# the same history each time, stored as if it ended now.
EPOCH = 1_790_252_000.0  # chosen so every currency has a drop and a new low in 7 days


@dataclass(frozen=True)
class History:
    """What was written, for the assertions."""

    products: list[DemoProduct]
    checks: int
    alerts: int
    start: datetime
    end: datetime
    currencies: set[str]


def history_config(url: str, products: list[DemoProduct]) -> str:
    lines = [
        "database:",
        f"  url: {url}",
        "schedule:",
        "  interval: 4h",
        "stores:",
        "  demo-shop:",
        "    hosts: [127.0.0.1]",
        "  shop-b:",
        "    hosts: [localhost]",
        "alerts:",
        "  channels:",
        "    - name: phone",
        "      webhook: http://127.0.0.1:9/hook",
        "  rules:",
        "    new_low: {window: 30d}",
        "    drop_percent: 10",
        "    back_in_stock: true",
        "    cheapest_store_changed: true",
        "products:",
    ]
    for product in products:
        lines += [
            f"  - id: {product.id}",
            f"    name: {product.name}",
            "    offers:",
            f"      - url: http://127.0.0.1:9{product.path}",
            f"      - url: http://localhost:9{product.path}",
        ]
    return "\n".join(lines) + "\n"


def _check(offer: Offer, product: DemoProduct, index: int, at: datetime, *, step: int,
           steps: int, end: datetime) -> Check:
    where = (index, offer.store)
    if where == BLOCKING and at > end - BLOCKED_FOR:
        return Check(offer.key, at, Outcome.BLOCKED, http_status=403, duration_ms=180,
                     error="bot wall: 'Just a moment...'")
    if where == MISSING and step % 7 == 3:
        return Check(offer.key, at, Outcome.NO_PRICE, http_status=200, duration_ms=95,
                     error="selector '.buybox .price' matched nothing")
    # shop-b's curve runs five hours ahead, so the cheapest store changes now and then.
    seconds = EPOCH + step * STEP.total_seconds() + (5 * HOUR if offer.store == "shop-b" else 0)
    price = price_at(product, seconds, tick=HOUR)
    currency = product.currency
    if (index, offer.store) == OTHER_CURRENCY[:2]:
        price, currency = (price * Decimal("0.86")).quantize(Decimal("0.01")), OTHER_CURRENCY[2]
    if where == SALE and step >= steps - 3:
        price = (product.base * Decimal("0.6")).quantize(Decimal(1)) - Decimal("0.01")
    return Check(offer.key, at, Outcome.OK, price=price, currency=currency,
                 in_stock=in_stock_at(product, seconds, tick=HOUR), http_status=200,
                 duration_ms=120, extractor="jsonld", title=product.name)


async def write_history(url: str, *, end: datetime | None = None) -> History:
    """Migrate the database at ``url`` and fill it with ``DAYS`` days of checks and alerts."""
    products = catalog(PRODUCTS)
    settings = config.loads(history_config(url, products), environ={})
    offers = settings.offers()
    index = {p.id: i for i, p in enumerate(products)}
    by_id = {p.id: p for p in products}
    end = end or datetime.now(UTC).replace(microsecond=0)
    steps = int(timedelta(days=DAYS) / STEP)
    start = end - STEP * (steps - 1)
    clock = [start]
    checks = 0
    currencies: set[str] = set()
    alert_ids: list[int] = []
    async with open_database(settings) as engine:
        ids = await sync(engine, offers)
        judge = AlertJudge(engine, rule_book(settings), clock=lambda: clock[0])
        for step in range(steps):
            at = clock[0] = start + STEP * step
            made = [(o, _check(o, by_id[o.product_id], index[o.product_id], at,
                            step=step, steps=steps, end=end))
                    for o in offers]
            async with engine.begin() as conn:
                await insert_checks(conn, [PendingCheck(ids[o.key], c) for o, c in made])
            alert_ids += [a.id for a in await judge.process_many(made) if a.id is not None]
            checks += len(made)
            currencies |= {c.currency for _, c in made if c.currency}
        async with engine.begin() as conn:
            # Every alert reached the phone but the newest, which failed for good.
            await log_attempt(conn, alert_ids[:-1], channel="phone", attempt=1, status="sent",
                              error=None, digest=False, now=end)
            await log_attempt(conn, alert_ids[-1:], channel="phone", attempt=3, status="failed",
                              error="HTTP 500 from the webhook", digest=False, now=end)
    return History(products, checks, len(alert_ids), start, end, currencies)
