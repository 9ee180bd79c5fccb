"""One walk over the tree that files away every element an extractor may want.

Each XPath over a 400 KB page costs about a millisecond, as much as a Python walk; the
hot-path budget allows one walk, so every extractor reads from this index instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lxml import etree

_SKIP = frozenset(["script", "style", "noscript", "svg", "path", "template"])
_CART_TAGS = frozenset(["button", "input"])
_CODE = frozenset(["script", "style"])
_PROPS = frozenset(["itemprop", "property", "itemscope"])
_PRICED, _STOCK, _CONTROL = 1, 2, 4
# Roles by raw (class, id) pair: pages repeat the same few hundred labels thousands of times.
_ROLES: dict[tuple[str | None, str | None], int] = {}
_MAX_ROLES = 10_000


@dataclass(slots=True)
class PageIndex:
    """Elements by role, each list in document order; ``order`` numbers elements."""

    priced: list[Any] = field(default_factory=list)  # class/id mentions price
    stock: list[Any] = field(default_factory=list)  # class/id mentions stock/availability
    controls: list[Any] = field(default_factory=list)  # buttons, inputs, cart/buy links
    props: list[Any] = field(default_factory=list)  # itemprop / property / itemscope
    metas: list[Any] = field(default_factory=list)
    h1: list[Any] = field(default_factory=list)
    title: Any = None
    order: dict[Any, int] = field(default_factory=dict)
    # No script/style element holds text (their contents are stripped before parsing), so
    # an element's itertext() is its visible text: see document.text_of.
    plain: bool = True


def _roles(cls: str | None, ident: str | None) -> int:
    """The roles a class/id pair names, as bits (cached; the cache is bounded)."""
    key = (cls, ident)
    roles = _ROLES.get(key)
    if roles is None:
        label = f"{cls or ''} {ident or ''}".lower()
        roles = 0
        if "price" in label or "prc" in label:
            roles |= _PRICED
        if "stock" in label or "availab" in label:
            roles |= _STOCK
        if "cart" in label or "basket" in label or "buy" in label:
            roles |= _CONTROL
        if len(_ROLES) >= _MAX_ROLES:
            _ROLES.clear()
        _ROLES[key] = roles
    return roles


def build(root: Any) -> PageIndex:
    """Walk the tree once and file the interesting elements."""
    idx = PageIndex()
    order = idx.order
    priced, stock, controls, props = idx.priced, idx.stock, idx.controls, idx.props
    cache = _ROLES
    n = 0
    # iter(Element) skips comments and processing instructions in C. One keys() call says
    # which attributes are there: most elements have no class or id, and a get() per
    # attribute costs as much as keys().
    for el in root.iter(etree.Element):
        tag = el.tag
        if tag in _SKIP:
            if tag in _CODE and el.text:
                idx.plain = False
            continue
        n += 1
        hit = False
        has_prop = False
        keys = el.keys()
        if keys:
            cls = el.get("class") if "class" in keys else None
            ident = el.get("id") if "id" in keys else None
            if cls is not None or ident is not None:
                roles = cache.get((cls, ident))
                if roles is None:
                    roles = _roles(cls, ident)
                if roles:
                    hit = True
                    if roles & _PRICED:
                        priced.append(el)
                    if roles & _STOCK:
                        stock.append(el)
                    if roles & _CONTROL:
                        controls.append(el)
            has_prop = not _PROPS.isdisjoint(keys)
        if tag in _CART_TAGS:
            if not hit:
                controls.append(el)
                hit = True
        elif tag == "meta":
            idx.metas.append(el)
            hit = has_prop and ("itemprop" in keys or "property" in keys)
        elif tag == "h1":
            idx.h1.append(el)
            hit = True
        elif tag == "title" and idx.title is None:
            idx.title = el
        if has_prop:
            props.append(el)
            hit = True
        if hit:
            order[el] = n
    return idx
