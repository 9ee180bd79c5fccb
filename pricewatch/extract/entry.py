"""The one entry point: explicit rules first, then the automatic extractors, then a verdict."""

from __future__ import annotations

import sys
from collections.abc import Callable

from selectolax.lexbor import SelectolaxError

from pricewatch.errors import ExtractionError
from pricewatch.extract import availability, explicit
from pricewatch.extract.candidates import Candidate, Findings, Report
from pricewatch.extract.document import Document
from pricewatch.extract.resolve import resolve
from pricewatch.extract.title import find_title
from pricewatch.models import Extraction, ExtractSpec

Extractor = Callable[[Document, Findings], None]


def _auto_extractors() -> list[Extractor]:
    """The automatic extractors, in order; each appends candidates and signals."""
    from pricewatch.extract import heuristic, jsonld, markup

    return [jsonld.extract, markup.extract, heuristic.extract]


def _run(doc: Document) -> Report:
    found = Findings()
    winner: Candidate | None = None
    error: str | None = None
    auto = True
    if explicit.is_explicit(doc):
        outcome = explicit.run(doc)
        if isinstance(outcome, Candidate):
            found.candidates.append(outcome)
            winner = outcome
            auto = False
        else:
            error = outcome
            auto = doc.spec.fallback_auto
            if auto:
                found.notes.append(f"{outcome}; trying automatic extraction (fallback_auto)")
    if auto:
        for extractor in _auto_extractors():
            extractor(doc, found)
        winner, why = resolve(found.candidates, doc)
        if winner is None and error is None:
            error = why
        elif winner is not None:
            found.notes.append(f"chosen by the rule: {why}")
            error = None
    root = doc.root if doc.text else None
    index = doc.index if auto else doc.facts_index
    if root is not None:
        found.signals.extend(availability.visible_signals(index))
    stock = availability.decide(found.signals)
    in_stock = stock.in_stock if stock is not None else None
    stock_evidence = stock.evidence if stock is not None else None
    if winner is not None and stock is None:
        # The benchmark's rule, and a shopper's reading: a product page that shows a price
        # and nowhere says "sold out" is selling the item.
        in_stock = True if winner.in_stock is None else winner.in_stock
        stock_evidence = "assumed: a price is shown and nothing says out of stock"
    name = found.names[0] if found.names else None
    title = find_title(index if root is not None else None, name)
    evidence = winner.evidence if winner is not None else None
    if stock_evidence is not None and evidence is not None:
        evidence = f"{evidence}; availability: {stock_evidence}"
    result = Extraction(
        price=winner.price if winner is not None else None,
        currency=winner.currency if winner is not None else None,
        in_stock=in_stock,
        title=title,
        extractor=winner.extractor if winner is not None else None,
        evidence=evidence,
        error=None if winner is not None else (error or "no price found"),
    )
    return Report(result, tuple(found.candidates), tuple(found.signals), tuple(found.notes))


def _page_errors() -> tuple[type[BaseException], ...]:
    """What bad page content can raise. lxml's errors count only once an XPath rule loaded
    lxml: importing it in every process would add its RSS for nothing."""
    base: tuple[type[BaseException], ...] = (
        ValueError, RecursionError, UnicodeError, SelectolaxError, MemoryError)
    etree = sys.modules.get("lxml.etree")
    return (*base, etree.LxmlError) if etree is not None else base


def explain(text: str, *, url: str, spec: ExtractSpec | None = None) -> Report:
    """Every candidate, every availability signal, and the final Extraction, for the CLI.

    Raises ExtractionError only for an unusable rule (bad selector or regex), never for
    bad page content.
    """
    doc = Document(text or "", url or "", spec or ExtractSpec())
    try:
        return _run(doc)
    except ExtractionError:
        raise
    except Exception as exc:
        if not isinstance(exc, _page_errors()):
            raise
        # Page content that trips a library is a failed extraction, not a crash of the round.
        failed = Extraction(None, None, None, error=f"page could not be read: {exc!r:.200}")
        return Report(failed)


def extract(text: str, *, url: str, spec: ExtractSpec) -> Extraction:
    """The price, currency, availability and title of one page; see ``explain``."""
    return explain(text, url=url, spec=spec).result
