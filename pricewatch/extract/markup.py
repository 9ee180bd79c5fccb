"""Price markup inside the HTML: microdata, RDFa-lite, OpenGraph/product meta tags."""

from __future__ import annotations

from collections.abc import Iterator

from selectolax.lexbor import LexborNode

from pricewatch.extract.availability import schema_availability
from pricewatch.extract.candidates import Candidate, Findings, Signal
from pricewatch.extract.document import Document, text_of
from pricewatch.extract.heuristic import has_sale_label, is_struck, names_other_products, shown_text
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


def _ancestors(el: LexborNode) -> Iterator[LexborNode]:
    node = el.parent
    while node is not None and node.tag != "-document":
        yield node
        node = node.parent


class _Scopes:
    """The nearest itemscope/typeof ancestor of each element (the Offer or Product its
    property belongs to), as that ancestor's mem_id (0 for the page itself), each element's
    answer worked out once per page.

    Ids, not nodes: a LexborNode's ``==`` compares serialized markup, so two different
    offers with the same HTML would be one scope, and each comparison would serialize both.
    """

    def __init__(self) -> None:
        self.known: dict[int, int] = {}

    def of(self, el: LexborNode) -> int:
        key = el.mem_id
        scope = self.known.get(key)
        if scope is None:
            scope = next(
                (a.mem_id for a in _ancestors(el) if "itemscope" in (attrs := a.attributes)
                 or "typeof" in attrs),
                0,
            )
            self.known[key] = scope
        return scope


def _scoped(props: list[LexborNode], scopes: _Scopes, scope: int, name: str) -> str | None:
    """The value of the first itemprop/property ``name`` that belongs to ``scope``."""
    for hit in props:
        attrs = hit.attributes
        if attrs.get("itemprop") != name and attrs.get("property") not in (
            name,
            f"schema:{name}",
        ):
            continue
        if scopes.of(hit) != scope:
            continue
        value = attrs.get("content") or attrs.get("href") or attrs.get("value")
        value = value or text_of(hit, 80)
        if value:
            return str(value).strip()
    return None


def _in_product_scope(el: LexborNode) -> bool:
    for anc in _ancestors(el):
        attrs = anc.attributes
        typ = (attrs.get("itemtype") or attrs.get("typeof") or "").lower()
        if "product" in typ:
            return True
    return False


_TILE_DEPTH = 12


def _other_products(el: LexborNode) -> bool:
    """Whether a marked-up price sits in a box of other products (a "related" or "carousel"
    list, a product tile's link): markup there describes those products, and a page that
    shows no price of its own must not get one from them."""
    for depth, node in enumerate(_ancestors(el)):
        if depth >= _TILE_DEPTH or node.tag in ("body", "html"):
            return False
        if node.tag == "a" and node.attributes.get("href") and depth < 4:
            return True
        attrs = node.attributes
        label = f"{attrs.get('class') or ''} {attrs.get('id') or ''}"
        if label.strip() and names_other_products(label):
            return True
    return False


def _prop(el: LexborNode) -> str:
    attrs = el.attributes
    return (attrs.get("itemprop") or attrs.get("property") or "").lower()


def _microdata(doc: Document, found: Findings) -> None:
    props = doc.index.props
    scopes = _Scopes()
    elements = [el for el in props if _prop(el) in _PRICE_PROPS][:_MAX]
    elements = [el for el in elements if not _other_products(el)]
    seen_price = False
    # One Offer with two prices ("price-standard" 39.90, "price-sales" 1.90): the one labelled
    # as the current price is the price, the others are list prices.
    groups: dict[int, list[LexborNode]] = {}
    for el in elements:
        groups.setdefault(scopes.of(el), []).append(el)
    listed = {
        el.mem_id
        for group in groups.values()
        if len(group) > 1 and any(has_sale_label(e) for e in group)
        for el in group
        if not has_sale_label(el)
    }
    for el in elements:
        prop = _prop(el)
        attrs = el.attributes
        kind = "RDFa" if attrs.get("property") else "microdata"
        scope = scopes.of(el)
        cur_text = _scoped(props, scopes, scope, "priceCurrency")
        currency = to_iso(cur_text, doc.hints.currency) if cur_text else None
        raw = attrs.get("content")
        if raw is not None:
            amount = parse_machine(raw, doc.hints, currency)
            shown = f"content={raw!r}"
        else:
            raw = shown_text(el, 80)
            amount, text_currency = parse_with_hints(raw, doc.hints, currency_hint=currency)
            currency = currency or text_currency
            shown = repr(raw[:60])
        if amount is None:
            continue
        avail = schema_availability(_scoped(props, scopes, scope, "availability"))
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
                if el.mem_id in listed or is_struck(el)
                else "current",
            )
        )
        if avail is not None and conf >= 0.7:
            found.signals.append(Signal(avail, 0.85, f"{kind} availability next to the price"))


def _meta(doc: Document, found: Findings) -> None:
    metas = doc.index.metas[:400]
    values: dict[str, str] = {}
    for meta in metas:
        attrs = meta.attributes
        key = (attrs.get("property") or attrs.get("name") or "").strip().lower()
        content = attrs.get("content")
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
