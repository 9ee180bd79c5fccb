"""The parsed page and its index: the C-side shortcuts find what a plain walk would."""

from __future__ import annotations

import time

from hypothesis import given, settings
from hypothesis import strategies as st
from selectolax.lexbor import LexborNode

from pricewatch.extract import lxmltree
from pricewatch.extract.document import Document, parse_tree, text_of, too_deep
from pricewatch.extract.heuristic import _money_text_owners
from pricewatch.extract.index import _CART_TAGS, _SKIP, _roles, build, distances
from pricewatch.extract.jsonld import _BLOCK, _block_bodies
from pricewatch.models import ExtractSpec

AUTO = ExtractSpec()
PAGE = (
    "<html><head><title>Kettle</title><style>.p{color:red}</style></head><body>"
    "<h1>Steel <b>kettle</b></h1><div class='price-box'>Now <script>var p = 1;</script>"
    "<span class='price'>$19.99</span> <s>$29.99</s><style>.x{}</style> each"
    "<svg class='icon'><title>info</title></svg></div>"
    "</body></html>"
)


def _elements(node: LexborNode) -> list[LexborNode]:
    return [el for el in node.traverse() if el.is_element_node]


def _ids(nodes: list[LexborNode]) -> list[int]:
    return [el.mem_id for el in nodes]


def test_text_of_reads_what_the_lxml_xpath_read() -> None:
    """Every element's text on the Lexbor tree equals the old lxml reading of the same page
    (script and style bodies left out, text nodes joined with a space)."""
    doc = Document(PAGE, "https://x.com", AUTO)
    assert doc.root is not None
    lx = lxmltree.parse_tree(lxmltree.strip_heavy(PAGE.replace("<svg class='icon'>", "<svg>")))
    ours = [text_of(el, 80) for el in _elements(doc.root) if el.tag not in ("svg", "title")]
    theirs = [
        lxmltree.text_of(el, 80)
        for el in lx.iter()
        if el.tag not in ("svg", "title", "script", "style")
    ]
    assert ours == theirs
    box = doc.index.priced[0]
    assert text_of(box, 80) == "Now $19.99 $29.99 each"


def test_unclosed_script_stays_out_of_the_text() -> None:
    """An unclosed <script> runs to the end of the page as raw text; it is removed with the
    other script bodies, so the price element reads only its own text."""
    page = "<html><body><h1>Kettle</h1><p class='price'>$5.00<script>var x = 'secret'"
    doc = Document(page, "https://x.com", AUTO)
    assert text_of(doc.index.priced[0], 80) == "$5.00"


_LABELS = st.sampled_from(
    ["price", "Price", "PRICE-now", "productPrc", "in-stock", "Availability", "add-to-cart",
     "miniBasket", "buyBox", "header", "x", ""]
)
_TAGS = st.sampled_from(["div", "span", "button", "input", "meta", "h1", "title", "noscript",
                         "a", "p", "template"])


@st.composite
def _pages(draw: st.DrawFn) -> str:
    parts = []
    for _ in range(draw(st.integers(0, 25))):
        tag = draw(_TAGS)
        attrs = ""
        if draw(st.booleans()):
            attrs += f" class='{draw(_LABELS)}'"
        if draw(st.booleans()):
            attrs += f" id='{draw(_LABELS)}'"
        attrs += draw(st.sampled_from(["", " itemprop='price'", " property='og:x'",
                                       " itemscope"]))
        parts.append(f"<{tag}{attrs}>t")
        if draw(st.booleans()):
            parts.append(f"</{tag}>")
    return "<html><head></head><body>" + "".join(parts) + "</body></html>"


@settings(max_examples=200, deadline=None)
@given(_pages())
def test_index_query_finds_what_a_walk_finds(page: str) -> None:
    """The one CSS query run in C files exactly the elements a Python walk over every
    element would, in document order, each once."""
    tree = parse_tree(page)
    assert tree is not None
    idx = build(tree)
    priced, stock, controls, props, h1, metas, titles = [], [], [], [], [], [], []
    for el in _elements(tree.root):
        if el.tag in _SKIP:
            continue
        attrs = el.attributes
        roles = _roles(attrs.get("class"), attrs.get("id"))
        if roles & 1:
            priced.append(el)
        if roles & 2:
            stock.append(el)
        if roles & 4 or (el.tag in _CART_TAGS and not roles):
            controls.append(el)
        if {"itemprop", "property", "itemscope"} & attrs.keys():
            props.append(el)
        if el.tag == "h1":
            h1.append(el)
        if el.tag == "meta":
            metas.append(el)
        if el.tag == "title":
            titles.append(el)
    got = (idx.priced, idx.stock, idx.controls, idx.props, idx.h1, idx.metas,
           [idx.title] if idx.title is not None else [])
    # By mem_id: a LexborNode's == compares serialized markup, not identity.
    assert [_ids(x) for x in got] == [_ids(x) for x in (priced, stock, controls, props, h1,
                                                        metas, titles[:1])]


@settings(max_examples=200, deadline=None)
@given(_pages(), st.integers(0, 30))
def test_distances_match_numbering_every_element(page: str, pick: int) -> None:
    """The windowed walk around an anchor gives each element the distance that numbering
    the whole page in document order gives it."""
    tree = parse_tree(page)
    assert tree is not None
    counted = [el for el in _elements(tree.root) if el.tag not in _SKIP]
    if not counted:
        return
    at = pick % len(counted)
    anchor = counted[at]
    expected = {
        el.mem_id: i - at for i, el in enumerate(counted) if -5 < i - at < 7
    }
    assert distances(anchor, before=5, after=7) == expected


def _owners_by_children(root: LexborNode, limit: int) -> list[LexborNode]:
    """The same owners computed the lxml way: an element owns its leading text and the text
    after each child belongs to that child (its "tail")."""
    from pricewatch.extract.heuristic import _MONEY_TEXT

    out: list[LexborNode] = []

    def walk(el: LexborNode) -> None:
        owner = el
        for child in el.iter(include_text=True):
            if child.tag == "-text":
                if _MONEY_TEXT.search(child.text_content or ""):
                    out.append(owner)
            elif child.is_element_node:
                walk(child)
                owner = child

    body = root.css_first("body")
    if body is not None:
        walk(body)
    return out[:limit]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            ["<html>", "<body>", "</body>", "<div>", "</div>", "<b>", "</b>", "<br>", "<p>",
             "$5", "EUR", "€", "zł", "x", "<title>$</title>", "<script>$1</script>",
             "<!-- c -->"]
        ),
        max_size=16,
    ).map("".join),
    st.sampled_from([2, 250]),
)
def test_money_text_owners_follow_lxml_text_and_tail(page: str, limit: int) -> None:
    """The text fallback finds, in order, the owners lxml's text/tail model gives."""
    tree = parse_tree(page)
    if tree is None:
        return
    assert _ids(_money_text_owners(tree.root, limit)) == _ids(
        _owners_by_children(tree.root, limit)
    )


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            ["<script", "<SCRIPT", " type=", "application/", "ld+json", "LD+JSON", "lD+JſON",
             ">", "<", "</script>", "</script >", "{}", "'", '"', " ", "+json"]
        ),
        max_size=16,
    ).map("".join)
)
def test_json_ld_block_finder_matches_the_plain_regex(text: str) -> None:
    """The "+json"-anchored block finder returns exactly what the full-page regex finds."""
    assert _block_bodies(text) == [m.group(1) for m in _BLOCK.finditer(text)]


def test_nesting_too_deep_for_lexbor_is_refused_quickly() -> None:
    """Lexbor has no depth cap and its tree builder walks the open elements for every
    <div>: 50,000 unclosed <div>s (stray end tags or not) are refused in milliseconds
    instead of parsed for seconds, while real depths pass."""
    for page in ("<div>" * 50_000, "<div></x>" * 50_000, "<span>" * 40_000 + "<ul>" * 40_000):
        started = time.process_time()
        assert too_deep(page.encode())
        assert parse_tree(page + "<b class='price'>$1</b>") is None
        assert time.process_time() - started < 0.5
    flat = ("<div><p>lorem <b>ipsum</b></p><br><img src=x></div>" * 20_000).encode()
    assert not too_deep(flat)
    assert not too_deep(("<div>" * 40 + "<script>" + "<div>" * 50_000 + "</script>").encode()
                        + b"<i>x</i>" * 30_000)


def test_nesting_scan_stays_linear_with_upper_case_scripts() -> None:
    """Raw-text blocks closed in upper case are skipped without re-reading the page each
    time: 20,000 of them on a 1 MB page take milliseconds."""
    page = b"<div>x</div>" * 20_000 + b"<SCRIPT>if (a<b) {}</SCRIPT>" * 20_000
    started = time.process_time()
    assert not too_deep(page)
    assert time.process_time() - started < 0.5


def test_index_leaves_the_page_as_it_was() -> None:
    """Teaching the document the microdata attribute names adds nothing to the page: no query
    finds the holder, and the markup reads as before."""
    tree = parse_tree("<html><head></head><body><p class='x'>1</p></body></html>")
    assert tree is not None
    before = tree.html
    idx = build(tree)
    assert idx.props == []
    assert tree.css("[itemprop], [property], [itemscope]") == []
    assert tree.html == before


@given(st.lists(st.sampled_from(["<svg>", "</svg>", "<script>1</script>", "<style>p{}</style>",
                                 "<div>", "</div>", "<p>x</p>", "<svg><script>2</script>",
                                 "<svg><svg><style>q{}</style>"]), max_size=12))
@settings(max_examples=200, deadline=None)
def test_stripping_removes_every_heavy_element_however_nested(parts: list[str]) -> None:
    """Scripts and styles inside svgs, and svgs inside svgs, are all removed, and the rest of
    the page stays."""
    tree = parse_tree("<html><body><b>keep</b>" + "".join(parts) + "</body></html>")
    assert tree is not None
    assert tree.css("script, style, svg") == []
    assert tree.css_first("b") is not None
