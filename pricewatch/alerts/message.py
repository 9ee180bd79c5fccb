"""What an alert says: the Alert record, its text for people and its JSON for webhooks."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from pricewatch.models import plain


@dataclass(frozen=True, slots=True)
class Alert:
    """One firing of one rule, with everything a message needs."""

    rule: str  # the rule id, e.g. "below" or "drop_percent.median"
    subject: str  # offer key, or product id for cheapest_store_changed
    product_id: str
    product_name: str
    store: str
    url: str
    observed_at: datetime
    reason: str
    new_price: Decimal | None
    currency: str | None
    old_price: Decimal | None = None  # the previous ok price of this offer
    lowest_ever: Decimal | None = None  # including this check
    in_stock: bool | None = None
    id: int | None = None  # set once stored

    @property
    def change_percent(self) -> Decimal | None:
        if self.old_price is None or self.new_price is None or self.old_price == 0:
            return None
        return ((self.new_price - self.old_price) / self.old_price * 100).quantize(Decimal("0.1"))

    @property
    def title(self) -> str:
        price = f": {_money(self.new_price, self.currency)}" if self.new_price is not None else ""
        return f"{self.product_name} at {self.store}{price} ({self.reason})"

    @property
    def body(self) -> str:
        lines = [f"{self.product_name} at {self.store}: {self.reason}"]
        if self.new_price is not None:
            change = self.change_percent
            if self.old_price is not None and self.old_price != self.new_price:
                lines.append(f"Price: {_money(self.old_price, self.currency)} -> "
                             f"{_money(self.new_price, self.currency)} ({change:+}%)")
            else:
                lines.append(f"Price: {_money(self.new_price, self.currency)}")
        if self.lowest_ever is not None:
            lines.append(f"Lowest ever: {_money(self.lowest_ever, self.currency)}")
        if self.in_stock is not None:
            lines.append("In stock" if self.in_stock else "Out of stock")
        lines.append(self.url)
        return "\n".join(lines)

    def payload(self) -> dict[str, Any]:
        """The JSON a webhook receives; prices are strings so no digit is lost to floats."""
        change = self.change_percent
        return {
            "rule": self.rule,
            "subject": self.subject,
            "product": {"id": self.product_id, "name": self.product_name},
            "store": self.store,
            "url": self.url,
            "observed_at": self.observed_at.isoformat(),
            "reason": self.reason,
            "currency": self.currency,
            "new_price": _text(self.new_price),
            "old_price": _text(self.old_price),
            "change_percent": None if change is None else str(change),
            "lowest_ever": _text(self.lowest_ever),
            "in_stock": self.in_stock,
            "title": self.title,
            "message": self.body,
        }


@dataclass(frozen=True, slots=True)
class Message:
    """What one channel is asked to deliver: one alert or a digest of several."""

    title: str
    body: str
    payload: dict[str, Any]
    alert_ids: tuple[int, ...]
    digest: bool = False


def single(alert_id: int, title: str, body: str, payload: dict[str, Any]) -> Message:
    return Message(title, body, {"event": "alert", "alert": payload}, (alert_id,))


def digest(items: list[tuple[int, str, str, dict[str, Any]]]) -> Message:
    """Alerts held during quiet hours, as one message."""
    count = len(items)
    title = f"pricewatch: {count} alert{'s' if count != 1 else ''} during quiet hours"
    body = "\n\n".join(f"- {body}" for _, _, body, _ in items)
    payload = {"event": "digest", "alerts": [p for _, _, _, p in items]}
    return Message(title, body, payload, tuple(i for i, _, _, _ in items), digest=True)


def test_message() -> Message:
    return Message("pricewatch test message",
                   "This is a test from `pricewatch alerts test`: this channel works.",
                   {"event": "test"}, ())


def _money(value: Decimal | None, currency: str | None) -> str:
    if value is None:
        return "-"
    return f"{plain(value)} {currency or ''}".strip()


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(plain(value))
