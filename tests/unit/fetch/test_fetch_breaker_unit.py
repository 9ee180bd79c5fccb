"""The circuit breaker's state machine with a fake clock."""

from __future__ import annotations

from pricewatch.fetch.breaker import Admission, CircuitBreaker
from pricewatch.models import FetchResult, Outcome

FAIL = FetchResult(Outcome.TIMEOUT, "u")
OK = FetchResult(Outcome.OK, "u", status=200)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_opens_after_consecutive_failures_only() -> None:
    """A success in between resets the count; N failures in a row open the breaker."""
    clock = Clock()
    breaker = CircuitBreaker(failures=3, pause=60, clock=clock)
    for result in (FAIL, FAIL, OK, FAIL, FAIL):
        breaker.record("h", result, probe=False)
    assert breaker.admit("h").allowed
    breaker.record("h", FAIL, probe=False)
    admission = breaker.admit("h")
    assert not admission.allowed
    assert admission.paused_for == 60
    assert breaker.admit("other").allowed


def test_half_open_allows_one_probe() -> None:
    """After the pause exactly one probe is admitted; its success closes the breaker."""
    clock = Clock()
    breaker = CircuitBreaker(failures=1, pause=10, clock=clock)
    breaker.record("h", FAIL, probe=False)
    clock.now += 10
    probe = breaker.admit("h")
    assert probe.allowed
    assert probe.probe
    assert not breaker.admit("h").allowed
    breaker.record("h", OK, probe=True)
    assert breaker.admit("h") == Admission(True)  # closed: no pause, no probe


def test_failed_probe_reopens_and_released_probe_can_be_retried() -> None:
    """A failed probe pauses again; a cancelled probe lets the next check probe."""
    clock = Clock()
    breaker = CircuitBreaker(failures=2, pause=10, clock=clock)
    breaker.record("h", FAIL, probe=False)
    breaker.record("h", FAIL, probe=False)
    clock.now += 10
    assert breaker.admit("h").probe
    breaker.release("h")
    assert breaker.admit("h").probe
    breaker.record("h", FAIL, probe=True)
    assert not breaker.admit("h").allowed
    clock.now += 10
    assert breaker.admit("h").probe


def test_page_errors_and_robots_are_not_host_failures() -> None:
    """404s reset the count, robots blocks are neutral, 5xx count."""
    breaker = CircuitBreaker(failures=2, pause=10, clock=Clock())
    breaker.record("h", FetchResult(Outcome.HTTP_ERROR, "u", status=500), probe=False)
    breaker.record("h", FetchResult(Outcome.ROBOTS_DISALLOWED, "u"), probe=False)
    assert breaker.admit("h").allowed
    breaker.record("h", FetchResult(Outcome.HTTP_ERROR, "u", status=404), probe=False)
    breaker.record("h", FAIL, probe=False)
    assert breaker.admit("h").allowed
    breaker.record("h", FetchResult(Outcome.BLOCKED, "u", status=403), probe=False)
    assert not breaker.admit("h").allowed
