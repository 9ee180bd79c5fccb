"""Price extraction: one parsed page, explicit rules first, then structured data, then the page.

Public API (others code against it)::

    extract(text, *, url, spec) -> Extraction      never raises for bad page content
    explain(text, *, url, spec) -> Report          every candidate plus the final Extraction
    parse_price(text, *, currency_hint=None, locale=None, url=None) -> (Decimal | None, ISO | None)
"""

from __future__ import annotations

from pricewatch.extract.candidates import Candidate, Report, Signal
from pricewatch.extract.entry import explain, extract
from pricewatch.extract.money import parse_price

__all__ = ["Candidate", "Report", "Signal", "explain", "extract", "parse_price"]
