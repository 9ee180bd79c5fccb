"""Which failures are temporary, and how long to wait before trying again.

Backoff is exponential with full jitter (sleep a uniform time in [0, min(max, base * 2**n)]),
so many offers failing on one host at once do not come back in lockstep. A server's
``Retry-After`` replaces the backoff, capped so a hostile value cannot park a check for days.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from pricewatch.config import RetryConfig
from pricewatch.models import Outcome

# 500 and 501 usually mean the page itself is broken; retrying it only adds load.
TEMPORARY_STATUSES = frozenset({429, 502, 503, 504})
_TEMPORARY_OUTCOMES = frozenset({Outcome.TIMEOUT, Outcome.NETWORK_ERROR})


def is_temporary(outcome: Outcome, status: int | None) -> bool:
    """Whether another attempt may succeed: timeouts, connection errors, 429, 502/503/504."""
    if status is not None:
        return status in TEMPORARY_STATUSES
    return outcome in _TEMPORARY_OUTCOMES


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Bounded attempts with exponential backoff and full jitter."""

    attempts: int = 3
    backoff_base: float = 1.0
    backoff_max: float = 60.0
    retry_after_max: float = 300.0

    @classmethod
    def from_config(cls, config: RetryConfig) -> RetryPolicy:
        return cls(config.attempts, config.backoff_base, config.backoff_max,
                   config.retry_after_max)

    def ceiling(self, failed_attempts: int) -> float:
        """The largest backoff after ``failed_attempts`` failures (1 after the first)."""
        return min(self.backoff_max, self.backoff_base * 2.0 ** (failed_attempts - 1))

    def delay(self, failed_attempts: int, retry_after: float | None, rng: random.Random) -> float:
        """Seconds to sleep before the next attempt."""
        if retry_after is not None:
            return min(retry_after, self.retry_after_max)
        return rng.uniform(0.0, self.ceiling(failed_attempts))
