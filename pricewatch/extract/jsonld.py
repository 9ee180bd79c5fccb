"""JSON-LD (schema.org Product/Offer) read straight from the page text, without the tree.

Shops write JSON-LD by hand or by template, so the reader forgives what real pages do: trailing
commas, HTML entities, raw newlines in strings, several blocks, @graph, top-level arrays,
ProductGroup/hasVariant, AggregateOffer and priceSpecification.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlsplit

from pricewatch.extract.availability import schema_availability
from pricewatch.extract.candidates import Candidate, Findings, Signal
from pricewatch.extract.document import Document, text_of
from pricewatch.extract.money import parse_machine, to_iso
from pricewatch.extract.title import main_heading

# What a JSON-LD block is; _block_bodies finds the same matches faster (tests hold it to this).
_BLOCK = re.compile(
    r"<script\b[^>]*\btype\s*=\s*[\"']?application/ld\+json[\"']?[^>]*>(.*?)</script\s*>",
    re.IGNORECASE | re.DOTALL,
)
# _BLOCK in two steps: its lazy ".*?" walks a 50 KB block one character at a time, while a
# search for the closing tag skips to each "</".
_OPENING = re.compile(
    r"<script\b[^>]*\btype\s*=\s*[\"']?application/ld\+json[\"']?[^>]*>", re.IGNORECASE
)
_CLOSING = re.compile(r"</script\s*>", re.IGNORECASE)
_PLUS_JSON = re.compile(r"\+json", re.IGNORECASE)
_LD = re.compile(r"ld", re.IGNORECASE)
_TRAILING_COMMA = re.compile(r",\s*([}\]])")
_PRODUCT_TYPES = frozenset(
    [
        "product",
        "productgroup",
        "individualproduct",
        "productmodel",
        "vehicle",
        "car",
        "book",
        "softwareapplication",
    ]
)
_OFFER_TYPES = frozenset(["offer", "aggregateoffer"])
_LIST_PRICE = re.compile(r"list|strikethrough|msrp|srp|regular|original", re.IGNORECASE)
_MAX_NODES = 5000


def _block_bodies(text: str) -> list[str]:
    """The bodies ``_BLOCK.finditer(text)`` finds, for a fraction of its cost.

    The case-insensitive pattern is tried at every "<" of a 400 KB page. Instead find each
    "ld+json" (by its rare "+") and try the pattern only at the "<"s of the tag around it:
    a match's opening tag holds no ">" between its "<script" and its "ld+json". The opening
    tag ends at its first ">", so the body runs from there to the first closing tag.
    """
    out: list[str] = []
    end = 0
    for plus in _PLUS_JSON.finditer(text):
        ld = plus.start() - 2
        if ld < end or not _LD.match(text, ld):
            continue
        lt = text.find("<", max(text.rfind(">", 0, ld) + 1, end), ld)
        while lt >= 0:
            opening = _OPENING.match(text, lt)
            closing = _CLOSING.search(text, opening.end()) if opening is not None else None
            if opening is not None and closing is not None:
                out.append(text[opening.end() : closing.start()])
                end = closing.end()
                break
            lt = text.find("<", lt + 1, ld)
    return out


def blocks(text: str) -> list[Any]:
    """The parsed JSON-LD blocks of a page (unparseable ones are skipped)."""
    bodies = _block_bodies(text)
    if not bodies or ("ld+json" not in text and "LD+JSON" not in text):
        return []
    out: list[Any] = []
    for body in bodies:
        raw = body.strip()
        if not raw:
            continue
        data = _loads(raw)
        if data is not None:
            out.append(data)
    return out


def _loads(raw: str) -> Any | None:
    raw = raw.removeprefix("<!--").removesuffix("-->").strip()
    raw = raw.removeprefix("//<![CDATA[").removesuffix("//]]>").strip()
    for attempt in range(3):
        try:
            return json.loads(raw, strict=False)
        except (ValueError, RecursionError):
            if attempt == 0:
                raw = _TRAILING_COMMA.sub(r"\1", raw)
            elif attempt == 1:
                raw = html.unescape(raw)
    return None


def _types(node: dict[str, Any]) -> set[str]:
    value = node.get("@type")
    values = value if isinstance(value, list) else [value]
    return {v.rsplit("/", 1)[-1].rsplit(":", 1)[-1].lower() for v in values if isinstance(v, str)}


def _nodes(data: Any) -> Iterator[dict[str, Any]]:
    """Every dict in the data, breadth first, bounded (hostile pages nest deeply)."""
    queue: list[Any] = [data]
    seen = 0
    while queue and seen < _MAX_NODES:
        node = queue.pop(0)
        seen += 1
        if isinstance(node, dict):
            yield node
            queue.extend(v for v in node.values() if isinstance(v, dict | list))
        elif isinstance(node, list):
            queue.extend(v for v in node if isinstance(v, dict | list))


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _first_str(value: Any) -> str | None:
    for v in _as_list(value):
        if isinstance(v, str | int | float) and not isinstance(v, bool):
            return str(v).strip()
        if isinstance(v, dict):
            inner = v.get("@value") or v.get("value") or v.get("name")
            if isinstance(inner, str | int):
                return str(inner).strip()
    return None


def _images(value: Any) -> list[str]:
    """Image URLs of a schema.org ``image``: a URL, a list, or ImageObjects."""
    out: list[str] = []
    for v in _as_list(value)[:5]:
        if isinstance(v, str):
            out.append(v)
        elif isinstance(v, dict):
            url = v.get("url") or v.get("contentUrl") or v.get("@id")
            if isinstance(url, str):
                out.append(url)
    return out


def _ids(node: dict[str, Any]) -> set[str]:
    keys = ("sku", "gtin", "gtin8", "gtin12", "gtin13", "gtin14", "mpn", "productID")
    return {s.lstrip("0") or "0" for k in keys if (s := _first_str(node.get(k)))}


@dataclass(slots=True)
class _Offer:
    """One priced offer, flattened, with the identifiers of the product it belongs to."""

    price: Decimal
    currency: str | None
    availability: bool | None
    ids: set[str]
    url: str | None
    kind: str  # "offer", "low" (AggregateOffer lowPrice), "list"
    where: str


def _offers_of(doc: Document, product: dict[str, Any], where: str) -> list[_Offer]:
    out: list[_Offer] = []
    product_ids = _ids(product)
    for offer in _as_list(product.get("offers")):
        if not isinstance(offer, dict):
            continue
        types = _types(offer)
        currency = to_iso(_first_str(offer.get("priceCurrency")), doc.hints.currency)
        avail = schema_availability(_first_str(offer.get("availability")))
        ids = _ids(offer) | product_ids
        url = _first_str(offer.get("url"))
        nested = [o for o in _as_list(offer.get("offers")) if isinstance(o, dict)]
        if "aggregateoffer" in types and nested:
            out.extend(_offers_of(doc, {"offers": nested, "sku": product.get("sku")}, where))
            continue
        price = parse_machine(_first_str(offer.get("price")), doc.hints, currency)
        kind = "offer"
        if price is None and "aggregateoffer" in types:
            price = parse_machine(_first_str(offer.get("lowPrice")), doc.hints, currency)
            kind = "low"
        for spec in _as_list(offer.get("priceSpecification")):
            if not isinstance(spec, dict):
                continue
            spec_cur = to_iso(_first_str(spec.get("priceCurrency")), currency) or currency
            spec_price = parse_machine(_first_str(spec.get("price")), doc.hints, spec_cur)
            if spec_price is None:
                continue
            if _LIST_PRICE.search(_first_str(spec.get("priceType")) or ""):
                out.append(_Offer(spec_price, spec_cur, avail, ids, url, "list", where))
            elif price is None:
                price, currency = spec_price, spec_cur
        if price is not None:
            out.append(_Offer(price, currency, avail, ids, url, kind, where))
    return out


def _variant_value(doc: Document) -> str | None:
    param = doc.spec.variant_param
    if not param:
        return None
    values = parse_qs(urlsplit(doc.url).query).get(param)
    return values[0] if values else None


def _pinned(doc: Document, offers: list[_Offer]) -> tuple[list[_Offer], str | None]:
    """Offers matching the spec's sku / gtin / variant parameter, and how they were pinned."""
    spec = doc.spec
    wanted = [v.lstrip("0") or "0" for v in (spec.sku, spec.gtin) if v]
    if wanted:
        hits = [o for o in offers if any(w in o.ids for w in wanted)]
        return hits, f"variant pinned by {'sku' if spec.sku else 'gtin'} {wanted[0]!r}"
    value = _variant_value(doc)
    if value is not None:
        param = spec.variant_param or ""
        hits = [
            o
            for o in offers
            if o.url and parse_qs(urlsplit(o.url).query).get(param, [None])[0] == value
        ]
        hits = hits or [o for o in offers if value.lstrip("0") in o.ids]
        return hits, f"variant pinned by {param}={value!r}"
    return offers, None


def _name_and_image(products: list[tuple[dict[str, Any], str]], found: Findings) -> None:
    """The first product's name and images (the page's own product comes first)."""
    for node, _kind in products:
        name = _first_str(node.get("name"))
        if name:
            found.names.append(name)
            break
    for node, _kind in products:
        if images := _images(node.get("image")):
            found.images.extend(images)
            break


_WORD = re.compile(r"\w{2,}")


def _heading_first(
    doc: Document, products: list[tuple[dict[str, Any], str]]
) -> list[tuple[dict[str, Any], str]]:
    """The products with the one the page's heading names first: a page may describe
    recommended products before its own, and the heading says which one the page is about.
    Unchanged when the heading names none of them (or there is no heading)."""
    root = doc.root
    if root is None:
        return products
    heading, _ = main_heading(doc.index, root)
    if heading is None:
        return products
    seen = set(_WORD.findall(text_of(heading, 300).lower()))
    if not seen:
        return products

    def share(item: tuple[dict[str, Any], str]) -> float:
        name = set(_WORD.findall((_first_str(item[0].get("name")) or "").lower()))
        return len(name & seen) / len(name | seen) if name else 0.0

    best = max(range(len(products)), key=lambda i: (share(products[i]), -i))
    if best == 0 or share(products[best]) < 0.5 or share(products[0]) >= share(products[best]):
        return products
    return [products[best], *products[:best], *products[best + 1:]]


def extract(doc: Document, found: Findings) -> None:
    """Append JSON-LD product offers (and their availability) to ``found``."""
    products: list[tuple[dict[str, Any], str]] = []
    loose_offers: list[dict[str, Any]] = []
    for data in blocks(doc.text):
        for node in _nodes(data):
            types = _types(node)
            if (types & _PRODUCT_TYPES and "offers" in node) or types & _PRODUCT_TYPES:
                products.append((node, "/".join(sorted(types & _PRODUCT_TYPES))))
            elif types & _OFFER_TYPES and "price" in node:
                loose_offers.append(node)
    if len(products) > 1:
        products = _heading_first(doc, products)
    _name_and_image(products, found)
    offers: list[_Offer] = []
    for index, (node, kind) in enumerate(products):
        where = f"JSON-LD {kind} #{index + 1}"
        offers.extend(_offers_of(doc, node, where))
    if not products and loose_offers:
        offers.extend(_offers_of(doc, {"offers": loose_offers}, "JSON-LD Offer"))
    if not offers:
        return
    # The first product is the page's; products with its name are its variants (one per size).
    first_name = _first_str(products[0][0].get("name")) if products else None
    same = {
        f"JSON-LD {kind} #{i + 1}"
        for i, (node, kind) in enumerate(products)
        if first_name and _first_str(node.get("name")) == first_name
    }
    # A ProductGroup's hasVariant products are the page's product too.
    variant_ids = {id(v) for v in _as_list(products[0][0].get("hasVariant"))} if products else set()
    same |= {
        f"JSON-LD {kind} #{i + 1}"
        for i, (node, kind) in enumerate(products)
        if id(node) in variant_ids
    }
    main = [o for o in offers if o.where == offers[0].where or o.where in same]
    pinned, how = _pinned(doc, offers)
    if how is not None:
        if not pinned:
            found.notes.append(f"JSON-LD: no offer matches the {how.removeprefix('variant ')}")
            return
        main = pinned
    current = [o for o in main if o.kind == "offer"] or [o for o in main if o.kind == "low"]
    if not current:
        return
    best = min(current, key=lambda o: o.price)
    distinct = {o.price for o in current}
    if how is not None:
        note = how
    elif len(distinct) > 1:
        note = f"lowest of {len(current)} offers/variants"
    else:
        note = "the page's offer"
    conf = 0.9 if best.kind == "offer" else 0.6
    if len(products) > len(same) + 1 and how is None:
        conf -= 0.1  # several products: the first may be a recommendation
    found.candidates.append(
        Candidate(
            "jsonld",
            best.price,
            best.currency or doc.hints.currency,
            conf,
            f"{best.where} offers price {best.price} ({note})",
            in_stock=best.availability,
            role="current" if best.kind == "offer" else "low",
        )
    )
    found.candidates.extend(
        Candidate("jsonld", o.price, o.currency, 0.5, f"{o.where} list price", role="list")
        for o in main
        if o.kind == "list"
    )
    states = {o.availability for o in current if o.availability is not None}
    if how is None and len(states) > 1:
        # Some variants sold out, others not: the product can be bought.
        found.signals.append(Signal(True, 0.9, f"{best.where}: some offers/variants in stock"))
    elif best.availability is not None:
        found.signals.append(
            Signal(best.availability, 0.9, f"{best.where} availability of the chosen offer")
        )
