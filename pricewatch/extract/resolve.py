"""Choosing one price among the candidates, or none when the page does not settle it.

Structured data is the best witness when the visible page agrees with it. When the markup's
price shows up on the page only as a struck-through/list price while a current price is shown,
the page wins: shops often leave the list price in their markup during a sale.

A wrong price is worse than no price. A visible-page winner must carry the evidence a person
would need (next to the product's name, called the current price, or inside the product's
block) and must beat every other amount on the page by a clear margin; otherwise the verdict
is "ambiguous" and the candidates go into the evidence for the user to pin one.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from pricewatch.extract.candidates import Candidate

_META_TAGS = frozenset(["opengraph", "meta"])
_STRUCTURED = frozenset(["jsonld", "microdata", "rdfa", "opengraph", "meta"])
# Cues (heuristic.Weights names) that let a person call a visible amount the product's price.
EVIDENCE = frozenset(["near_heading", "current_label", "current_text", "main_block"])
_MAX_SHOWN = 5


@dataclass(frozen=True, slots=True)
class Tuning:
    """The resolver's thresholds; ``bench/accuracy.py`` refits them on training folds."""

    # Two visible prices closer than this in score are a toss-up, not a choice: the weights
    # are coarse (a tenth per cue), so a gap below one cue's weight says nothing.
    margin: float = 0.1
    # A visible price lower than the markup's struck/list price replaces it from this score:
    # one cue above an element merely labelled "price" with a currency sign.
    list_override: float = 0.55
    # A visible price replaces an unconfirmed page-level meta tag from this score: it must
    # be near the heading or labelled current as well, since meta tags are usually right.
    meta_override: float = 0.7


TUNING = Tuning()


@dataclass(frozen=True, slots=True)
class Verdict:
    """The winner (or None), why, and the close candidates when the page is ambiguous."""

    winner: Candidate | None
    why: str
    ambiguous: tuple[Candidate, ...] = ()


def _rank(c: Candidate) -> float:
    return c.confidence - (0.2 if c.role == "low" else 0.0)


def has_evidence(c: Candidate) -> bool:
    """Whether a candidate shows any cue a person would need (structured data and explicit
    rules are their own evidence)."""
    if c.extractor != "heuristic":
        return True
    return any(name in EVIDENCE and value > 0 for name, value in c.cues)


def _distinct(candidates: list[Candidate]) -> list[Candidate]:
    """The best candidate of each amount, best first (a price repeated in a sticky header
    is one price, not a rival)."""
    best: dict[object, Candidate] = {}
    for c in sorted(candidates, key=_rank, reverse=True):
        best.setdefault(c.price, c)
    return list(best.values())


def _settle(candidates: list[Candidate], tuning: Tuning) -> tuple[Candidate | None, str]:
    """The clear visible winner, or None and why not ("" when there is no candidate)."""
    ranked = _distinct(candidates)
    if not ranked:
        return None, ""
    best = ranked[0]
    if not has_evidence(best):
        return None, "nothing ties the best amount to the product (not near its name, " \
            "not labelled as the current price, not in its block)"
    # Rounded: scores are sums of tenths, and 0.65 - 0.55 is 0.0999... in binary floats.
    close = [c for c in ranked[1:] if round(_rank(best) - _rank(c), 6) < tuning.margin]
    if close and not (_says_now(best) and not any(_says_now(c) for c in close)):
        # Close rivals are settled only by the shop's own words ("Now $52" beside "$64.95").
        return None, f"{len(ranked)} amounts on the page and the best two are close in score"
    return best, ""


def _says_now(c: Candidate) -> bool:
    return any(name == "current_text" for name, _ in c.cues)


_CURRENT_CUES = frozenset(["current_label", "current_text"])
_ELEMENT_MARKUP = frozenset(["microdata", "rdfa"])


def _called_current(c: Candidate) -> bool:
    return any(name in _CURRENT_CUES for name, _ in c.cues)


def _sale_below(
    marked: Candidate, visible: list[Candidate], tuning: Tuning
) -> Candidate | None:
    """A visible price below the microdata's that the page calls current while it never calls
    the microdata's amount current: the markup holds the list price of a sale."""
    if marked.extractor not in _ELEMENT_MARKUP:
        return None
    clear, _ = _settle(visible, tuning)
    if clear is None or clear.price >= marked.price or not _called_current(clear):
        return None
    if any(c.price == marked.price and _called_current(c) for c in visible):
        return None
    return clear


def _ambiguous(candidates: list[Candidate], reason: str) -> Verdict:
    shown = tuple(_distinct(candidates)[:_MAX_SHOWN])
    return Verdict(None, f"ambiguous: {reason}", shown)


def resolve(candidates: list[Candidate], tuning: Tuning = TUNING) -> Verdict:
    """The winning candidate, or None and the reason (with the rivals when ambiguous)."""
    structured = [c for c in candidates if c.extractor in _STRUCTURED and c.role != "list"]
    visible = [c for c in candidates if c.extractor == "heuristic" and c.role == "current"]
    visible_list = {c.price for c in candidates if c.extractor == "heuristic" and c.role == "list"}
    visible_amounts = {c.price for c in visible} - visible_list
    if structured:
        marked = max(structured, key=_rank)
        lower = _sale_below(marked, visible, tuning)
        if lower is not None:
            return Verdict(replace(
                lower,
                evidence=f"{lower.evidence} (markup says {marked.price}, the page sells lower)",
            ), "page shows a lower current price than the markup")
        confirmed = [c for c in structured if c.price in visible_amounts]
        if confirmed:
            best = max(confirmed, key=_rank)
            return Verdict(replace(
                best,
                confidence=min(1.0, best.confidence + 0.1),
                evidence=f"{best.evidence}; shown on the page",
            ), "structured data confirmed by the page")
        best = max(structured, key=_rank)
        clear, _ = _settle(visible, tuning)
        if (
            clear is not None
            and best.price in visible_list
            and clear.price < best.price
            and clear.confidence >= tuning.list_override
        ):
            return Verdict(replace(
                clear,
                evidence=f"{clear.evidence} (markup says {best.price}, shown struck/list)",
            ), "page shows the markup price as a list price")
        if (
            best.extractor in _META_TAGS
            and clear is not None
            and clear.confidence >= tuning.meta_override
        ):
            # Page-level meta tags are often a template's "from" price or stale; a strong
            # visible price that the meta tag does not match is what the shopper pays.
            return Verdict(replace(
                clear,
                evidence=f"{clear.evidence} (meta tag says {best.price}, not shown)",
            ), "visible page beats an unconfirmed meta tag")
        return Verdict(best, "structured data")
    if visible:
        clear, doubt = _settle(visible, tuning)
        if clear is None:
            return _ambiguous(visible, doubt)
        return Verdict(clear, "visible page")
    listed = [c for c in candidates if c.role == "list"]
    if listed:
        # Only a "regular"/list price is shown: with no sale, that is what the item costs.
        clear, doubt = _settle(listed, tuning)
        if clear is None:
            return _ambiguous(listed, doubt)
        return Verdict(replace(clear, confidence=clear.confidence * 0.7), "only a list price")
    return Verdict(None, "no price found on the page")
