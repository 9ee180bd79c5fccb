"""Choosing one price among the candidates."""

from __future__ import annotations

from pricewatch.extract.candidates import Candidate
from pricewatch.extract.document import Document


def resolve(candidates: list[Candidate], doc: Document) -> tuple[Candidate | None, str]:
    """The winning candidate, or None and the reason."""
    del doc
    current = [c for c in candidates if c.role in ("current", "low")]
    if not current:
        return None, "no price found on the page"
    return max(current, key=lambda c: c.confidence - (0.2 if c.role == "low" else 0)), "best"
