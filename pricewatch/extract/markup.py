"""Automatic extractor (placeholder until implemented)."""

from __future__ import annotations

from pricewatch.extract.candidates import Findings
from pricewatch.extract.document import Document


def extract(doc: Document, found: Findings) -> None:
    """Append this extractor's candidates to ``found``."""
    del doc, found
