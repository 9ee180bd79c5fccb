"""A CSS selector that pins one element of a page, for the user to paste into the config.

Built from what survives a page's next deploy best: an id, then stable class names, then
``:nth-of-type``; every selector returned has been checked to match exactly that one element
on the page (the tree an explicit ``selector:`` rule runs on).
"""

from __future__ import annotations

import re

from selectolax.lexbor import LexborNode, SelectolaxError

_TOP = frozenset(["html", "body", "-document"])
# Identifiers a page generates per build or per render ("ember123", "a1b2c3d4", "css-1x2y3z"),
# and state classes that change while the user looks at the page.
_VOLATILE = re.compile(r"\d{3,}|[0-9a-f]{6,}|^css-|^sc-|^jsx-|^_|active|selected|hover|focus"
                       r"|open|visible|hidden|loaded|lazy|js-", re.I)
_PLAIN = re.compile(r"^-?[A-Za-z_][A-Za-z0-9_-]*$")
_MAX_CLASSES = 2
_MAX_DEPTH = 12


def _stable(token: str) -> bool:
    return bool(_PLAIN.match(token)) and not _VOLATILE.search(token)


def _part(el: LexborNode) -> str:
    attrs = el.attributes
    ident = attrs.get("id")
    if ident and _stable(ident):
        return f"#{ident}"
    classes = [c for c in (attrs.get("class") or "").split() if _stable(c)][:_MAX_CLASSES]
    return (el.tag or "*") + "".join(f".{c}" for c in classes)


def _nth(el: LexborNode) -> str:
    """``:nth-of-type(k)`` of ``el`` among its parent's children."""
    k = 1
    node = el.prev
    while node is not None:
        if node.tag == el.tag:
            k += 1
        node = node.prev
    return f":nth-of-type({k})"


def _pins(root: LexborNode, selector: str, el: LexborNode) -> bool:
    try:
        hits = root.css(selector)
    except (SelectolaxError, ValueError):
        return False
    return len(hits) == 1 and hits[0].mem_id == el.mem_id


def unique_selector(el: LexborNode, root: LexborNode) -> str | None:
    """The shortest selector found that matches ``el`` and nothing else under ``root``:
    climbing one ancestor at a time, first by ids and classes, then with positions."""
    if el.tag is None or el.tag.startswith("-"):
        return None
    plain: list[str] = []
    exact: list[str] = []
    node: LexborNode | None = el
    for _ in range(_MAX_DEPTH):
        if node is None or node.tag in _TOP:
            break
        part = _part(node)
        plain.insert(0, part)
        exact.insert(0, part if part.startswith("#") else part + _nth(node))
        for chain in (plain, [exact[0], *plain[1:]], exact):
            selector = " > ".join(chain)
            if _pins(root, selector, el):
                return selector
        node = node.parent
    if not exact:
        return None
    full = " > ".join(["body", *exact])
    return full if _pins(root, full, el) else None
