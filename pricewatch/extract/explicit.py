"""The offer's own rules: CSS selector, XPath, attribute, regex, JSON path.

An explicit rule that finds nothing is an answer ("selector '.price' matched nothing"), not a
cue to guess: the user asked for that element, and a silent fallback would hide a changed page.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from selectolax.lexbor import LexborHTMLParser, LexborNode, SelectolaxError

from pricewatch.extract.candidates import Candidate
from pricewatch.extract.document import Document, text_of
from pricewatch.extract.money import parse_machine, parse_with_hints
from pricewatch.extract.rules import compile_css, compile_regex, compile_xpath

_MAX_MATCHES = 50


def describe(doc: Document) -> str:
    """The rule in the words the user wrote it."""
    spec = doc.spec
    if spec.json_path:
        return f"json_path {spec.json_path!r}"
    if spec.selector:
        return f"selector {spec.selector!r}"
    if spec.xpath:
        return f"xpath {spec.xpath!r}"
    return f"regex {spec.regex!r}"


def _apply_regex(text: str, pattern: str | None) -> str | None:
    """The price part of ``text`` per the rule's regex (group ``price``, group 1, or match)."""
    if pattern is None:
        return text
    compiled = compile_regex(pattern)
    match = compiled.search(text)
    if match is None:
        return None
    if "price" in compiled.groupindex:
        return match.group("price")
    return match.group(1) if compiled.groups else match.group(0)


def _walk_json(data: Any, path: str) -> tuple[bool, Any]:
    """Follow a dotted path (list indexes as numbers); (False, None) when a step is missing."""
    node = data
    for step in path.split("."):
        if step == "":
            continue
        if isinstance(node, dict):
            if step not in node:
                return False, None
            node = node[step]
        elif isinstance(node, list):
            try:
                node = node[int(step)]
            except (ValueError, IndexError):
                return False, None
        else:
            return False, None
    return True, node


def _json_rule(doc: Document) -> Candidate | str:
    path = doc.spec.json_path or ""
    try:
        data = json.loads(doc.text)
    except (ValueError, RecursionError):
        return f"json_path {path!r}: the body is not JSON"
    found, value = _walk_json(data, path)
    if not found or value is None:
        return f"json_path {path!r} matched nothing"
    if doc.spec.regex is not None:
        part = _apply_regex(str(value), doc.spec.regex)
        if part is None:
            return f"json_path {path!r}: regex {doc.spec.regex!r} did not match {value!r:.80}"
        value = part
    if isinstance(value, str):
        amount, currency = parse_with_hints(value, doc.hints, currency_hint=doc.spec.currency)
        if amount is None:
            amount = parse_machine(value, doc.hints, doc.spec.currency)
    else:
        amount, currency = parse_machine(value, doc.hints, doc.spec.currency), None
    if amount is None:
        return f"json_path {path!r} holds no price: {value!r:.80}"
    return Candidate(
        "json_path",
        amount,
        currency or doc.spec.currency or doc.hints.currency,
        1.0,
        f"json_path {path!r} = {value!r:.80}",
    )


def _node_values(doc: Document, matches: list[LexborNode]) -> list[tuple[str, str]]:
    """(text, where) pairs from the elements a CSS selector matched on the Lexbor tree."""
    attr = doc.spec.attribute
    out: list[tuple[str, str]] = []
    for m in matches[:_MAX_MATCHES]:
        attrs = m.attributes
        if attr:
            if attr in attrs:  # a bare attribute reads as "", as it always did
                out.append((attrs[attr] or "", f"<{m.tag}> @{attr}"))
        elif m.tag in ("script", "style"):  # visible-text rules skip these; a rule aims here
            out.append((m.text(deep=True), f"<{m.tag}{_label(attrs)}>"))
        else:
            out.append((text_of(m), f"<{m.tag}{_label(attrs)}>"))
    return out


def _lxml_values(doc: Document, matches: list[Any]) -> list[tuple[str, str]]:
    """(text, where) pairs from XPath results: elements, attribute values or text nodes."""
    from pricewatch.extract.lxmltree import text_of as lxml_text_of

    attr = doc.spec.attribute
    out: list[tuple[str, str]] = []
    for m in matches[:_MAX_MATCHES]:
        if isinstance(m, str):  # an XPath that selects @attr or text() yields strings
            out.append((str(m), "matched text"))
        elif isinstance(m, bool | int | float):
            out.append((str(m), "matched value"))
        elif attr:
            value = m.get(attr) if hasattr(m, "get") else None
            if value is not None:
                out.append((value, f"<{m.tag}> @{attr}"))
        elif m.tag in ("script", "style"):
            out.append((m.text or "", f"<{m.tag}{_label(m.attrib)}>"))
        elif isinstance(getattr(m, "tag", None), str):
            out.append((lxml_text_of(m), f"<{m.tag}{_label(m.attrib)}>"))
    return out


def _label(attrs: Mapping[str, str | None]) -> str:
    ident = attrs.get("id")
    cls = attrs.get("class")
    label = f" id={ident!r}" if ident else ""
    return label + (f" class={' '.join(cls.split())[:60]!r}" if cls else "")


def run(doc: Document) -> Candidate | str:
    """Apply the explicit rule: a candidate with confidence 1, or the reason there is none."""
    spec = doc.spec
    if spec.json_path:
        return _json_rule(doc)
    if not (spec.selector or spec.xpath):  # a bare regex reads the raw page
        return _price_from(doc, [(doc.text, "page text")])
    css = compile_css(spec.selector) if spec.selector else None
    if css is not None and css.xpath is None:
        found = _css_rule(doc, css.css, doc.tree)
        if isinstance(found, str) and doc.full_tree is not doc.tree:
            # Nothing in the tree without scripts: the rule may target a script's contents.
            found = _css_rule(doc, css.css, doc.full_tree)
        return found
    xpath = css.xpath if css is not None else compile_xpath(spec.xpath or "")
    found = _xpath_rule(doc, xpath, doc.lxml_root)
    if isinstance(found, str) and doc.lxml_full_root is not doc.lxml_root:
        found = _xpath_rule(doc, xpath, doc.lxml_full_root)
    return found


def _css_rule(doc: Document, css: str, tree: LexborHTMLParser | None) -> Candidate | str:
    rule = describe(doc)
    if tree is None:
        return f"{rule}: the page could not be parsed as HTML"
    try:
        matches = tree.css(css)
    except SelectolaxError as exc:
        return f"{rule} failed: {exc}"
    return _matched(doc, rule, bool(matches), _node_values(doc, matches))


def _xpath_rule(doc: Document, compiled: Any, root: Any | None) -> Candidate | str:
    from lxml import etree

    rule = describe(doc)
    if root is None:
        return f"{rule}: the page could not be parsed as HTML"
    try:
        result = compiled(root)
    except (etree.XPathError, ValueError) as exc:
        return f"{rule} failed: {exc}"
    matches = result if isinstance(result, list) else [result]
    return _matched(doc, rule, bool(matches), _lxml_values(doc, matches))


def _matched(
    doc: Document, rule: str, matched: bool, values: list[tuple[str, str]]
) -> Candidate | str:
    if not values:
        attr = doc.spec.attribute
        suffix = f" with attribute {attr!r}" if attr and matched else ""
        return f"{rule} matched nothing{suffix}"
    return _price_from(doc, values)


def _price_from(doc: Document, values: list[tuple[str, str]]) -> Candidate | str:
    spec = doc.spec
    rule = describe(doc)
    for value, where in values:
        part = _apply_regex(value, spec.regex)
        if part is None:
            continue
        amount, currency = parse_with_hints(part, doc.hints, currency_hint=spec.currency)
        if amount is not None:
            shown = " ".join(part.split())[:80]
            return Candidate(
                rule.split(" ", 1)[0],
                amount,
                currency or doc.hints.currency,
                1.0,
                f"{rule} -> {where}: {shown!r}",
            )
    first = " ".join(values[0][0].split())[:60]
    if spec.regex is not None:
        return f"{rule}: regex {spec.regex!r} found no price (first match text: {first!r})"
    return f"{rule} matched {len(values)} element(s) but none holds a price (first: {first!r})"


def is_explicit(doc: Document) -> bool:
    """Whether the offer carries a rule of its own (a bare regex counts)."""
    spec = doc.spec
    return bool(spec.selector or spec.xpath or spec.json_path or spec.regex)
