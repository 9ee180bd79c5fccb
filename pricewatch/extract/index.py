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


def build(root: Any) -> PageIndex:
    """Walk the tree once and file the interesting elements."""
    idx = PageIndex()
    order = idx.order
    n = 0
    # iter(Element) skips comments and processing instructions in C; one get() per attribute
    # is cheaper than building an attrib proxy, and most elements have neither class nor id.
    for el in root.iter(etree.Element):
        tag = el.tag
        if tag in _SKIP:
            continue
        n += 1
        get = el.get
        cls = get("class")
        ident = get("id")
        hit = False
        if cls is not None or ident is not None:
            label = f"{cls or ''} {ident or ''}".lower()
            if "price" in label or "prc" in label:
                idx.priced.append(el)
                hit = True
            if "stock" in label or "availab" in label:
                idx.stock.append(el)
                hit = True
            if "cart" in label or "basket" in label or "buy" in label:
                idx.controls.append(el)
                hit = True
        if tag in _CART_TAGS:
            if not hit:
                idx.controls.append(el)
                hit = True
        elif tag == "meta":
            idx.metas.append(el)
            hit = get("itemprop") is not None or get("property") is not None
        elif tag == "h1":
            idx.h1.append(el)
            hit = True
        elif tag == "title" and idx.title is None:
            idx.title = el
        if get("itemprop") is not None or get("property") is not None or (
            get("itemscope") is not None
        ):
            idx.props.append(el)
            hit = True
        if hit:
            order[el] = n
    return idx
