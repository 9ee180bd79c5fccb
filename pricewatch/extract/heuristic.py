"""Visible-page prices for pages without (or with untrustworthy) structured data.

Candidates are elements whose class or id says "price", scored by general cues: near the
product heading, "sale/current/now" labels, a currency sign. Struck-through and "was/list/RRP"
amounts become list prices; carousels, carts and shipping thresholds are left out.
No per-domain rules: every cue here holds across shops.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache

from selectolax.lexbor import LexborNode

from pricewatch.extract.availability import is_buy_control, is_disabled
from pricewatch.extract.block import Membership, between, main_block
from pricewatch.extract.candidates import Candidate, Findings
from pricewatch.extract.document import Document, text_of
from pricewatch.extract.index import distances
from pricewatch.extract.labels import other_money, other_money_label
from pricewatch.extract.money import parse_with_hints
from pricewatch.extract.title import main_heading

# Class/id labels are read as words ("priceBlock_ourPrice" -> "price block our price"), so
# "bold" is not "old", "celwidget" is not "widget" and "a-nowrap" is not "now".
_LIST_LABEL = re.compile(
    r"\b(?:old|was|list|regular|rrp|msrp|strike\w*|crossed|before|compare|original|retail"
    r"|saving|savings|save|you save|reduction|instead|uvp|statt|barr[eé]?|prix barre|previous"
    r"|prev|base price|pvp|price from|high|max|orig|org)\b"
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
# "Price:" in the shop's language at the start of the text.
_PRICE_WORD = re.compile(
    r"^\W*(?:(?:your )?price|preis|prix|precio|prezzo|prijs|pre[çc]o|cena|ár|pre[țt]"
    r"|fiyat|hinta|pris|цена|ціна)\s*:|^\W*(?:价格|價格|售價|售价|価格|販売価格|税込価格|特價|特价"
    r"|优惠价|가격|판매가|할인가|특가)",
    re.I,
)
# Zones whose prices belong to other products or to something other than the item.
_ZONE = re.compile(
    r"\b(?:related|recommend\w*|carousel|upsell|up sell|cross ?sell|also|similar\w*|recent\w*"
    r"|viewed|cart|basket|bundle|shipping|delivery|footer|nav\w*|menu|reviews?|sidebar"
    r"|slider|banner|accessor\w*|compare products?|comparison|products? list\w*|listing"
    r"|products? (?:grid|tiles?|cards?)|(?:grid|tile|card) items?|teaser|suggest\w*|sponsor\w*)\b"
)
# Inside the product's own block only zones of other products count: a "review" or "nav" box
# there ("productReviewPrice" beside the stars) is a part of the product's page.
_OTHER_PRODUCTS = re.compile(
    r"\b(?:related|recommend\w*|carousel|upsell|up sell|cross ?sell|also|similar\w*|recent\w*"
    r"|viewed|cart|basket|bundle|accessor\w*|compare products?|comparison|products? list\w*"
    r"|listing|products? (?:grid|tiles?|cards?)|(?:grid|tile|card) items?|suggest\w*"
    r"|sponsor\w*)\b"
)


def names_other_products(label: str) -> bool:
    """Whether a class/id label names a box of other products ("related-products",
    "productCarousel"); a box named "add to cart" is the product's own."""
    return bool(_OTHER_PRODUCTS.search(_ADD_TO.sub(" ", words(label))))


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
    r"free|gratis|gratuit|kostenlos|zdarma|darmow|ingyenes|bezplatn|ücretsiz|免運|免运|包邮|包郵"
    r"|送料無料|무료\s?배송|\b(?:over|above|orders?|ab|dès|desde|oltre|vanaf)\b\s*"
    r"(?:of\s*)?[$€£]?\s*\d",
    re.IGNORECASE,
)
_FROM_TEXT = re.compile(
    r"\b(?:from|starting (?:at|from)|starts at|as low as|ab|desde|à partir de|a partire da"
    r"|vanaf|od|de la)\b|起|から|부터", re.I
)
_NUMBERS = re.compile(r"\d[\d.,\s\u00a0']*")
_CURRENCY_SIGN = re.compile(
    r"[$€£¥₹₽₩₺฿₫₪円元원]|\b[A-Z]{3}\b|\bkr\b|zł|Kč|\bFt\b|\bRs\b|\blei\b|руб", re.I
)
_STRUCK = frozenset(["del", "s", "strike"])
# Text that may hold a price, for pages with no element labelled as one.
# One search per text node of the page on the text path: symbols, and codes written as such.
_MONEY_TEXT = re.compile(
    r"[$€£₹¥₩₽₺₴₪₫₱฿円元원]|EUR|USD|GBP|CHF|zł|Kč|руб|\b(?:lei|Lei|LEI|Ft|kr|Rs|RON|PLN|CZK|HUF"
    r"|SEK|NOK|DKK|INR|BRL|JPY|CNY|RMB|TWD|NTD|HKD|SGD|AUD|CAD|NZD|ZAR|MXN|TRY|BGN|RUB|UAH"
    r"|KRW|THB|MYR|IDR|PHP|VND|ILS|AED|SAR)\b")
_MAX_CANDIDATES = 250
# The window around the product heading in which closeness counts (elements of document order).
_AHEAD, _BEHIND = 150, 400
_PAGE_TOP = frozenset(["body", "html", "-document"])


def _label(el: LexborNode) -> str:
    attrs = el.attributes
    return f"{attrs.get('class') or ''} {attrs.get('id') or ''}"


@lru_cache(maxsize=8192)
def words(label: str) -> str:
    """A class/id label as space-separated lower-case words, with glued words split apart."""
    text = _CAMEL.sub(r"\1 \2", label).lower()
    text = _GLUED.sub(r" \1 ", text)
    return " ".join(_NON_WORD.sub(" ", text).split())


def _zone(label: str) -> bool:
    """Whether a label names a zone whose prices are not the product's own."""
    return bool(_ZONE.search(_ADD_TO.sub(" ", words(label))))


_CART_ZONE = re.compile(r"\b(?:cart|basket)\b")


def _cart_only(label: str) -> bool:
    """Whether a zone label is one only for naming a cart or basket ("ysw-cart")."""
    text = _ADD_TO.sub(" ", words(label))
    return _ZONE.search(_CART_ZONE.sub(" ", text)) is None


def _hidden(el: LexborNode) -> bool:
    """Hidden by attribute, inline style or a hiding utility class ("d-none", "is-hidden")."""
    attrs = el.attributes
    if "hidden" in attrs:  # a bare attribute: its value is None
        return True
    if el.tag == "input" and (attrs.get("type") or "").lower() == "hidden":
        return True  # a form's value, never shown (often a float: "3182.5699999999997")
    style = attrs.get("style")
    if style is not None and _HIDDEN_STYLE.search(style):
        return True
    cls = attrs.get("class")
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


# "price-standard" is the regular price beside "price-sales"; a container "standard_price"
# holds both, so the word counts only on the amount's own element.
_OWN_LIST_LABEL = re.compile(r"\bstandard\b")


def is_struck(el: LexborNode, *, own: bool = True) -> bool:
    """Struck through (<del>, <s>, line-through) or labelled as a was/list/RRP price
    (``own``: judging the amount's own element rather than a container)."""
    if el.tag in _STRUCK or "line-through" in (el.attributes.get("style") or ""):
        return True
    label = words(_label(el))
    return bool(_LIST_LABEL.search(label) or (own and _OWN_LIST_LABEL.search(label)))


def has_sale_label(el: LexborNode) -> bool:
    """The element's class/id calls it the sale/current price ("price-sales", "now-price")."""
    return bool(_SALE_LABEL.search(words(_label(el))))


def shown_text(el: LexborNode, limit: int = 80) -> str:
    """Visible text of an element without its struck-through/list-price parts.

    "<span itemprop=price><s>$79.99</s> $39.99</span>" reads as "$39.99"; an element that is
    nothing but struck parts reads as its whole text.
    """
    parts: list[str] = []
    # Depth-first with an explicit stack: deeply nested markup must not hit the recursion limit.
    stack = list(el.iter(include_text=True))[::-1]
    size = 0
    while stack and size <= limit * 8:
        node = stack.pop()
        tag = node.tag
        if tag == "-text":
            text = node.text_content
            if text:
                parts.append(text)
                size += len(text) if not text.isspace() else 0
        elif tag and tag[0] != "-" and not is_struck(node):
            stack.extend(list(node.iter(include_text=True))[::-1])
    text = " ".join(" ".join(parts).split())[: limit * 2]
    return text if any(ch.isdigit() for ch in text) else text_of(el, limit)


class _Zones:
    """Whether an element's ancestors put it in a zone to skip, each ancestor judged once.

    Candidates share most of their ancestors (the price box, the buy box, the page's
    columns), so one page's answers are kept per ancestor. A zone that holds the product's
    own heading (a shop that wraps the whole item in a "cart" form) is the product, not
    another one.
    """

    def __init__(
        self,
        keep: frozenset[int],
        controls: list[LexborNode] | None = None,
        block: Membership | None = None,
    ) -> None:
        self.keep = keep
        self._block = block
        # By mem_id: a LexborNode's == compares serialized markup, so a dict keyed by nodes
        # would serialize an ancestor's whole subtree on every lookup.
        self.known: dict[int, bool] = {}
        self._controls = controls or []
        self._buy_forms: set[int] | None = None

    def _holds_buy_button(self, node: LexborNode) -> bool:
        """Whether ``node`` holds an enabled add-to-cart button: a form or box named "cart"
        around one is the product's buy form, not the mini-cart (worked out on first need)."""
        if self._buy_forms is None:
            self._buy_forms = set()
            for control in self._controls[:_MAX_BUY_CONTROLS]:
                if is_buy_control(control) and not is_disabled(control):
                    self._buy_forms.update(a.mem_id for a in _ancestors(control))
        return node.mem_id in self._buy_forms

    def _skip(self, node: LexborNode) -> bool:
        if _hidden(node):
            return True
        label = _label(node)
        if not label.strip() or node.mem_id in self.keep or not _zone(label):
            return False
        if (self._block is not None and self._block.inside(node)
                and not names_other_products(label)):
            return False
        # A <form> named "cart" is the product's add-to-cart form (WooCommerce's "form.cart"
        # on every product page); so is any box named so around an enabled buy button.
        return not (_cart_only(label) and (node.tag == "form" or self._holds_buy_button(node)))

    def above(self, el: LexborNode | None) -> bool:
        """Whether ``el`` or an ancestor below <body> is hidden or a zone to skip."""
        chain: list[LexborNode] = []
        node = el
        skip = False
        while node is not None:
            known = self.known.get(node.mem_id)
            if known is not None:
                skip = known
                break
            if node.tag in _PAGE_TOP:
                break
            chain.append(node)
            node = node.parent
        for node in reversed(chain):
            skip = skip or self._skip(node)
            self.known[node.mem_id] = skip
        return skip


def _context(el: LexborNode, zones: _Zones) -> tuple[bool, bool, str]:
    """(struck or labelled as a list price, inside a zone to skip, labels)."""
    own = _label(el)
    if _hidden(el) or zones.above(el.parent):
        return False, True, own
    listed = is_struck(el)
    labels = [own]
    anc = el.parent
    for depth in range(3):
        if anc is None or anc.tag in _PAGE_TOP:
            break
        labels.append(_label(anc))
        if depth < 2 and is_struck(anc, own=False):
            listed = True
        anc = anc.parent
    return listed, False, " ".join(labels)


@dataclass(frozen=True, slots=True)
class Weights:
    """How much each cue moves a visible price's score, and why.

    A score is ``base`` plus the weight of every cue the element shows, capped at ``cap``.
    ``bench/accuracy.py`` fits the resolver's margins on training folds and reports the
    held-out score; these weights are the defaults it starts from.
    """

    # An element labelled "price" that holds one amount is a weak witness on its own: below
    # structured data (0.85-0.9), so markup the page confirms beats a mere page reading.
    base: float = 0.45
    # The shop calls it the current/sale/our price in its class or id ("price-sales").
    current_label: float = 0.1
    # A currency sign or code: an amount of money, not a quantity, rating or model number.
    currency: float = 0.1
    # The text itself says "now", "sale", "our price", "jetzt": what the shopper pays.
    current_text: float = 0.1
    # Right after the product heading, fading to nothing at the end of the window: product
    # pages put the price just below the name; every extra element between them is a doubt.
    near_heading: float = 0.2
    # Shortly before the heading (a price block laid out above the name): weakly the item's.
    above_heading: float = 0.05
    # The page has a heading and the price is nowhere near it: probably another product's.
    far_from_heading: float = -0.1
    # Inside the container of the heading and the buy button: the product's own block.
    main_block: float = 0.1
    # Words of other money in its text (financing, points, membership, gift cards).
    other_money_words: float = -0.3
    # "from $9": the low end of a range of variants, not this item's price.
    from_price: float = -0.1
    # Found in text only, with no element labelled as a price: the weakest visible reading.
    text_only: float = -0.1
    # In a swatch / variant picker: a neighbouring variant's price, not the chosen one's.
    variant: float = -0.15
    # The same label shows three or more different amounts: a list of other products or
    # offers; the item's own price element is usually the only one of its kind.
    repeated: float = -0.15
    # The text starts with the word "price" in the shop's language ("Cena:", "価格"): the
    # shop labels it as the price, though not necessarily as the current one.
    price_word: float = 0.1
    # The higher of two unlabelled amounts side by side: read as the former price of a sale
    # (its role becomes "list"); no weight of its own.
    paired_higher: float = 0.0
    # No reading of the page is surer than the user's own rule (1.0). A lower cap would make
    # the best-labelled amounts tie and hide the cue that tells them apart.
    cap: float = 1.0

    def score(self, cues: tuple[tuple[str, float], ...]) -> float:
        """The confidence of a candidate with these cues (name, strength 0..1)."""
        total = self.base + sum(float(getattr(self, name)) * value for name, value in cues)
        return round(min(total, self.cap), 3)


WEIGHTS = Weights()
_VARIANT_LABEL = re.compile(r"\b(?:swatch\w*|variants?|variations?)\b")
_VARIANT_TAGS = frozenset(["option", "select", "optgroup"])
_INLINE = frozenset(
    ["span", "label", "b", "strong", "em", "i", "small", "dt", "th", "td", "dd", "p", "-text",
     "font", "sup", "sub", "div", "li"]
)
_NEIGHBOUR_DEPTH = 4
_MAX_BUY_CONTROLS = 40
# Buttons are small, but shops wrap an option's label and cost in several layers of boxes.
_BUTTON_DEPTH = 8


def _nearby_text(node: LexborNode | None, forward: bool) -> str:
    """The short text of the first non-blank sibling of ``node`` in one direction."""
    steps = 0
    while node is not None and steps < 3:
        steps += 1
        tag = node.tag
        if tag == "-text":
            text = node.text_content or ""
        elif tag in _INLINE:
            text = _short_text(node)
        else:
            return ""
        text = " ".join(text.split())
        if text:
            return text if len(text) <= 60 else ""
        node = node.next if forward else node.prev
    return ""


def _short_text(node: LexborNode, limit: int = 60, max_nodes: int = 40) -> str:
    """The text of a small element; "" for one with more than ``limit`` characters (a label
    is short, and a big sibling is not walked to its end)."""
    parts: list[str] = []
    size = 0
    for i, child in enumerate(node.traverse(include_text=True)):
        if i > max_nodes or size > limit:
            return ""
        if child.tag == "-text":
            text = child.text_content or ""
            parts.append(text)
            size += len(text.strip())
    return " ".join(" ".join(parts).split())


def _surroundings(el: LexborNode) -> tuple[str, str]:
    """The words just before and just after an element (its siblings, else its parent's)."""
    before = _nearby_text(el.prev, False)
    after = _nearby_text(el.next, True)
    parent = el.parent
    if not before and parent is not None and parent.tag not in _PAGE_TOP:
        before = _nearby_text(parent.prev, False)
    if not after and parent is not None and parent.tag not in _PAGE_TOP:
        after = _nearby_text(parent.next, True)
    return before, after


def other_money_of(el: LexborNode, text: str) -> str | None:
    """Why the amount in ``el`` (showing ``text``) is not a price, or None."""
    match = _NUMBERS.search(text)
    if match is None:
        return None
    before, after = _surroundings(el)
    return other_money(f"{before} {text[: match.start()]}", text[match.end():], after)


_MAX_INSIDE = 24


def _struck_inside(el: LexborNode) -> bool:
    """Whether every digit of ``el`` is inside a struck-through / list-labelled part of it
    (a wrapper around "<s>$979.97</s>" shows a list price, whatever its own label)."""
    if el.child is None or (el.child.next is None and el.child.tag == "-text"):
        return False
    struck = False
    for i, node in enumerate(el.traverse(include_text=True)):
        if i > _MAX_INSIDE:
            return False
        if node.tag == "-text" and any(ch.isdigit() for ch in node.text_content or ""):
            parent = node.parent
            inside = False
            while parent is not None and parent.mem_id != el.mem_id:
                if is_struck(parent):
                    inside = True
                    break
                parent = parent.parent
            if not inside:
                return False
            struck = True
    return struck


def _neighbour(el: LexborNode) -> bool:
    """Inside a link (a product tile links to its own page) or a variant picker."""
    node: LexborNode | None = el
    for _ in range(_NEIGHBOUR_DEPTH):
        if node is None or node.tag in _PAGE_TOP:
            return False
        tag = node.tag
        if tag in _VARIANT_TAGS or (tag == "a" and node.attributes.get("href")):
            return True
        node = node.parent
    return False


def _option_button(el: LexborNode) -> bool:
    """Inside a button other than the buy button: a size, colour, delivery or pickup option,
    and the amount is what that option costs, even inside the product's block."""
    node: LexborNode | None = el
    for _ in range(_BUTTON_DEPTH):
        if node is None or node.tag in _PAGE_TOP:
            return False
        if node.tag == "button":
            return not is_buy_control(node)
        node = node.parent
    return False


def _score(
    el: LexborNode,
    text: str,
    near: dict[int, int] | None,
    zones: _Zones,
    block: Membership,
) -> tuple[str, tuple[tuple[str, float], ...]] | None:
    """(role, cues) of a visible amount, or None when it is not the product's price."""
    listed, zone, labels = _context(el, zones)
    if zone:
        return None
    if _THRESHOLD.search(text):
        return None  # "free shipping over $50" is never the price
    label_words = words(labels)
    if other_money_label(label_words):
        return None  # labelled per-unit, instalment, coupon, "you save" or shipping
    in_block = block.inside(el)
    if (not in_block and _neighbour(el)) or _option_button(el):
        return None  # a related product's tile, another variant's or option's price
    cues: list[tuple[str, float]] = []
    listed = listed or _LIST_TEXT.search(text) is not None or _struck_inside(el)
    role = "list" if listed else "current"
    if _CURRENT_LABEL.search(label_words):
        cues.append(("current_label", 1.0))
    if _CURRENCY_SIGN.search(text) or _currency_beside(el):
        cues.append(("currency", 1.0))
    if _CURRENT_TEXT.search(text):
        cues.append(("current_text", 1.0))
    elif _PRICE_WORD.search(text):
        cues.append(("price_word", 1.0))
    if _BAD_TEXT.search(text):
        cues.append(("other_money_words", 1.0))
    if _FROM_TEXT.search(text):
        cues.append(("from_price", 1.0))
    if _VARIANT_LABEL.search(label_words):
        cues.append(("variant", 1.0))
    if in_block:
        cues.append(("main_block", 1.0))
    if near is not None:
        distance = near.get(el.mem_id)
        if distance is not None and distance >= 0:
            cues.append(("near_heading", round(1 - distance / _BEHIND, 3)))
        elif distance is not None:
            cues.append(("above_heading", 1.0))
        else:
            cues.append(("far_from_heading", 1.0))
    return role, tuple(cues)


def _currency_beside(el: LexborNode) -> bool:
    """Whether the box around an amount written without its currency ("<b>$</b><span>13.74"
    "</span>") shows a currency sign and no other number: the sign is this amount's."""
    parent = el.parent
    if parent is None or parent.tag in _PAGE_TOP:
        return False
    shown = text_of(parent, 40)
    return len(shown) <= 40 and len(_AMOUNT.findall(shown)) == 1 and bool(
        _CURRENCY_SIGN.search(shown))


def _amount_text(el: LexborNode) -> str | None:
    """The element's own price text; None for containers holding several amounts."""
    attrs = el.attributes
    content = attrs.get("content") or attrs.get("data-price") or attrs.get("value")
    text = text_of(el, 80)
    if not text and content:
        text = content
    if not text or len(text) > 60 or not any(ch.isdigit() for ch in text):
        return None
    groups = _NUMBERS.findall(text)
    if len(groups) > 2:
        return None
    return text


def _money_text_owners(root: LexborNode, limit: int) -> list[LexborNode]:
    """The elements owning the first ``limit`` text nodes inside <body> that show a currency,
    in document order.

    A text node after an element belongs to that element (lxml's "tail"), one at the start of
    an element to the element: the owner is the nearest element before it among its siblings,
    else its parent. This path runs only on pages with no element labelled as a price.
    """
    out: list[LexborNode] = []
    body = root.css_first("body")
    if body is None:
        return out
    search = _MONEY_TEXT.search
    for node in body.traverse(include_text=True):
        if node.tag != "-text":
            continue
        text = node.text_content
        if not text or not search(text):
            continue
        owner = node.prev
        while owner is not None and not owner.is_element_node:
            owner = owner.prev
        if owner is None:
            owner = node.parent
        if owner is not None:
            out.append(owner)
            if len(out) >= limit:
                break
    return out


def _element_readings(
    doc: Document,
    elements: list[LexborNode],
    text_only: bool,
    *,
    near: dict[int, int] | None,
    zones: _Zones,
    block: Membership,
    seen: set[int],
) -> list[_Reading]:
    """The amounts of ``elements`` (price-labelled elements, or the owners of money text when
    ``text_only``), each element read once."""
    priced = None if text_only else {el.mem_id for el in elements}
    readings: list[_Reading] = []
    queue = list(elements)
    queue.reverse()
    while queue:
        el = queue.pop()
        if el.mem_id in seen or el.tag in ("body", "html", "form", "script", "style"):
            continue
        seen.add(el.mem_id)
        text = _amount_text(el)
        if text is None:
            continue
        text = _joined_cents(el, text, doc.hints.decimal)
        parts = _amount_parts(el, text)
        if parts:
            queue.extend(reversed(parts))  # "$410 $210": each part is read on its own
            continue
        if _unreadable(el, text, priced):
            continue
        amount, currency = parse_with_hints(text, doc.hints)
        if amount is None:
            continue
        scored = _score(el, text, near, zones, block)
        if scored is None:
            continue
        role, cues = scored
        if text_only:
            cues = (*cues, ("text_only", 1.0))
        readings.append((el, text, amount, currency, role, cues))
    return readings


def extract(doc: Document, found: Findings) -> None:
    """Append visible price candidates to ``found``."""
    root = doc.root
    if root is None:
        return
    index = doc.index
    heading_el, _ = main_heading(index, root)
    near = None
    window: list[LexborNode] = []
    keep: set[int] = set()
    if heading_el is not None:
        near = distances(heading_el, before=_AHEAD, after=_BEHIND)
        keep = {a.mem_id for a in _ancestors(heading_el)}
    found.block, control = main_block(index, heading_el, near)
    if found.block is not None and control is not None:
        # The product's own buy form is often named "cart" or "basket": not a mini-cart.
        keep.update(a.mem_id for a in between(control, found.block))
    block = Membership(found.block)
    zones = _Zones(frozenset(keep), index.controls, block)
    elements = index.priced[:_MAX_CANDIDATES]
    source = "element"
    if not elements:
        elements = _money_text_owners(root, _MAX_CANDIDATES)
        source = "text"
    seen: set[int] = set()
    readings = _element_readings(doc, elements, source == "text", near=near, zones=zones,
                                 block=block, seen=seen)
    readings = _drop_other_money(readings)
    if source == "element" and heading_el is not None and not _settled(_paired(readings), found):
        # No element labelled as a price says anything clear: read money text just below
        # the heading, as a person would (shops without "price" in their class names). The
        # walk after the heading is repeated to collect its elements: this is the rare page.
        distances(heading_el, before=0, after=_BEHIND, behind=window)
        readings.extend(_drop_other_money(
            _window_readings(doc, window, near=near, zones=zones, block=block, seen=seen)))
    found.candidates.extend(_candidates(_paired(readings), doc.hints.currency))


_AMOUNT = re.compile(r"\d[\d.,\u00a0']*")
# Numbers other than percentages ("sis. 24% alv", "-20%" beside a sale are no amounts).
_NOT_PERCENT = re.compile(r"(?<![\d.,])\d[\d.,\u00a0']*(?![\d.,\u00a0']|\s?%)")


def _amount_parts(el: LexborNode, text: str) -> list[LexborNode]:
    """The child elements of a box that shows two amounts side by side, one in each
    ("<div class=price><b>$410</b><b>$210</b></div>"); [] for anything else (one amount, or
    amounts not drawn in elements of their own)."""
    if len(_AMOUNT.findall(text)) != 2 or len(_CURRENCY_SIGN.findall(text)) < 2:
        return []
    parts: list[LexborNode] = []
    child = el.child
    while child is not None:
        if child.is_element_node:
            shown = text_of(child, 40)
            found = len(_AMOUNT.findall(shown))
            if found > 1:
                return []
            if found == 1:
                parts.append(child)
        child = child.next
    return parts if len(parts) == 2 else []


_PAIR_DEPTH = 3


def _box_of_two(el: LexborNode) -> int | None:
    """The mem_id of the smallest box around ``el`` (up to ``_PAIR_DEPTH`` levels up) that
    shows more than one amount, when it shows exactly two; else None."""
    node = el.parent
    for _ in range(_PAIR_DEPTH):
        if node is None or node.tag in _PAGE_TOP:
            return None
        found = len(_NOT_PERCENT.findall(text_of(node, 80)))
        if found == 2:
            return node.mem_id
        if found > 2:
            return None
        node = node.parent
    return None


def _paired(readings: list[_Reading]) -> list[_Reading]:
    """Two unlabelled current amounts shown side by side in one box, and nothing else there:
    a sale, as a shopper reads it, so the higher one becomes the former (list) price.

    Side by side means the smallest box around both shows just these two numbers (a tax note's
    percentage aside); when either one's own label or words already say which is which, the
    pair is left alone. Only the amounts that could win are looked at."""
    scores = [WEIGHTS.score(r[5]) for r in readings]
    current = [scores[i] for i, r in enumerate(readings) if r[4] == "current"]
    if len(current) < 2:
        return readings
    floor = max(current) - _CHECK_SPAN
    boxes: dict[int, list[int]] = {}
    for i, (el, _, _, _, role, cues) in enumerate(readings):
        if role != "current" or scores[i] < floor or any(n in _SAYS for n, _ in cues):
            continue
        box = _box_of_two(el)
        if box is not None:
            boxes.setdefault(box, []).append(i)
    out = list(readings)
    for members in boxes.values():
        if len(members) != 2:
            continue
        a, b = (readings[i] for i in members)
        if a[2] == b[2]:
            continue
        high = members[0] if a[2] > b[2] else members[1]
        el, text, amount, currency, _, cues = readings[high]
        out[high] = (el, text, amount, currency, "list", (*cues, ("paired_higher", 1.0)))
    return out


def _unreadable(el: LexborNode, text: str, priced: set[int] | None) -> bool:
    """Whether the element's text is no single price to read (``priced``: the ids of the
    price-labelled elements, when those are what is being read)."""
    if priced is not None and _wraps_prices(el, text, priced):
        return True  # a wrapper around "was" and "now" prices: its parts speak for themselves
    if _SPLIT_CENTS.search(text):
        return True  # "271 99 Lei": cents drawn apart; 27199 or 271.99 is a guess
    # "price__dollars" 31 / "price__cents" 57: a piece of a price.
    return bool(_BARE_DIGITS.match(text) and _PART_LABEL.search(words(_label(el))))


def _candidates(readings: list[_Reading], default_currency: str | None) -> list[Candidate]:
    """The readings as candidates, with the "repeated" cue where a label repeats."""
    repeated = _repeated_labels([(el, amount) for el, _, amount, *_ in readings])
    out: list[Candidate] = []
    for el, text, amount, currency, role, own in readings:
        cues = (*own, ("repeated", 1.0)) if _label_key(el) in repeated else own
        cls = " ".join(_label(el).split())[:50]
        out.append(
            Candidate(
                "heuristic",
                amount,
                currency or default_currency,
                WEIGHTS.score(cues),
                f"visible <{el.tag} {cls!r}> text {text[:50]!r}",
                role=role,
                cues=cues,
                element=el,
            )
        )
    return out


_REPEATS = 3
# Amounts scoring this far below the best are never the price nor a close rival under any
# weights bench/accuracy.py tries, so the words around them are not read.
_CHECK_SPAN = 0.25
_Reading = tuple[LexborNode, str, Decimal, str | None, str, tuple[tuple[str, float], ...]]
_STRUCTURED = frozenset(["jsonld", "microdata", "rdfa", "opengraph", "meta"])
_EVIDENCE = frozenset(["near_heading", "current_label", "current_text", "main_block"])
# Cues by which the shop itself says which amount is which.
_SAYS = frozenset(["current_label", "current_text", "other_money_words", "from_price"])
_WINDOW_TEXT = 120  # elements after the heading whose own text is read for money


def _drop_other_money(readings: list[_Reading]) -> list[_Reading]:
    """The readings without the amounts whose surrounding words make them other money
    (per unit, instalment, coupon, "you save", shipping...), in document order. Reading the
    words costs a walk over siblings and a dozen patterns, so it is done best score first
    and stops below the best kept one by ``_CHECK_SPAN``."""
    scores = [WEIGHTS.score(r[5]) for r in readings]
    order = sorted(range(len(readings)), key=lambda i: -scores[i])
    dropped: set[int] = set()
    best: float | None = None
    for i in order:
        score = scores[i]
        if best is not None and score < best - _CHECK_SPAN:
            break
        el, text = readings[i][0], readings[i][1]
        if other_money_of(el, text):
            dropped.add(i)
        elif best is None:
            best = score
    return [r for i, r in enumerate(readings) if i not in dropped]


def _settled(readings: list[_Reading], found: Findings) -> bool:
    """Whether structured data or a labelled price with evidence already speaks."""
    if any(c.extractor in _STRUCTURED for c in found.candidates):
        return True
    return any(
        role == "current" and any(name in _EVIDENCE for name, _ in cues)
        for *_, role, cues in readings
    )


def _window_readings(
    doc: Document,
    window: list[LexborNode],
    *,
    near: dict[int, int] | None,
    zones: _Zones,
    block: Membership,
    seen: set[int],
) -> list[_Reading]:
    """Money text owned by the first elements after the heading."""
    out: list[_Reading] = []
    search = _MONEY_TEXT.search
    for el in window[:_WINDOW_TEXT]:
        if el.mem_id in seen:
            continue
        child = el.child
        own = False
        while child is not None:
            if child.tag == "-text" and search(child.text_content or ""):
                own = True
                break
            child = child.next
        if not own:
            continue
        seen.add(el.mem_id)
        text = _amount_text(el)
        if text is None:
            continue
        text = _joined_cents(el, text, doc.hints.decimal)
        if _SPLIT_CENTS.search(text):
            continue
        amount, currency = parse_with_hints(text, doc.hints)
        if amount is None:
            continue
        scored = _score(el, text, near, zones, block)
        if scored is None:
            continue
        role, cues = scored
        out.append((el, text, amount, currency, role, (*cues, ("text_only", 1.0))))
    return out
# "12 . 99" (a price drawn in parts) is one number; "31 57" or "$15 $12" are two.
_SPLIT_DECIMAL = re.compile(r"(\d)\s*([.,])\s*(\d)")
_DIGIT_RUNS = re.compile(r"\d[\d.,']*")
_TWO_NUMBERS = re.compile(r"\d\s+\S{0,4}\s*\d")
# A last group of two digits after a space is never a thousands group ("1 299" is).
_BARE_DIGITS = re.compile(r"^\d+$")
# Parts of a price drawn in pieces ("a-price-whole", "Price-mantissa", "price__cents").
_PART_LABEL = re.compile(
    r"\b(?:dollars?|cents?|whole|fraction|decimals?|integer|int|mantissa|characteristic"
    r"|major|minor|units?|euros?|pounds?|pence)\b"
)
_SPLIT_CENTS = re.compile(r"\d\s+\d{2}(?![\d.,])")
_CENTS_AT = re.compile(r"(\d)\s+(\d{2})(?![\d.,])")
# The element that draws the cents apart: a superscript, or a part named for the cents.
_CENTS_LABEL = re.compile(r"\b(?:cents?|fraction|decimals?|mantissa|minor|pence|kopecks?)\b")
_TWO_DIGITS = re.compile(r"^\s*[.,]?\d{2}\s*$")


def _drawn_cents(el: LexborNode) -> bool:
    """Whether ``el`` draws its last two digits in their own small element (a superscript
    "173<sup>34</sup> Lei", a "price__cents" part): the shop's way of printing decimals."""
    for i, node in enumerate(el.traverse()):
        if i > _MAX_INSIDE:
            return False
        if i == 0 or not node.is_element_node:
            continue
        if node.tag == "sup" or _CENTS_LABEL.search(words(_label(node))):
            return bool(_TWO_DIGITS.match(text_of(node, 8)))
    return False


def _joined_cents(el: LexborNode, text: str, decimal: str | None) -> str:
    """``text`` with cents drawn apart ("173 34 Lei") joined to their amount when the markup
    shows them as cents; otherwise unchanged (and refused later as a guess)."""
    if _SPLIT_CENTS.search(text) is None or not _drawn_cents(el):
        return text
    return _CENTS_AT.sub(rf"\1{decimal or '.'}\2", text, count=1)


def _label_key(el: LexborNode) -> tuple[str | None, str]:
    return el.tag, " ".join((el.attributes.get("class") or "").split())


def _repeated_labels(readings: list[tuple[LexborNode, Decimal]]) -> set[tuple[str | None, str]]:
    """Labels (tag and class) shown with ``_REPEATS`` or more different amounts: a list of
    other offers or products (tiles, a price-comparison table), not the item's own price."""
    amounts: dict[tuple[str | None, str], set[Decimal]] = {}
    for el, amount in readings:
        amounts.setdefault(_label_key(el), set()).add(amount)
    return {key for key, seen in amounts.items() if len(seen) >= _REPEATS}


def _wraps_prices(el: LexborNode, text: str, priced: set[int]) -> bool:
    """Whether ``el`` holds two numbers and a price-labelled part holding digits: the parts
    are read on their own ("$ 31 57" around "31" and "57" could be 3157 or 31.57)."""
    if _TWO_NUMBERS.search(text) is None:
        return False  # the common case, decided by one search
    if len(_DIGIT_RUNS.findall(_SPLIT_DECIMAL.sub(r"\1\2\3", text))) < 2:
        return False
    return any(
        d.mem_id in priced and any(ch.isdigit() for ch in text_of(d, 40))
        for d in _descendants(el)
    )


def _ancestors(el: LexborNode) -> list[LexborNode]:
    out: list[LexborNode] = []
    node = el.parent
    while node is not None and node.tag != "-document":
        out.append(node)
        node = node.parent
    return out


def _descendants(el: LexborNode) -> Iterator[LexborNode]:
    walk = el.traverse()
    next(walk)  # el itself
    return (d for d in walk if d.is_element_node)
