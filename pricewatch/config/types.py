"""Value types shared by every config model: durations, sizes, URLs, time zones, crontab lines.

Each is an ``Annotated`` type whose validator raises ValueError with a message a person can act
on; config/settings.py turns those into ``file:line: field: message``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal
from typing import Annotated, Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    ValidationInfo,
)

from pricewatch import __version__
from pricewatch.extract.rules import compile_css, compile_regex, compile_xpath

DEFAULT_USER_AGENT = f"pricewatch/{__version__} (self-hosted price monitor)"

_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*(b|kb|mb|gb|kib|mib|gib)?", re.IGNORECASE)
_SIZE_UNITS = {"b": 1, "kb": 1000, "mb": 1000**2, "gb": 1000**3, "kib": 1024, "mib": 1024**2,
               "gib": 1024**3}
SLUG = re.compile(r"^[a-z0-9][a-z0-9._-]{0,79}$")


UNITS = "ms, s, m, h, d, w"
# Loading a file passes this validation context: there a duration needs its unit.
FROM_FILE = {"from_file": True}


def parse_duration(value: Any, *, unit_required: bool = False) -> float:
    """``"90s"``, ``"30m"``, ``"1h30m"``, ``"2d"`` -> seconds (float); a plain number is seconds
    unless ``unit_required`` (a config file: ``interval: 90`` reads as 90 minutes to some)."""
    if isinstance(value, bool):
        raise ValueError("expected a duration like 30s, 15m, 6h or 1d")
    if isinstance(value, int | float | Decimal):
        if unit_required and value != 0:  # 0 is 0 in every unit
            raise ValueError(f"a duration needs a unit: write {value:g}s or {value:g}m, not "
                             f"{value:g} (units: {UNITS}; e.g. 1h30m)")
        return float(value)
    if isinstance(value, str):
        text = value.strip().lower().replace(" ", "")
        pos, total = 0, 0.0
        for match in _DURATION.finditer(text):
            if match.start() != pos:
                break
            total += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
            pos = match.end()
        else:
            if pos == len(text) and pos > 0:
                return total
        try:
            number = float(text)
        except ValueError:
            pass
        else:
            return parse_duration(number, unit_required=unit_required)
    raise ValueError(f"expected a duration like 30s, 15m, 6h or 1d, got {value!r}")


def parse_size(value: Any) -> int:
    """``1048576``, ``"10MB"``, ``"512 KiB"`` -> bytes."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        match = _SIZE.fullmatch(value.strip())
        if match:
            unit = (match.group(2) or "b").lower()
            return int(float(match.group(1)) * _SIZE_UNITS[unit])
    raise ValueError(f"expected a size like 10MB or 512KiB, got {value!r}")


def positive(value: float) -> float:
    if value <= 0:
        raise ValueError("must be greater than zero")
    return value


def _duration(value: Any, info: ValidationInfo) -> float:
    context = info.context
    return parse_duration(value, unit_required=bool(context and context.get("from_file")))


Duration = Annotated[float, BeforeValidator(_duration)]
PositiveDuration = Annotated[float, BeforeValidator(_duration), AfterValidator(positive)]
Size = Annotated[int, BeforeValidator(parse_size)]
Headers = dict[str, str]


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


def check_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("not an http(s) URL")
    return value


def check_timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {value!r}") from exc
    return value


def check_cron(value: str) -> str:
    # Imported lazily: schedule.py is the only module that may import apscheduler at top level.
    from pricewatch.runtime.schedule import validate_cron

    validate_cron(value)
    return value


def check_currency(value: str) -> str:
    if not re.fullmatch(r"[A-Za-z]{3}", value):
        raise ValueError("expected an ISO 4217 currency code such as EUR or USD")
    return value.upper()


def _compiles(compile_rule: Callable[[str], object]) -> AfterValidator:
    def check(value: str) -> str:
        compile_rule(value)  # raises ExtractionError, a ValueError pydantic reports
        return value

    return AfterValidator(check)


HttpURL = Annotated[str, AfterValidator(check_url)]
TimeZone = Annotated[str, AfterValidator(check_timezone)]
Crontab = Annotated[str, AfterValidator(check_cron)]
Currency = Annotated[str, AfterValidator(check_currency)]
CssSelector = Annotated[str, _compiles(compile_css)]
XPathExpr = Annotated[str, _compiles(compile_xpath)]
PriceRegex = Annotated[str, _compiles(compile_regex)]

