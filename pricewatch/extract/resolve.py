"""Choosing one price among the candidates.

Structured data is the best witness when the visible page agrees with it. When the markup's
price shows up on the page only as a struck-through/list price while a current price is shown,
the page wins: shops often leave the list price in their markup during a sale.
"""

from __future__ import annotations

from dataclasses import replace

from pricewatch.extract.candidates import Candidate
from pricewatch.extract.document import Document

_META_TAGS = frozenset(["opengraph", "meta"])
_STRUCTURED = frozenset(["jsonld", "microdata", "rdfa", "opengraph", "meta"])


def _rank(c: Candidate) -> float:
    return c.confidence - (0.2 if c.role == "low" else 0.0)


def resolve(candidates: list[Candidate], doc: Document) -> tuple[Candidate | None, str]:
    """The winning candidate, or None and the reason."""
    del doc
    structured = [c for c in candidates if c.extractor in _STRUCTURED and c.role != "list"]
    visible = [c for c in candidates if c.extractor == "heuristic" and c.role == "current"]
    visible_list = {c.price for c in candidates if c.extractor == "heuristic" and c.role == "list"}
    visible_amounts = {c.price for c in visible} - visible_list
    best_visible = max(visible, key=_rank) if visible else None
    if structured:
        confirmed = [c for c in structured if c.price in visible_amounts]
        if confirmed:
            best = max(confirmed, key=_rank)
            return replace(
                best,
                confidence=min(1.0, best.confidence + 0.1),
                evidence=f"{best.evidence}; shown on the page",
            ), "structured data confirmed by the page"
        best = max(structured, key=_rank)
        if (
            best_visible is not None
            and best.price in visible_list
            and best_visible.price < best.price
            and best_visible.confidence >= 0.55
        ):
            return replace(
                best_visible,
                evidence=f"{best_visible.evidence} (markup says {best.price}, shown struck/list)",
            ), "page shows the markup price as a list price"
        if (
            best.extractor in _META_TAGS
            and best_visible is not None
            and best_visible.confidence >= 0.7
        ):
            # Page-level meta tags are often a template's "from" price or stale; a strong
            # visible price that the meta tag does not match is what the shopper pays.
            return replace(
                best_visible,
                evidence=f"{best_visible.evidence} (meta tag says {best.price}, not shown)",
            ), "visible page beats an unconfirmed meta tag"
        return best, "structured data"
    if best_visible is not None:
        return best_visible, "visible page"
    listed = [c for c in candidates if c.role == "list"]
    if listed:
        # Only a "regular"/list price is shown: with no sale, that is what the item costs.
        best = max(listed, key=_rank)
        return replace(best, confidence=best.confidence * 0.7), "only a list price"
    return None, "no price found on the page"
