"""Fetching pages politely; ``Fetcher`` is the entry point."""

from pricewatch.fetch.client import Fetcher

__all__ = ["Fetcher"]
