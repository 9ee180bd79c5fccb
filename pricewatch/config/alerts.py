"""The ``alerts:`` section of the config file (and the per-product / per-offer overrides)."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated, Any, ClassVar

from pydantic import (
    AfterValidator,
    Field,
    field_validator,
    model_validator,
)

from pricewatch.config.types import (
    Currency,
    Duration,
    Headers,
    Model,
    PositiveDuration,
    TimeZone,
    check_url,
)


def _check_clock(value: str) -> str:
    if not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", value):
        raise ValueError("expected a time of day as HH:MM, e.g. 22:00")
    return value


ClockTime = Annotated[str, AfterValidator(_check_clock)]


class RuleConfig(Model):
    """Common to every alert rule; ``false`` in the file disables an inherited rule."""

    enabled: bool = True
    # The least time between two alerts of the rule.
    cooldown: Duration | None = Field(default=None, ge=0)

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        if isinstance(data, bool):
            return {"enabled": data}
        if isinstance(data, int | float | str | Decimal) and cls._short_field:
            return {cls._short_field: data}
        return data

    _short_field: ClassVar[str | None] = None


class BelowRuleConfig(RuleConfig):
    """Fire when the price is at or below ``target`` (``below: 199`` is short for this)."""

    _short_field: ClassVar[str | None] = "target"
    target: Decimal | None = Field(default=None, gt=0)
    currency: Currency | None = None  # the target's currency; offers in another are skipped
    hysteresis_percent: float = Field(default=0.0, ge=0, le=100)  # re-arm above target + this %

    @model_validator(mode="after")
    def _target(self) -> BelowRuleConfig:
        if self.enabled and self.target is None:
            raise ValueError("give a target price, e.g. `below: 199` or `below: {target: 199}`")
        return self


class ChangeRuleConfig(RuleConfig):
    """A change of at least ``previous`` % against the last price and/or ``median`` % against
    the median of the last ``window`` (``drop_percent: 10`` is short for ``previous: 10``)."""

    _short_field: ClassVar[str | None] = "previous"
    previous: float | None = Field(default=None, gt=0, le=1000)
    median: float | None = Field(default=None, gt=0, le=1000)
    window: PositiveDuration = 30 * 86400.0

    @model_validator(mode="after")
    def _something(self) -> ChangeRuleConfig:
        if self.enabled and self.previous is None and self.median is None:
            raise ValueError("give a percentage: previous, median or both")
        return self


class NewLowRuleConfig(RuleConfig):
    """Fire on a price lower than every earlier one (within ``window`` when given)."""

    window: PositiveDuration | None = None


class FlagRuleConfig(RuleConfig):
    """A rule without parameters (``back_in_stock: true``)."""


class AlertRulesConfig(Model):
    """Rules at one level (global, product, offer); a rule set lower replaces the one above."""

    below: BelowRuleConfig | None = None
    drop_percent: ChangeRuleConfig | None = None
    rise_percent: ChangeRuleConfig | None = None  # opt-in: price rises are rarely good news
    new_low: NewLowRuleConfig | None = None
    back_in_stock: FlagRuleConfig | None = None
    cheapest_store_changed: FlagRuleConfig | None = None  # product level; needs 2+ offers


class ChannelConfig(Model):
    """Where alerts go: one apprise URL or one JSON webhook."""

    name: str = Field(min_length=1, max_length=80)
    apprise: str | None = None  # e.g. ntfy://ntfy.sh/${NTFY_TOPIC}, mailto://..., tgram://...
    webhook: str | None = None  # an http(s) URL that receives a JSON POST
    headers: Headers = {}  # webhook only
    timeout: PositiveDuration = 15.0

    @model_validator(mode="before")
    @classmethod
    def _default_name(cls, data: Any) -> Any:
        if isinstance(data, dict) and "name" not in data:
            if isinstance(data.get("webhook"), str):
                return {**data, "name": "webhook"}
            if isinstance(data.get("apprise"), str):
                return {**data, "name": data["apprise"].split(":", 1)[0] or "apprise"}
        return data

    @model_validator(mode="after")
    def _one_target(self) -> ChannelConfig:
        if (self.apprise is None) == (self.webhook is None):
            raise ValueError("give exactly one of apprise (a URL) or webhook (an http(s) URL)")
        if self.webhook is not None:
            check_url(self.webhook)
        if self.headers and self.webhook is None:
            raise ValueError("headers only apply to a webhook")
        return self


class QuietHoursConfig(Model):
    """Alerts raised between ``start`` and ``end`` are held and sent as one digest at ``end``."""

    start: ClockTime
    end: ClockTime
    timezone: TimeZone = "UTC"


class NotifyRetryConfig(Model):
    attempts: int = Field(default=5, ge=1, le=20)
    backoff_base: PositiveDuration = 2.0
    backoff_max: PositiveDuration = 300.0


class AlertsConfig(Model):
    enabled: bool = True
    channels: list[ChannelConfig] = []
    rules: AlertRulesConfig = AlertRulesConfig()  # the defaults for every offer
    retry: NotifyRetryConfig = NotifyRetryConfig()
    quiet_hours: QuietHoursConfig | None = None

    @field_validator("channels")
    @classmethod
    def _unique_names(cls, channels: list[ChannelConfig]) -> list[ChannelConfig]:
        names = [c.name for c in channels]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"channel names must be unique; give `name:` to {duplicates}")
        return channels


