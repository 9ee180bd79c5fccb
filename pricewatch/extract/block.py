"""The main product block: the smallest container of the product's heading and its buy button.

A person finds the price by looking next to the product's name and its "add to cart" button;
prices elsewhere on the page (carousels, "customers also bought", a neighbouring variant's
tile) belong to other products. The block is the lowest common ancestor of the main <h1> and
the nearest enabled buy control; a page where that ancestor is the whole page has no block.
"""

from __future__ import annotations

from selectolax.lexbor import LexborNode

from pricewatch.extract.availability import is_buy_control
from pricewatch.extract.index import PageIndex

_PAGE_TOP = frozenset(["body", "html", "-document"])
_MAX_CONTROLS = 40


def _chain(el: LexborNode) -> list[LexborNode]:
    """``el`` and its ancestors below <body>, innermost first."""
    out: list[LexborNode] = []
    node: LexborNode | None = el
    while node is not None and node.tag not in _PAGE_TOP:
        out.append(node)
        node = node.parent
    return out


def main_block(
    index: PageIndex, heading: LexborNode | None, near: dict[int, int] | None = None
) -> tuple[LexborNode | None, LexborNode | None]:
    """(the container of ``heading`` and the product's buy control, that control), or
    (None, None).

    The buy control is the first one after the heading in document order, else the
    nearest before it; ``near`` (mem_id -> signed distance from the heading, see
    ``index.distances``) limits the search to the heading's window, since a buy button far
    away belongs to another product and reading each control's text is the cost here."""
    if heading is None:
        return None, None
    controls = index.controls
    if near is not None:
        after = [c for c in controls if near.get(c.mem_id, -1) >= 0]
        before = [c for c in controls if near.get(c.mem_id, 0) < 0][::-1]
        controls = after + before
    control = next((c for c in controls[:_MAX_CONTROLS] if is_buy_control(c)), None)
    if control is None:
        return None, None
    depth = {node.mem_id for node in _chain(heading)}
    block = next((node for node in _chain(control) if node.mem_id in depth), None)
    return (block, control) if block is not None else (None, None)


def between(inner: LexborNode, outer: LexborNode) -> list[LexborNode]:
    """``inner`` and its ancestors up to, not including, ``outer``."""
    out: list[LexborNode] = []
    node: LexborNode | None = inner
    while node is not None and node.mem_id != outer.mem_id and node.tag not in _PAGE_TOP:
        out.append(node)
        node = node.parent
    return out


class Membership:
    """Whether elements lie inside one container, each ancestor's answer kept by mem_id."""

    def __init__(self, block: LexborNode | None) -> None:
        self.block = block.mem_id if block is not None else None
        self.known: dict[int, bool] = {}

    def inside(self, el: LexborNode) -> bool:
        if self.block is None:
            return False
        chain: list[int] = []
        node: LexborNode | None = el
        answer = False
        while node is not None and node.tag not in _PAGE_TOP:
            key = node.mem_id
            if key == self.block:
                answer = True
                break
            seen = self.known.get(key)
            if seen is not None:
                answer = seen
                break
            chain.append(key)
            node = node.parent
        for key in chain:
            self.known[key] = answer
        return answer
