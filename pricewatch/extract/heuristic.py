"""Visible-page prices for pages without (or with untrustworthy) structured data.

Candidates are elements whose class or id says "price", scored by general cues: near the
product heading, "sale/current/now" labels, a currency sign. Struck-through and "was/list/RRP"
amounts become list prices; carousels, carts and shipping thresholds are left out.
No per-domain rules: every cue here holds across shops.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from lxml import etree

from pricewatch.extract.candidates import Candidate, Findings
from pricewatch.extract.document import Document, text_of
from pricewatch.extract.money import parse_with_hints
from pricewatch.extract.title import main_heading

# Class/id labels are read as words ("priceBlock_ourPrice" -> "price block our price"), so
# "bold" is not "old", "celwidget" is not "widget" and "a-nowrap" is not "now".
_LIST_LABEL = re.compile(
    r"\b(?:old|was|list|regular|rrp|msrp|strike\w*|crossed|before|compare|original|retail"
    r"|saving|savings|save|you save|reduction|instead|uvp|statt|barr[eé]?|prix barre|previous"
    r"|prev|base price|pvp|price from|high|max)\b"
)
_LIST_TEXT = re.compile(
    r"\b(?:was|list|regular|rrp|msrp|retail|reg\.?|orig(?:inal)?|compare at|you save|save"
    r"|statt|uvp|avant|au lieu de|antes|prima|invece di|van|era|de:)\b",
    re.IGNORECASE,
)
_CURRENT_LABEL = re.compile(
    r"\b(?:sales?|current|now|special|final|our|deal|actual|offers?|selling|promo|reduced"
    r"|new price|price new|main|big|product price|pdp|buy|buybox)\b"
)
_SALE_LABEL = re.compile(
    r"\b(?:sales?|current|now|special|final|deal|offer|promo|reduced|new price|price new)\b"
)
# The shop's own words for the price being charged now.
_CURRENT_TEXT = re.compile(
    r"^\W*(?:now|sale|our price|special|deal|jetzt|nur|maintenant|ahora|ora|nu)\b", re.I
)
# Zones whose prices belong to other products or to something other than the item.
_ZONE = re.compile(
    r"\b(?:related|recommend\w*|carousel|upsell|up sell|cross ?sell|also|similar\w*|recent\w*"
    r"|viewed|cart|basket|bundle|shipping|delivery|footer|nav\w*|menu|reviews?|sidebar|widget"
    r"|slider|banner|accessor\w*|compare products?|comparison|products? list\w*|listing"
    r"|products? (?:grid|tiles?|cards?)|(?:grid|tile|card) items?|teaser|suggest\w*|sponsor\w*)\b"
)
# The buy box is often a form or block named "add to cart": that is the product's own.
_ADD_TO = re.compile(r"\badd ?to (?:cart|basket|bag)\b")
_HIDDEN_STYLE = re.compile(r"(?<![\w-])(?:display\s*:\s*none|visibility\s*:\s*hidden)", re.I)
_HIDDEN_CLASSES = frozenset(["hidden", "hide", "d-none", "invisible", "is-hidden"])
_CAMEL = re.compile(r"([a-z0-9])([A-Z])")
_GLUED = re.compile(r"(price|cart|basket|stock|product)")
_NON_WORD = re.compile(r"[^a-z0-9]+")
_BAD_TEXT = re.compile(
    r"shipping|delivery|versand|livraison|env[ií]o|spedizione|verzending|frete|dostawa|frakt"
    r"|orders? (?:over|above)|\bover\b|\bab\b|per month|/mo\b|monthly|month|financ|installment"
    r"|cuotas|parcel|x\s*\d|points|reward|gift card|coupon|club|member",
    re.IGNORECASE,
)
_THRESHOLD = re.compile(
    r"free|gratis|gratuit|kostenlos|\b(?:over|above|orders?|ab|dès|desde|oltre|vanaf)\b\s*"
    r"(?:of\s*)?[$€£]?\s*\d",
    re.IGNORECASE,
)
_FROM_TEXT = re.compile(r"\b(?:from|ab|desde|à partir de|a partire da|vanaf|od)\b", re.I)
_NUMBERS = re.compile(r"\d[\d.,\s\u00a0']*")
_CURRENCY_SIGN = re.compile(r"[$€£¥₹₽₩₺฿₫₪]|\b[A-Z]{3}\b|\bkr\b|zł|Kč|\bRs\b|\blei\b", re.I)
_STRUCK = frozenset(["del", "s", "strike"])
# Text that may hold a price, for pages with no element labelled as one.
_MONEY_TEXT = re.compile(r"[$€£₹]|EUR|USD|zł")
_MAX_CANDIDATES = 250


def _label(el: Any) -> str:
    return f"{el.get('class') or ''} {el.get('id') or ''}"


@lru_cache(maxsize=8192)
def words(label: str) -> str:
    """A class/id label as space-separated lower-case words, with glued words split apart."""
    text = _CAMEL.sub(r"\1 \2", label).lower()
    text = _GLUED.sub(r" \1 ", text)
    return " ".join(_NON_WORD.sub(" ", text).split())


def _zone(label: str) -> bool:
    """Whether a label names a zone whose prices are not the product's own."""
    return bool(_ZONE.search(_ADD_TO.sub(" ", words(label))))


def _hidden(el: Any) -> bool:
    """Hidden by attribute, inline style or a hiding utility class ("d-none", "is-hidden")."""
    if el.get("hidden") is not None:
        return True
    style = el.get("style")
    if style is not None and _HIDDEN_STYLE.search(style):
        return True
    cls = el.get("class")
    return cls is not None and _hidden_class(cls)


@lru_cache(maxsize=4096)
def _hidden_class(cls: str) -> bool:
    # Whole class tokens only: "hidden-xs" or "hide-content display-block-m" hide an element
    # on one screen size only, and "visually-hidden" text is read out by screen readers.
    for token in cls.lower().split():
        if token in _HIDDEN_CLASSES:
            return True
        if token.endswith(("-hidden", "_hidden")) and "visually" not in token:
            return True
    return False


def is_struck(el: Any) -> bool:
    """Struck through (<del>, <s>, line-through) or labelled as a was/list/RRP price."""
    if el.tag in _STRUCK or "line-through" in (el.get("style") or ""):
        return True
    return bool(_LIST_LABEL.search(words(_label(el))))


def has_sale_label(el: Any) -> bool:
    """The element's class/id calls it the sale/current price ("price-sales", "now-price")."""
    return bool(_SALE_LABEL.search(words(_label(el))))


def shown_text(el: Any, limit: int = 80, *, plain: bool = False) -> str:
    """Visible text of an element without its struck-through/list-price parts.

    "<span itemprop=price><s>$79.99</s> $39.99</span>" reads as "$39.99"; an element that is
    nothing but struck parts reads as its whole text.
    """
    parts: list[str] = []

    def walk(node: Any) -> None:
        if node.text:
            parts.append(node.text)
        for child in node:
            if isinstance(child.tag, str) and child.tag not in ("script", "style") and not (
                is_struck(child)
            ):
                walk(child)
            if child.tail:
                parts.append(child.tail)

    walk(el)
    text = " ".join(" ".join(parts).split())[: limit * 2]
    return text if any(ch.isdigit() for ch in text) else text_of(el, limit, plain=plain)


class _Zones:
    """Whether an element's ancestors put it in a zone to skip, each ancestor judged once.

    Candidates share most of their ancestors (the price box, the buy box, the page's
    columns), so one page's answers are kept per ancestor. A zone that holds the product's
    own heading (a shop that wraps the whole item in a "cart" form) is the product, not
    another one.
    """

    def __init__(self, keep: frozenset[Any]) -> None:
        self.keep = keep
        self.known: dict[Any, bool] = {}

    def _skip(self, node: Any) -> bool:
        if _hidden(node):
            return True
        label = _label(node)
        return bool(label.strip()) and node not in self.keep and _zone(label)

    def above(self, el: Any) -> bool:
        """Whether ``el`` or an ancestor below <body> is hidden or a zone to skip."""
        chain: list[Any] = []
        node = el
        skip = False
        while node is not None:
            known = self.known.get(node)
            if known is not None:
                skip = known
                break
            if node.tag in ("body", "html"):
                break
            chain.append(node)
            node = node.getparent()
        for node in reversed(chain):
            skip = skip or self._skip(node)
            self.known[node] = skip
        return skip


def _context(el: Any, zones: _Zones) -> tuple[bool, bool, str]:
    """(struck or labelled as a list price, inside a zone to skip, labels)."""
    own = _label(el)
    if _hidden(el) or zones.above(el.getparent()):
        return False, True, own
    listed = is_struck(el)
    labels = [own]
    for depth, anc in enumerate(el.iterancestors()):
        if depth >= 3 or anc.tag in ("body", "html"):
            break
        labels.append(_label(anc))
        if depth < 2 and is_struck(anc):
            listed = True
    return listed, False, " ".join(labels)


def _score(
    doc: Document, el: Any, text: str, heading: int | None, zones: _Zones
) -> tuple[float, str] | None:
    listed, zone, labels = _context(el, zones)
    if zone:
        return None
    conf = 0.45
    role = "list" if listed or _LIST_TEXT.search(text) else "current"
    if _CURRENT_LABEL.search(words(labels)):
        conf += 0.1
    if _CURRENCY_SIGN.search(text):
        conf += 0.1
    if _CURRENT_TEXT.search(text):
        conf += 0.1
    if _THRESHOLD.search(text):
        return None  # "free shipping over $50" is never the price
    if _BAD_TEXT.search(text):
        conf -= 0.3
    if _FROM_TEXT.search(text):
        conf -= 0.1
    position = doc.index.order.get(el)
    if heading is not None and position is not None:
        distance = position - heading
        if 0 <= distance < 400:
            conf += 0.2 * (1 - distance / 400)
        elif -150 < distance < 0:
            conf += 0.05
        else:
            conf -= 0.1
    return min(conf, 0.9), role


def _amount_text(el: Any, plain: bool) -> str | None:
    """The element's own price text; None for containers holding several amounts."""
    content = el.get("content") or el.get("data-price") or el.get("value")
    text = text_of(el, 80, plain=plain)
    if not text and content:
        text = content
    if not text or len(text) > 60 or not any(ch.isdigit() for ch in text):
        return None
    groups = _NUMBERS.findall(text)
    if len(groups) > 2:
        return None
    return text


def _money_text_owners(root: Any, limit: int) -> list[Any]:
    """The elements owning (as text or tail) the first ``limit`` text nodes inside <body>
    that show a currency, in document order.

    The XPath ``//body//text()[contains(., '$') or ...]`` says the same, at three times the
    cost: it casts every text node to a string once per contains().
    """
    out: list[Any] = []
    for body in root.iter("body"):
        for event, el in etree.iterwalk(body, events=("start", "end")):
            text = el.text if event == "start" else el.tail if el is not body else None
            if text and _MONEY_TEXT.search(text):
                out.append(el)
                if len(out) >= limit:
                    return out
    return out


def extract(doc: Document, found: Findings) -> None:
    """Append visible price candidates to ``found``."""
    if doc.root is None:
        return
    heading_el, _ = main_heading(doc.index)
    heading = doc.index.order.get(heading_el) if heading_el is not None else None
    keep = frozenset(heading_el.iterancestors()) if heading_el is not None else frozenset()
    zones = _Zones(keep)
    elements = doc.index.priced[:_MAX_CANDIDATES]
    source = "element"
    if not elements:
        elements = _money_text_owners(doc.root, _MAX_CANDIDATES)
        source = "text"
    seen: set[Any] = set()
    priced = set(elements)
    for el in elements:
        if el in seen or el.tag in ("body", "html", "form", "script", "style"):
            continue
        seen.add(el)
        text = _amount_text(el, doc.index.plain)
        if text is None:
            continue
        if (
            source == "element"
            and len(_NUMBERS.findall(text)) > 1
            and any(d in priced for d in el.iterdescendants())
        ):
            continue  # a wrapper around "was" and "now" prices: its parts speak for themselves
        amount, currency = parse_with_hints(text, doc.hints)
        if amount is None:
            continue
        scored = _score(doc, el, text, heading, zones)
        if scored is None:
            continue
        conf, role = scored
        if source == "text":
            conf -= 0.1
        cls = " ".join(_label(el).split())[:50]
        found.candidates.append(
            Candidate(
                "heuristic",
                amount,
                currency or doc.hints.currency,
                round(conf, 3),
                f"visible <{el.tag} {cls!r}> text {text[:50]!r}",
                role=role,
            )
        )
