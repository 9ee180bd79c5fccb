"""Fetching pages politely; ``Fetcher`` is the entry point."""

from pricewatch.fetch.client import Fetcher
from pricewatch.fetch.observer import FetchObserver, NullObserver
from pricewatch.fetch.retry import RetryPolicy

__all__ = ["FetchObserver", "Fetcher", "NullObserver", "RetryPolicy"]
