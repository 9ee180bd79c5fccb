"""Price markup inside the HTML: microdata, RDFa-lite, OpenGraph/product meta tags."""

from __future__ import annotations

from typing import Any

from pricewatch.extract.availability import schema_availability
from pricewatch.extract.candidates import Candidate, Findings, Signal
from pricewatch.extract.document import Document, text_of
from pricewatch.extract.heuristic import has_sale_label, is_struck, shown_text
from pricewatch.extract.money import parse_machine, parse_with_hints, to_iso

_PRICE_PROPS = ("price", "schema:price", "lowprice", "schema:lowprice")
# OpenGraph/Facebook product tags: amount tag -> currency tag; sale prices beat plain ones.
_META_PRICES = {
    "product:sale_price:amount": ("product:sale_price:currency", 0.8),
    "og:sale_price:amount": ("og:sale_price:currency", 0.8),
    "product:price:amount": ("product:price:currency", 0.75),
    "og:price:amount": ("og:price:currency", 0.75),
    "product:price": ("product:price:currency", 0.7),
}
_MAX = 40


def _scope(el: Any) -> Any:
    """The nearest itemscope/typeof ancestor (the Offer or Product the price belongs to)."""
    for anc in el.iterancestors():
        if anc.get("itemscope") is not None or anc.get("typeof") is not None:
            return anc
    return el.getroottree().getroot()


def _scoped(props: list[Any], scope: Any, name: str, plain: bool) -> str | None:
    """The value of the first itemprop/property ``name`` that belongs to ``scope``."""
    for hit in props:
        if hit.get("itemprop") != name and hit.get("property") not in (name, f"schema:{name}"):
            continue
        if _scope(hit) is not scope:
            continue
        value = hit.get("content") or hit.get("href") or hit.get("value")
        value = value or text_of(hit, 80, plain=plain)
        if value:
            return str(value).strip()
    return None


def _in_product_scope(el: Any) -> bool:
    for anc in el.iterancestors():
        typ = (anc.get("itemtype") or anc.get("typeof") or "").lower()
        if "product" in typ:
            return True
    return False


def _microdata(doc: Document, found: Findings) -> None:
    props = doc.index.props
    plain = doc.index.plain
    elements = [
        el
        for el in props
        if (el.get("itemprop") or el.get("property") or "").lower() in _PRICE_PROPS
    ][:_MAX]
    seen_price = False
    # One Offer with two prices ("price-standard" 39.90, "price-sales" 1.90): the one labelled
    # as the current price is the price, the others are list prices.
    scopes: dict[Any, list[Any]] = {}
    for el in elements:
        scopes.setdefault(_scope(el), []).append(el)
    listed = {
        el
        for group in scopes.values()
        if len(group) > 1 and any(has_sale_label(e) for e in group)
        for el in group
        if not has_sale_label(el)
    }
    for el in elements:
        prop = (el.get("itemprop") or el.get("property") or "").lower()
        kind = "RDFa" if el.get("property") else "microdata"
        scope = _scope(el)
        cur_text = _scoped(props, scope, "priceCurrency", plain)
        currency = to_iso(cur_text, doc.hints.currency) if cur_text else None
        raw = el.get("content")
        if raw is not None:
            amount = parse_machine(raw, doc.hints, currency)
            shown = f"content={raw!r}"
        else:
            raw = shown_text(el, 80, plain=plain)
            amount, text_currency = parse_with_hints(raw, doc.hints, currency_hint=currency)
            currency = currency or text_currency
            shown = repr(raw[:60])
        if amount is None:
            continue
        avail = schema_availability(_scoped(props, scope, "availability", plain))
        conf = 0.85 if not seen_price else 0.6
        if not _in_product_scope(el):
            conf -= 0.15
        seen_price = True
        found.candidates.append(
            Candidate(
                "rdfa" if kind == "RDFa" else "microdata",
                amount,
                currency or doc.hints.currency,
                conf,
                f"{kind} <{el.tag} {'property' if kind == 'RDFa' else 'itemprop'}={prop}> {shown}",
                in_stock=avail,
                role="low"
                if "low" in prop
                else "list"
                if el in listed or is_struck(el)
                else "current",
            )
        )
        if avail is not None and conf >= 0.7:
            found.signals.append(Signal(avail, 0.85, f"{kind} availability next to the price"))


def _meta(doc: Document, found: Findings) -> None:
    metas = doc.index.metas[:400]
    values: dict[str, str] = {}
    for meta in metas:
        key = (meta.get("property") or meta.get("name") or "").strip().lower()
        content = meta.get("content")
        if key and content is not None and key not in values:
            values[key] = content.strip()
    for key, (cur_key, conf) in _META_PRICES.items():
        raw = values.get(key)
        if not raw:
            continue
        currency = to_iso(values.get(cur_key), doc.hints.currency)
        amount = parse_machine(raw, doc.hints, currency)
        if amount is None:
            continue
        found.candidates.append(
            Candidate(
                "opengraph",
                amount,
                currency or doc.hints.currency,
                conf,
                f"<meta property={key!r} content={raw!r}>",
            )
        )
        break
    avail = schema_availability(values.get("product:availability") or values.get("og:availability"))
    if avail is not None:
        found.signals.append(Signal(avail, 0.8, "product:availability meta tag"))
    for i in ("1", "2"):
        label = values.get(f"twitter:label{i}", "").lower()
        data = values.get(f"twitter:data{i}")
        if data and "price" in label:
            amount, currency = parse_with_hints(data, doc.hints)
            if amount is not None:
                found.candidates.append(
                    Candidate(
                        "meta",
                        amount,
                        currency or doc.hints.currency,
                        0.6,
                        f"<meta name='twitter:data{i}' content={data!r}>",
                    )
                )


def extract(doc: Document, found: Findings) -> None:
    """Append microdata, RDFa and meta-tag price candidates to ``found``."""
    if doc.root is None:
        return
    _microdata(doc, found)
    _meta(doc, found)
