"""The parsed page and its index: the fast paths read the same text as the exact ones."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from pricewatch.extract.document import Document, parse_tree, text_of
from pricewatch.extract.heuristic import _money_text_owners
from pricewatch.extract.jsonld import _BLOCK, _block_bodies
from pricewatch.models import ExtractSpec

AUTO = ExtractSpec()
PAGE = (
    "<html><head><title>Kettle</title><style>.p{color:red}</style></head><body>"
    "<h1>Steel <b>kettle</b></h1><div class='price-box'>Now <script>var p = 1;</script>"
    "<span class='price'>$19.99</span> <s>$29.99</s><style>.x{}</style> each</div>"
    "</body></html>"
)


def test_stripped_tree_is_plain_and_itertext_matches_the_xpath() -> None:
    """With script/style contents stripped, itertext() gives the XPath's visible text."""
    doc = Document(PAGE, "https://x.com", AUTO)
    assert doc.index.plain
    for el in doc.root.iter():
        for limit in (5, 80, 400):
            assert text_of(el, limit, plain=True) == text_of(el, limit)
    box = doc.index.priced[0]
    assert text_of(box, 80, plain=True) == "Now $19.99 $29.99 each"


def test_script_text_left_in_the_tree_turns_the_fast_path_off() -> None:
    """An unclosed <script> keeps its text; the index says so and text_of still skips it."""
    page = "<html><body><h1>Kettle</h1><p class='price'>$5.00<script>var x = 'secret'"
    doc = Document(page, "https://x.com", AUTO)
    assert not doc.index.plain
    assert text_of(doc.index.priced[0], 80, plain=doc.index.plain) == "$5.00"


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


_MONEY_XPATH = etree.XPath(
    "//body//text()[contains(., '$') or contains(., '€') or contains(., '£')"
    " or contains(., 'EUR') or contains(., 'USD') or contains(., '₹') or contains(., 'zł')]"
)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            ["<html>", "<body>", "</body>", "<div>", "</div>", "<b>", "</b>", "<br>", "<p>",
             "$5", "EUR", "€", "zł", "x", "<title>$</title>", "<script>$1</script>"]
        ),
        max_size=16,
    ).map("".join),
    st.sampled_from([2, 250]),
)
def test_money_text_walk_matches_the_xpath(page: str, limit: int) -> None:
    """The text fallback's walk finds the owners the XPath's text nodes report, in order."""
    root = parse_tree(page)
    if root is None:
        return
    expected = [n.getparent() for n in _MONEY_XPATH(root)[:limit]]
    assert _money_text_owners(root, limit) == expected
