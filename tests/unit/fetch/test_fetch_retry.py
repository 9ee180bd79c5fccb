"""The retry policy: which failures are temporary, full-jitter bounds, Retry-After."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest

from pricewatch.fetch.retry import RetryPolicy, is_temporary, parse_retry_after
from pricewatch.models import Outcome


@pytest.mark.parametrize(
    ("outcome", "status", "temporary"),
    [
        (Outcome.TIMEOUT, None, True),
        (Outcome.NETWORK_ERROR, None, True),
        (Outcome.RATE_LIMITED, 429, True),
        (Outcome.HTTP_ERROR, 502, True),
        (Outcome.HTTP_ERROR, 503, True),
        (Outcome.HTTP_ERROR, 504, True),
        (Outcome.HTTP_ERROR, 500, False),
        (Outcome.HTTP_ERROR, 404, False),
        (Outcome.BLOCKED, 403, False),
        (Outcome.TOO_LARGE, None, False),
        (Outcome.NOT_HTML, 200, False),
    ],
)
def test_temporary_failures(outcome: Outcome, status: int | None, temporary: bool) -> None:
    """Only connection errors, timeouts, 429 and 502/503/504 are retried."""
    assert is_temporary(outcome, status) is temporary


def test_full_jitter_stays_within_the_exponential_ceiling() -> None:
    """Every backoff lies in [0, min(max, base * 2**(n-1))], and the draws are spread."""
    policy = RetryPolicy(attempts=10, backoff_base=0.5, backoff_max=4.0)
    rng = random.Random(1)
    for failed, ceiling in [(1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0), (8, 4.0)]:
        draws = [policy.delay(failed, None, rng) for _ in range(200)]
        assert all(0 <= d <= ceiling for d in draws)
        assert max(draws) > 0.8 * ceiling
        assert min(draws) < 0.2 * ceiling


def test_retry_after_replaces_backoff_and_is_capped() -> None:
    """A server's Retry-After wins over the backoff, up to retry_after_max."""
    policy = RetryPolicy(retry_after_max=30.0)
    rng = random.Random(1)
    assert policy.delay(1, 7.0, rng) == 7.0
    assert policy.delay(1, 3600.0, rng) == 30.0


def test_parse_retry_after_forms() -> None:
    """Delta-seconds and HTTP dates parse; garbage and past dates do not wait."""
    now = datetime(2026, 11, 25, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("120", now) == 120.0
    assert parse_retry_after("Wed, 25 Nov 2026 12:00:30 GMT", now) == 30.0
    assert parse_retry_after("Wed, 25 Nov 2026 11:00:00 GMT", now) == 0.0
    assert parse_retry_after("soon", now) is None
    assert parse_retry_after(None, now) is None
