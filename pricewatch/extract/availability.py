"""Availability, three-state: True (can be ordered now), False (cannot), None (page does not say).

Pre-orders and back-orders count as orderable: a watcher wants to know they can buy. Sources,
strongest first: schema.org availability in structured data, elements labelled as stock or
availability, and the add-to-cart control (present and enabled, or disabled).
"""

from __future__ import annotations

import functools
import re

from selectolax.lexbor import LexborNode

from pricewatch.extract.candidates import Signal
from pricewatch.extract.document import text_of
from pricewatch.extract.index import PageIndex

# Every schema.org ItemAvailability value, by its bare lower-case name.
_SCHEMA: dict[str, bool] = {
    "instock": True,
    "limitedavailability": True,
    "onlineonly": True,
    "instoreonly": True,
    "preorder": True,
    "presale": True,
    "backorder": True,
    "madetoorder": True,
    "outofstock": False,
    "soldout": False,
    "discontinued": False,
    "reserved": False,
    # Values seen in the wild that are not schema.org names but mean the same.
    "in stock": True,
    "out of stock": False,
    "available": True,
    "unavailable": False,
    "in_stock": True,
    "out_of_stock": False,
    "available for order": True,
    "preorder available": True,
}


def schema_availability(value: object) -> bool | None:
    """True/False for a schema.org availability (URL, prefixed, or bare name), else None."""
    if not isinstance(value, str):
        return None
    name = value.strip().rstrip("/").rsplit("/", 1)[-1].rsplit(":", 1)[-1].lower()
    return _SCHEMA.get(name)


_OUT = re.compile(
    r"out[\s-]of[\s-]stock|sold[\s-]?out|currently unavailable|no longer available"
    r"|temporarily unavailable|not (?:currently )?available for (?:purchase|order)"
    r"|notify me when|email me when"
    r"|ausverkauft|nicht (?:mehr )?(?:verfügbar|lieferbar|auf lager|vorrätig)|vergriffen"
    r"|rupture de stock|en rupture|épuisée?|indisponible|plus disponible"
    r"|agotado|sin stock|sin existencias|no disponible"
    r"|esaurit[oa]|non disponibile|non più disponibile"
    r"|uitverkocht|niet (?:op voorraad|leverbaar|beschikbaar)"
    r"|esgotado|indisponível|fora de estoque|sem estoque"
    r"|niedostępny|wyprzedan[ya]|brak w magazynie|brak towaru"
    r"|slutsåld|tillfälligt slut|slut i lager|ej i lager|ikke på lager|udsolgt|utsolgt"
    r"|нет в наличии|vyprodáno|vypredané|není skladem|nie je skladom|nedostupn[éý]"
    r"|elfogyott|nincs készleten|nem rendelhető|stoc epuizat|indisponibil|nu (?:este )?în stoc"
    r"|tükendi|stokta yok|在庫切れ|売り切れ|品切れ|完売|缺貨|缺货|售完|已售罄|無庫存|无库存|无货"
    r"|품절|재고 ?없음",
    re.IGNORECASE,
)
_IN = re.compile(
    r"\bin stock\b|\bavailable\b|ships? (?:today|in|within)|pre-?order|back-?order"
    r"|auf lager|sofort lieferbar|\blieferbar\b|verfügbar|vorbestellen"
    r"|en stock|\bdisponible\b|précommande|en existencia|disponibile|in magazzino"
    r"|op voorraad|\bleverbaar\b|em estoque|\bdisponível\b|\bdostępny\b|w magazynie"
    r"|i lager|på lager|в наличии|\bskladem\b|\bskladom\b|készleten|raktáron|\bîn stoc\b"
    r"|\bstokta\b|在庫あり|有貨|有货|現貨|现货|재고 ?있음",
    re.IGNORECASE,
)
_CART_TEXT = re.compile(
    r"add to (?:cart|basket|bag|trolley)|buy (?:it )?now|add to order|pre-?order now"
    r"|in den warenkorb|jetzt kaufen|ajouter au panier|acheter|añadir al (?:carrito|cesta)"
    r"|comprar|aggiungi al carrello|acquista|in (?:de )?winkelwagen|bestellen"
    r"|adicionar ao carrinho|dodaj do koszyka|kup teraz|lägg i (?:varukorgen|kundvagn)|köp"
    r"|læg i kurv|legg i handlekurv|в корзину|купить|do košíku|koupit|kosárba|megveszem"
    r"|adaug[aă] [iî]n co[sș]|cump[aă]r[aă]|sepete ekle|カートに入れる|購入する|加入購物車"
    r"|加入购物车|立即購買|立即购买|장바구니|구매하기|바로 ?구매",
    re.IGNORECASE,
)

_CART_ATTR = re.compile(r"add[-_ ]?to[-_ ]?(?:cart|basket|bag)|buy[-_ ]?now|addtocart", re.I)


# Pages repeat the same few control labels and class names hundreds of times, and these two
# alternations cost far more per string than a dict lookup (bench/throughput.py, dense pages).
@functools.lru_cache(maxsize=4096)
def _cart_text(text: str) -> bool:
    return _CART_TEXT.search(text) is not None


@functools.lru_cache(maxsize=4096)
def _cart_attr(attrs: str) -> bool:
    return _CART_ATTR.search(attrs) is not None


_DISABLED_CLASS = re.compile(r"\bdisabled\b|\bunavailable\b|sold-?out|out-?of-?stock")
_SOLD_OUT_CLASS = re.compile(r"\bunavailable\b|sold-?out|out-?of-?stock")
# Below this a signal is a doubt: a shown price and nothing clearer means in stock.
_WEAK = 0.5


def is_disabled(el: LexborNode) -> bool:
    """Disabled by attribute, aria-disabled or a disabled / sold-out class."""
    attrs = el.attributes
    if "disabled" in attrs or attrs.get("aria-disabled") == "true":
        return True
    cls = (attrs.get("class") or "").lower()
    return bool(_DISABLED_CLASS.search(cls))


_ZONE = re.compile(
    r"related|recommend|carousel|upsell|cross-?sell|also-?(?:bought|viewed)|similar|modal"
    r"|popup|template|\bhidden\b|\bhide\b|d-none|is-hidden|invisible"
    # Other sellers' offers and price comparisons: their stock is not this offer's.
    r"|compare-?prices|price-?comparison|other-?sellers|offers-?list",
)
# A stock label about one way of getting the item (home delivery, store pickup), not the
# item: "No disponible" under "retiro en tienda" still leaves it orderable.
_DELIVERY_ZONE = re.compile(
    r"shipping|delivery|pick-?up|click-?(?:and|n)-?collect|entrega|envio|retiro|despacho"
    r"|livraison|lieferung|versand|abholung|spedizione|consegna|ritiro|verzending|bezorg"
    r"|dostawa|odbi[oó]r|doprava|szállítás|livrare|store-?availability|in-?store|fulfil"
)
# A label is short: a row or box whose text runs on holds other things, often other
# offers' or variants' stock ("... Out of Stock ₹790 Offers").
_MAX_LABEL = 80
_HIDDEN_STYLE = re.compile(r"(?<![\w-])(?:display\s*:\s*none|visibility\s*:\s*hidden)", re.I)
# Stock words about something other than the product ("image not available").
_OTHER_SUBJECT = re.compile(r"image|photo|bild|imagen|immagine|colou?r|video|zoom", re.I)


def _excluded_here(node: LexborNode) -> bool:
    attrs = node.attributes
    if "hidden" in attrs or _HIDDEN_STYLE.search(attrs.get("style") or ""):
        return True
    label = f"{attrs.get('class') or ''} {attrs.get('id') or ''}".lower()
    return bool(label.strip() and _ZONE.search(label))


def _in_excluded_zone(el: LexborNode, known: dict[int, bool]) -> bool:
    """Hidden templates and related-product carousels carry their own stock labels and cart
    buttons, which say nothing about the product itself. ``known`` keeps each ancestor's
    answer for the page's other labels and buttons, by mem_id (a LexborNode's == compares
    serialized markup)."""
    chain: list[LexborNode] = []
    node: LexborNode | None = el
    excluded = False
    while node is not None and node.tag != "-document":
        seen = known.get(node.mem_id)
        if seen is not None:
            excluded = seen
            break
        chain.append(node)
        node = node.parent
    for node in reversed(chain):
        excluded = excluded or _excluded_here(node)
        known[node.mem_id] = excluded
    return excluded


_DELIVERY_DEPTH = 6


def _about_delivery(el: LexborNode) -> bool:
    """Whether a stock label sits in a box named for a delivery or pickup option."""
    node: LexborNode | None = el
    for _ in range(_DELIVERY_DEPTH):
        if node is None or node.tag in ("body", "html", "-document"):
            return False
        attrs = node.attributes
        label = f"{attrs.get('class') or ''} {attrs.get('id') or ''}".lower()
        if label.strip() and _DELIVERY_ZONE.search(label):
            return True
        node = node.parent
    return False


def _attrs(el: LexborNode) -> str:
    attrs = el.attributes
    return f"{attrs.get('id') or ''} {attrs.get('class') or ''} {attrs.get('name') or ''}"


_CONTROL_TAGS = frozenset(["button", "input", "a"])


def is_buy_control(el: LexborNode) -> bool:
    """An add-to-cart / buy-now control (button, input or link), enabled or not.

    Its attributes first: reading the text of a container named "buybox" would cost a walk
    over its whole subtree."""
    if _cart_attr(_attrs(el)):
        return True
    if el.tag not in _CONTROL_TAGS:
        return False
    attrs = el.attributes
    text = text_of(el, 60) or attrs.get("value") or attrs.get("title") or ""
    text = text.strip()
    return len(text) <= 60 and _cart_text(text)


def visible_signals(index: PageIndex) -> list[Signal]:
    """Availability evidence from the visible page (stock labels, add-to-cart controls)."""
    signals: list[Signal] = []
    stock_elements = [el for el in index.stock if el.tag not in ("body", "html", "main")][:30]
    stock_elements += [
        el for el in index.props if el.attributes.get("itemprop") == "availability"
    ][:5]
    cart_elements = index.controls[:200]
    known: dict[int, bool] = {}
    for el in stock_elements:
        if _in_excluded_zone(el, known):
            continue
        text = text_of(el, 120)
        attrs = el.attributes
        content = attrs.get("content") or attrs.get("href") or ""
        state = schema_availability(content) if content else None
        if state is not None:
            signals.append(Signal(state, 0.85, f"<{el.tag} itemprop=availability> {content!r}"))
            continue
        if not text or len(text) > _MAX_LABEL or _OTHER_SUBJECT.search(text):
            continue
        if _about_delivery(el):
            continue
        if _OUT.search(text):
            signals.append(Signal(False, 0.8, f"stock label <{el.tag}> says {text[:60]!r}"))
        elif _IN.search(text):
            signals.append(Signal(True, 0.75, f"stock label <{el.tag}> says {text[:60]!r}"))
    for el in cart_elements:
        attrs = el.attributes
        text = text_of(el, 60) or attrs.get("value") or attrs.get("title") or ""
        text = text.strip()
        # The length test first: hidden inputs carry long tokens the regexes would scan.
        if len(text) > 60 or not (_cart_text(text) or _cart_attr(_attrs(el))):
            continue
        if _in_excluded_zone(el, known):
            continue
        if _OUT.search(text) or _SOLD_OUT_CLASS.search((attrs.get("class") or "").lower()):
            signals.append(Signal(False, 0.6, f"sold-out buy control <{el.tag}> {text[:40]!r}"))
        elif is_disabled(el):
            # Shops disable "add to cart" until a size or colour is chosen: on its own that is
            # a doubt, not a "sold out" (it loses to a shown price; see ``conclude``).
            signals.append(Signal(False, _WEAK - 0.1,
                                  f"disabled buy control <{el.tag}> {text[:40]!r}"))
        else:
            signals.append(Signal(True, 0.55, f"buy control <{el.tag}> {text[:40]!r}"))
    return signals


def _drop_repeats(signals: list[Signal]) -> list[Signal]:
    """The same label many times over is a list (stores, sizes, other products), not the
    product's own state."""
    counts: dict[str, int] = {}
    for s in signals:
        counts[s.evidence] = counts.get(s.evidence, 0) + 1
    return [s for s in signals if counts[s.evidence] <= 3 or s.confidence >= 0.85]


def decide(signals: list[Signal]) -> Signal | None:
    """The strongest signal; on equal strength "out of stock" wins (it is the costlier miss)."""
    signals = _drop_repeats(signals)
    if not signals:
        return None
    return max(signals, key=lambda s: (s.confidence, not s.in_stock))


def conclude(
    signals: list[Signal], *, priced: bool, stated: bool | None = None
) -> tuple[bool | None, str | None]:
    """(in_stock, evidence) from the page's signals and whether a price was chosen
    (``stated``: the availability the chosen price's own markup gives)."""
    stock = decide(signals)
    if stock is not None and (stock.confidence >= _WEAK or not priced):
        return stock.in_stock, stock.evidence
    if priced:
        # The benchmark's rule, and a shopper's reading: a product page that shows a price
        # and nowhere says "sold out" is selling the item.
        return (True if stated is None else stated), (
            "assumed: a price is shown and nothing says out of stock")
    return None, None
