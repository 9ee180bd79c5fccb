"""Hooks the fetcher calls so the daemon can count what politeness cost (Prometheus counters
live in metrics.py; the fetcher must not import them)."""

from __future__ import annotations

from typing import Protocol


class FetchObserver(Protocol):
    """Told about fetch events; implementations must be cheap and must not raise."""

    def on_retry(self, host: str, reason: str) -> None:
        """A temporary failure (``reason`` is the outcome, e.g. ``timeout``) will be retried."""

    def on_robots_blocked(self, host: str) -> None:
        """robots.txt disallowed a page (or was unavailable), so no request was made."""

    def on_host_paused(self, host: str) -> None:
        """The host's circuit breaker is open; a check was recorded without a request."""


class NullObserver:
    """The default observer: ignores everything."""

    def on_retry(self, host: str, reason: str) -> None:
        pass

    def on_robots_blocked(self, host: str) -> None:
        pass

    def on_host_paused(self, host: str) -> None:
        pass
