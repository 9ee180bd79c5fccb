"""Visible-page prices for pages without (or with untrustworthy) structured data.

Candidates are elements whose class or id says "price", scored by general cues: near the
product heading, "sale/current/now" labels, a currency sign. Struck-through and "was/list/RRP"
amounts become list prices; carousels, carts and shipping thresholds are left out.
No per-domain rules: every cue here holds across shops.
"""

from __future__ import annotations

import re
from typing import Any

from lxml import etree

from pricewatch.extract.candidates import Candidate, Findings
from pricewatch.extract.document import Document, text_of
from pricewatch.extract.money import parse_with_hints

_LIST_LABEL = re.compile(
    r"old|was|list|regular|rrp|msrp|strike|crossed|before|compare|original|retail|saving|save"
    r"|you-?save|reduction|instead|uvp|statt|barr|prix-?barre|previous|prev|base-price|pvp"
    r"|price-?from|high|max",
    re.IGNORECASE,
)
_LIST_TEXT = re.compile(
    r"\b(?:was|list|regular|rrp|msrp|retail|reg\.?|orig(?:inal)?|compare at|you save|save"
    r"|statt|uvp|avant|au lieu de|antes|prima|invece di|van|era|de:)\b",
    re.IGNORECASE,
)
_CURRENT_LABEL = re.compile(
    r"sale|current|now|special|final|our|deal|actual|offer|selling|promo|reduced|new-?price"
    r"|price-?new|main|big|product-?price|pdp|buy",
    re.IGNORECASE,
)
_ZONE = re.compile(
    r"related|recommend|carousel|upsell|up-sell|cross-?sell|also|similar|recent|viewed|cart"
    r"|basket|bundle|shipping|delivery|footer|\bnav|menu|review|sidebar|widget|slider|banner"
    r"|accessor|compare-?product|product-?list|listing|grid|tile|card|teaser|suggest|sponsor",
    re.IGNORECASE,
)
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
_TEXT_XPATH = etree.XPath(
    "//body//text()[contains(., '$') or contains(., '€') or contains(., '£')"
    " or contains(., 'EUR') or contains(., 'USD') or contains(., '₹') or contains(., 'zł')]"
)
_MAX_CANDIDATES = 250


def _label(el: Any) -> str:
    return f"{el.get('class') or ''} {el.get('id') or ''}"


def _context(el: Any) -> tuple[bool, bool, bool, str]:
    """(struck or labelled as a list price, inside a zone to skip, inside a form, labels)."""
    listed = el.tag in _STRUCK or bool(_LIST_LABEL.search(_label(el)))
    zone = False
    labels = [_label(el)]
    for depth, anc in enumerate(el.iterancestors()):
        if anc.tag in ("body", "html"):
            break
        label = _label(anc)
        if depth < 3:
            labels.append(label)
            if anc.tag in _STRUCK or (depth < 2 and _LIST_LABEL.search(label)):
                listed = True
        if label.strip() and _ZONE.search(label):
            zone = True
            break
    return listed, zone, False, " ".join(labels)


def _heading_order(doc: Document) -> int | None:
    idx = doc.index
    if idx.h1:
        return idx.order.get(idx.h1[0])
    return None


def _score(doc: Document, el: Any, text: str, heading: int | None) -> tuple[float, str] | None:
    listed, zone, _, labels = _context(el)
    if zone:
        return None
    conf = 0.45
    role = "list" if listed or _LIST_TEXT.search(text) else "current"
    if _CURRENT_LABEL.search(labels):
        conf += 0.1
    if _CURRENCY_SIGN.search(text):
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
    return min(conf, 0.85), role


def _amount_text(el: Any) -> str | None:
    """The element's own price text; None for containers holding several amounts."""
    content = el.get("content") or el.get("data-price") or el.get("value")
    text = text_of(el, 80)
    if not text and content:
        text = content
    if not text or len(text) > 60 or not any(ch.isdigit() for ch in text):
        return None
    groups = _NUMBERS.findall(text)
    if len(groups) > 2:
        return None
    return text


def extract(doc: Document, found: Findings) -> None:
    """Append visible price candidates to ``found``."""
    if doc.root is None:
        return
    heading = _heading_order(doc)
    elements = doc.index.priced[:_MAX_CANDIDATES]
    source = "element"
    if not elements:
        try:
            nodes = _TEXT_XPATH(doc.root)[:_MAX_CANDIDATES]
        except (etree.XPathError, ValueError):
            nodes = []
        elements = [n.getparent() for n in nodes if n.getparent() is not None]
        source = "text"
    seen: set[Any] = set()
    priced = set(elements)
    for el in elements:
        if el in seen or el.tag in ("body", "html", "form", "script", "style"):
            continue
        seen.add(el)
        text = _amount_text(el)
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
        scored = _score(doc, el, text, heading)
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
