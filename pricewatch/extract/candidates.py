"""What extractors produce (candidates) and what ``explain`` returns (a report)."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from selectolax.lexbor import LexborNode

from pricewatch.models import Extraction


@dataclass(frozen=True, slots=True)
class Candidate:
    """One extractor's reading of the price; the resolver picks among these."""

    extractor: str  # "selector", "jsonld", "heuristic", ...
    price: Decimal
    currency: str | None
    confidence: float  # 0..1, comparable across extractors
    evidence: str  # human words: which element or markup
    in_stock: bool | None = None  # availability stated next to this price, if any
    role: str = "current"  # "current", "list" (was/RRP), "low" (range/aggregate low)
    # The visible-page cues behind ``confidence`` (name, strength), for the resolver's
    # evidence test and for refitting weights in bench/accuracy.py.
    cues: tuple[tuple[str, float], ...] = ()
    # The page element it was read from, for pinning it with a selector; not compared.
    element: LexborNode | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Signal:
    """One piece of availability evidence."""

    in_stock: bool
    confidence: float
    evidence: str


@dataclass(frozen=True, slots=True)
class Report:
    """Everything ``explain`` saw: all candidates, availability signals, and the verdict."""

    result: Extraction
    candidates: tuple[Candidate, ...] = ()
    availability: tuple[Signal, ...] = ()
    notes: tuple[str, ...] = field(default=())
    # When the verdict is "ambiguous": the close candidates, best first.
    rivals: tuple[Candidate, ...] = ()

    def lines(self) -> list[str]:
        """A plain-text rendering for the CLI."""
        out = [
            f"result: price={self.result.price} currency={self.result.currency} "
            f"in_stock={self.result.in_stock} extractor={self.result.extractor}",
        ]
        if self.result.evidence:
            out.append(f"  evidence: {self.result.evidence}")
        if self.result.error:
            out.append(f"  error: {self.result.error}")
        if self.result.title:
            out.append(f"  title: {self.result.title}")
        out.append(f"candidates ({len(self.candidates)}):")
        out.extend(
            f"  {c.extractor:<10} {c.price!s:>12} {c.currency or '-':<4} "
            f"conf={c.confidence:.2f} role={c.role} {c.evidence}"
            for c in self.candidates
        )
        out.append(f"availability signals ({len(self.availability)}):")
        out.extend(
            f"  in_stock={s.in_stock} conf={s.confidence:.2f} {s.evidence}"
            for s in self.availability
        )
        out.extend(f"note: {n}" for n in self.notes)
        return out


@dataclass(slots=True)
class Findings:
    """What the extractors collected on one page; each extractor appends to it."""

    candidates: list[Candidate] = field(default_factory=list)
    signals: list[Signal] = field(default_factory=list)
    names: list[str] = field(default_factory=list)  # product names from structured data
    images: list[str] = field(default_factory=list)  # product image URLs from structured data
    block: LexborNode | None = None  # the main product block, when the heuristic found one
    notes: list[str] = field(default_factory=list)
