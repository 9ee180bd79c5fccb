"""Per-host circuit breaker: after N consecutive failed checks a host is paused, so one dead
shop costs no requests; after the pause one probe is let through (half-open) and its result
closes the breaker or pauses the host again."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from pricewatch.models import FetchResult, Outcome

# Failures that say "this host is in trouble or does not want us", not "this page is wrong".
_HOST_FAILURES = frozenset(
    {Outcome.TIMEOUT, Outcome.NETWORK_ERROR, Outcome.RATE_LIMITED, Outcome.BLOCKED}
)
# Results that say nothing about the host because no request (or no sane one) was made.
_NEUTRAL = frozenset(
    {Outcome.ROBOTS_DISALLOWED, Outcome.HOST_PAUSED, Outcome.CANCELLED, Outcome.ERROR}
)


def counts_as_failure(result: FetchResult) -> bool:
    """Whether ``result`` is evidence that the whole host is failing."""
    if result.outcome in _HOST_FAILURES:
        return True
    return result.outcome is Outcome.HTTP_ERROR and (result.status or 0) >= 500


@dataclass
class _State:
    consecutive: int = 0
    open_until: float | None = None
    probing: bool = False


@dataclass(frozen=True, slots=True)
class Admission:
    """May a request go to the host now? ``probe`` marks the single half-open request."""

    allowed: bool
    probe: bool = False
    paused_for: float = 0.0  # seconds left in the pause, when not allowed


class CircuitBreaker:
    """Tracks consecutive failures per host; ``admit`` before a fetch, ``record`` after."""

    def __init__(
        self, *, failures: int, pause: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._threshold = failures
        self._pause = pause
        self._clock = clock
        self._states: dict[str, _State] = {}

    def admit(self, host: str) -> Admission:
        state = self._states.get(host)
        if state is None or state.open_until is None:
            return Admission(True)
        left = state.open_until - self._clock()
        if left > 0:
            return Admission(False, paused_for=left)
        if state.probing:  # another check is already probing the host
            return Admission(False)
        state.probing = True
        return Admission(True, probe=True)

    def record(self, host: str, result: FetchResult, *, probe: bool) -> None:
        """Account one finished fetch of ``host``."""
        state = self._states.setdefault(host, _State())
        if probe:
            state.probing = False
        if result.outcome in _NEUTRAL:
            return
        if counts_as_failure(result):
            state.consecutive += 1
            if probe or state.consecutive >= self._threshold:
                state.open_until = self._clock() + self._pause
            return
        state.consecutive = 0
        state.open_until = None

    def release(self, host: str) -> None:
        """A probe ended without a verdict (cancelled): let the next check probe."""
        state = self._states.get(host)
        if state is not None:
            state.probing = False
