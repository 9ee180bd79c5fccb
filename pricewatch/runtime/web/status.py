"""What the daemon tells the web UI from memory: each offer's last price and check, and its
readiness. The database holds the history; these hold what has not reached it yet."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from pricewatch.models import Check, Offer, Previous, plain

# Returns (ready, {component: "ok" | reason}).
Readiness = Callable[[], Awaitable[tuple[bool, dict[str, str]]]]


@dataclass(frozen=True, slots=True)
class OfferStatus:
    """One configured offer as the daemon last saw it."""

    key: str
    product: str
    store: str
    url: str
    price: str | None  # the last price found, as an exact decimal string
    currency: str | None
    in_stock: bool | None
    priced_at: datetime | None  # when that price was seen
    checked_at: datetime | None  # the last check, whatever its outcome
    outcome: str | None
    error: str | None
    next_check: datetime | None


def offer_status(offer: Offer, last: Check | None, good: Previous | None,
                 next_check: datetime | None) -> OfferStatus:
    """The row for ``offer``: its newest check, the last good one and when it is next due."""
    priced = good.check if good is not None else None
    return OfferStatus(
        key=offer.key, product=offer.product_name, store=offer.store, url=offer.url,
        price=None if priced is None or priced.price is None else str(plain(priced.price)),
        currency=None if priced is None else priced.currency,
        in_stock=None if priced is None else priced.in_stock,
        priced_at=None if priced is None else priced.observed_at,
        checked_at=None if last is None else last.observed_at,
        outcome=None if last is None else last.outcome.value,
        error=None if last is None else last.error,
        next_check=next_check,
    )


Status = Callable[[], Sequence[OfferStatus]]
ReloadError = Callable[[], str | None]  # the last rejected reload's message, None if none


def iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat(timespec="seconds")


def status_json(row: OfferStatus) -> dict[str, object]:
    return {"offer": row.key, "product": row.product, "store": row.store, "url": row.url,
            "price": row.price, "currency": row.currency, "in_stock": row.in_stock,
            "priced_at": iso(row.priced_at), "checked_at": iso(row.checked_at),
            "outcome": row.outcome, "error": row.error, "next_check": iso(row.next_check)}
