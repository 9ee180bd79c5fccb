"""The one entry point: explicit rules first, then the automatic extractors, then a verdict."""

from __future__ import annotations

import sys
from collections.abc import Callable

from selectolax.lexbor import SelectolaxError

from pricewatch.errors import ExtractionError
from pricewatch.extract import availability, explicit
from pricewatch.extract.candidates import Candidate, Findings, Report
from pricewatch.extract.document import Document
from pricewatch.extract.image import find_image
from pricewatch.extract.resolve import resolve
from pricewatch.extract.title import find_title
from pricewatch.models import Extraction, ExtractSpec

Extractor = Callable[[Document, Findings], None]


def _auto_extractors() -> list[Extractor]:
    """The automatic extractors, in order; each appends candidates and signals."""
    from pricewatch.extract import heuristic, jsonld, markup

    return [jsonld.extract, markup.extract, heuristic.extract]


def _candidate_list(candidates: tuple[Candidate, ...]) -> str:
    return "; ".join(
        f"{c.price} {c.currency or '?'} ({c.extractor}, conf {c.confidence:.2f}: {c.evidence})"
        for c in candidates
    )


def _run(doc: Document) -> Report:
    found = Findings()
    winner: Candidate | None = None
    error: str | None = None
    detail: str | None = None
    rivals: tuple[Candidate, ...] = ()
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
        verdict = resolve(found.candidates)
        winner = verdict.winner
        if winner is not None:
            found.notes.append(f"chosen by the rule: {verdict.why}")
            error = None
        elif verdict.ambiguous:
            error, detail, rivals = verdict.why, "ambiguous", verdict.ambiguous
        elif error is None:
            error = verdict.why
    root = doc.root if doc.text else None
    index = doc.index if auto else doc.facts_index
    if root is not None:
        found.signals.extend(availability.visible_signals(index))
    # An ambiguous page still shows the product's price (only which one is in doubt): for
    # availability it is a priced page.
    in_stock, stock_evidence = availability.conclude(
        found.signals, priced=winner is not None or bool(rivals),
        stated=winner.in_stock if winner is not None else None)
    name = found.names[0] if found.names else None
    page_index = index if root is not None else None
    title = find_title(page_index, name)
    image = find_image(page_index, doc.url, found.images, found.block)
    evidence = winner.evidence if winner is not None else None
    if rivals:
        evidence = f"candidates: {_candidate_list(rivals)}"
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
        detail=detail,
        image=image,
    )
    return Report(result, tuple(found.candidates), tuple(found.signals), tuple(found.notes),
                  rivals)


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
    return explain_document(Document(text or "", url or "", spec or ExtractSpec()))


def explain_document(doc: Document) -> Report:
    """``explain`` for a page its caller has parsed already (the crawler reads the links of
    the same tree: one parse per page)."""
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
