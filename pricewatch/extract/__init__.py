"""Price extraction: one parsed page, explicit rules first, then structured data, then the page.

Public API (others code against it)::

    extract(text, *, url, spec) -> Extraction      never raises for bad page content
    explain(text, *, url, spec) -> Report          every candidate plus the final Extraction
    parse_price(text, *, currency_hint=None, locale=None, url=None) -> (Decimal | None, ISO | None)

The names load on first use: the config validates rules through ``extract.rules`` without
loading the extractors, and with extraction workers the main process never loads them.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pricewatch.extract.candidates import Candidate, Report, Signal
    from pricewatch.extract.entry import explain, extract
    from pricewatch.extract.money import parse_price

__all__ = ["Candidate", "Report", "Signal", "explain", "extract", "parse_price"]

_HOMES = {"Candidate": "candidates", "Report": "candidates", "Signal": "candidates",
          "explain": "entry", "extract": "entry", "parse_price": "money"}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f"pricewatch.extract.{home}"), name)
    globals()[name] = value
    return value
