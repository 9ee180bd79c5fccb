"""One CSS query that files away every element an extractor may want.

Lexbor runs the query in C over the whole tree and hands Python only the hits (a few hundred
of a page's thousands of elements), so the index costs about what a Python walk over the tree
cost just to visit every element.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from selectolax.lexbor import LexborHTMLParser, LexborNode

_PRICE_WORDS = ("price", "prc")
_STOCK_WORDS = ("stock", "availab")
_CONTROL_WORDS = ("cart", "basket", "buy")
_SKIP = frozenset(["noscript", "path", "template"])
_CART_TAGS = frozenset(["button", "input"])
_PROPS = ("itemprop", "property", "itemscope")
_PRICED, _STOCK, _CONTROL = 1, 2, 4
# Roles by raw (class, id) pair: pages repeat the same few hundred labels thousands of times.
_ROLES: dict[tuple[str | None, str | None], int] = {}
_MAX_ROLES = 10_000

# Case-insensitive substring matches on class, exactly the words _roles() looks for, and every
# element with an id (few on a page; _roles() reads the id in Python): so every element with a
# role is a hit, at one entry for all ids instead of one per word. The other entries are the
# attributes and tags the extractors read. Lexbor returns hits in document order, an element
# once per entry it matches; each entry costs a test at every element of the page.


def _query(words: tuple[str, ...]) -> str:
    return ", ".join(
        [f"[class*={word} i]" for word in words]
        + ["[id]"]
        + [f"[{attr}]" for attr in _PROPS]
        + sorted(_CART_TAGS | _BY_TAG)
    )


# Filed by tag from the same query. A type selector is an integer compare per element inside
# the one pass the query makes anyway, while ``tags(name)`` makes a pass of its own per name
# with a string compare at every node: three of them cost about what the whole query did
# (bench/profile.py, dense pages).
_BY_TAG = frozenset(["meta", "h1", "title"])


_QUERY = _query(_PRICE_WORDS + _STOCK_WORDS + _CONTROL_WORDS)
# For an offer whose own rule found the price, only availability and the title read the
# index: each substring test is a pass over every element, and price-labelled elements are
# the most numerous hits (product tiles), so leaving them out is a real share of the
# extraction (bench/profile.py splits out the index query).
_QUERY_NO_PRICES = _query(_STOCK_WORDS + _CONTROL_WORDS)


@dataclass(slots=True)
class PageIndex:
    """Elements by role, each list in document order."""

    priced: list[LexborNode] = field(default_factory=list)  # class/id mentions price
    stock: list[LexborNode] = field(default_factory=list)  # class/id mentions stock/availability
    controls: list[LexborNode] = field(default_factory=list)  # buttons, inputs, cart/buy links
    props: list[LexborNode] = field(default_factory=list)  # itemprop / property / itemscope
    metas: list[LexborNode] = field(default_factory=list)
    h1: list[LexborNode] = field(default_factory=list)
    title: LexborNode | None = None
    hits: set[int] = field(default_factory=set)  # mem_id of every element the query hit


def _roles(cls: str | None, ident: str | None) -> int:
    """The roles a class/id pair names, as bits (cached; the cache is bounded)."""
    key = (cls, ident)
    roles = _ROLES.get(key)
    if roles is None:
        label = f"{cls or ''} {ident or ''}".lower()
        roles = 0
        if any(word in label for word in _PRICE_WORDS):
            roles |= _PRICED
        if any(word in label for word in _STOCK_WORDS):
            roles |= _STOCK
        if any(word in label for word in _CONTROL_WORDS):
            roles |= _CONTROL
        if len(_ROLES) >= _MAX_ROLES:
            _ROLES.clear()
        _ROLES[key] = roles
    return roles


def _known_names(tree: LexborHTMLParser) -> None:
    """Make the document know the attribute names the query tests for.

    Lexbor's selector engine remembers an attribute's id once the document's name table
    has it; for a name no element carries (many pages have no microdata) it looks the name
    up again at every element, which costs more than the match itself. One detached element
    carrying the names fills the table; it is in no tree, so no query can find it."""
    holder = tree.create_node("div")
    attrs = holder.attrs
    for name in _PROPS:
        attrs[name] = ""


def build(tree: LexborHTMLParser, *, prices: bool = True) -> PageIndex:
    """Run the query once and file the hits; without ``prices``, ``priced`` stays empty."""
    idx = PageIndex()
    priced, stock, controls, props = idx.priced, idx.stock, idx.controls, idx.props
    metas, h1 = idx.metas, idx.h1
    seen = idx.hits
    cache = _ROLES
    _known_names(tree)
    for el in tree.css(_QUERY if prices else _QUERY_NO_PRICES):
        key = el.mem_id
        if key in seen:
            continue  # the same element again, for the next entry of the query it matches
        tag = el.tag
        if tag in _SKIP:
            continue
        seen.add(key)
        attrs = el.attributes
        hit = False
        cls = attrs.get("class")
        ident = attrs.get("id")
        if cls is not None or ident is not None:
            roles = cache.get((cls, ident))
            if roles is None:
                roles = _roles(cls, ident)
            if roles:
                hit = True
                if roles & _PRICED and prices:
                    priced.append(el)
                if roles & _STOCK:
                    stock.append(el)
                if roles & _CONTROL:
                    controls.append(el)
        if tag in _CART_TAGS and not hit:
            controls.append(el)
        if "itemprop" in attrs or "property" in attrs or "itemscope" in attrs:
            props.append(el)
        if tag in _BY_TAG:
            if tag == "meta":
                metas.append(el)
            elif tag == "h1":
                h1.append(el)
            elif idx.title is None:
                idx.title = el
    return idx


def _uncounted_ids() -> frozenset[int]:
    """Lexbor's tag ids of the nodes a distance does not count: _SKIP elements, text,
    comments, the document (ints compare without building a tag-name str per node)."""
    from selectolax.lexbor import LexborHTMLParser

    probe = LexborHTMLParser(
        b"<body><!--c--><noscript></noscript><template></template><svg><path/></svg>x</body>"
    )
    root = probe.root
    assert root is not None
    assert root.parent is not None
    ids = {node.tag_id for node in root.traverse(include_text=True)
           if node.tag in _SKIP or not node.is_element_node}
    ids.add(root.parent.tag_id)
    return frozenset(ids)


_UNCOUNTED = _uncounted_ids()


def distances(
    anchor: LexborNode, *, before: int, after: int, behind: list[LexborNode] | None = None
) -> dict[int, int]:
    """Signed distances, in elements of document order, from ``anchor`` to the elements less
    than ``before`` ahead of it and less than ``after`` behind it, by mem_id.

    The heuristic weighs a price by its closeness to the product heading; only this window
    matters, so the walk visits a few hundred nodes instead of numbering the whole page.
    ``behind``, when given, receives the elements after the anchor in document order.
    """
    out: dict[int, int] = {anchor.mem_id: 0}
    uncounted = _UNCOUNTED
    n = 0
    # Behind: the anchor's subtree (a lazy walk in C), then each ancestor's next siblings'.
    node: LexborNode | None = anchor
    while node is not None:
        walk = node.traverse()
        if node is anchor:
            next(walk)
        for el in walk:
            if el.tag_id in uncounted:
                continue
            n += 1
            if n >= after:
                break
            out[el.mem_id] = n
            if behind is not None:
                behind.append(el)
        if n >= after:
            break
        sibling = node.next
        while sibling is None:
            node = node.parent
            if node is None or node.tag == "-document":
                break
            sibling = node.next
        node = sibling
    # Ahead, in reverse document order: the previous sibling's deepest last descendant, or
    # else the parent.
    n = 0
    node = anchor
    while True:
        prev = node.prev
        if prev is not None:
            node = prev
            child = node.last_child
            while child is not None:
                node = child
                child = node.last_child
        else:
            parent = node.parent
            if parent is None or parent.tag == "-document":
                break
            node = parent
        if node.tag_id in uncounted:
            continue
        n += 1
        if n >= before:
            break
        out[node.mem_id] = -n
    return out
