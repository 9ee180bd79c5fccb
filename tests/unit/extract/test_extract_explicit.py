"""The explicit-rule path: selector, XPath, attribute, regex, JSON path."""

from __future__ import annotations

from decimal import Decimal

import pytest

from pricewatch.errors import ExtractionError
from pricewatch.extract import explain, explicit, extract
from pricewatch.extract.candidates import Candidate
from pricewatch.extract.document import Document
from pricewatch.extract.rules import compile_css
from pricewatch.models import ExtractSpec

PAGE = """<html lang="en"><head><title>Widget - Shop</title></head><body>
<h1>Blue Widget</h1>
<div class="price" data-amount="19.99">Now $19.99</div>
<span class="old"><del>$29.99</del></span>
<button class="add-to-cart">Add to cart</button>
</body></html>"""


def test_css_selector_reads_text() -> None:
    """A CSS selector's matched text is parsed into a Decimal with its currency."""
    r = extract(PAGE, url="https://shop.example.com/p", spec=ExtractSpec(selector=".price"))
    assert (r.price, r.currency, r.extractor) == (Decimal("19.99"), "USD", "selector")
    assert r.error is None
    assert r.title == "Blue Widget"


def test_xpath_and_attribute() -> None:
    """An XPath with ``attribute`` reads that attribute instead of the element text."""
    spec = ExtractSpec(xpath="//div[@class='price']", attribute="data-amount", currency="USD")
    r = extract(PAGE, url="https://shop.example.com/p", spec=spec)
    assert r.price == Decimal("19.99")
    assert r.extractor == "xpath"


def test_xpath_returning_strings() -> None:
    """An XPath that selects an attribute value directly yields that value."""
    r = extract(PAGE, url="https://x.com", spec=ExtractSpec(xpath="//div/@data-amount"))
    assert r.price == Decimal("19.99")


def test_regex_named_group() -> None:
    """The regex's ``price`` group picks the amount out of the matched text."""
    spec = ExtractSpec(selector=".price", regex=r"Now (?P<price>\$[\d.]+)")
    r = extract(PAGE, url="https://x.com", spec=spec)
    assert r.price == Decimal("19.99")


def test_bare_regex_reads_page_source() -> None:
    """A regex without a selector is applied to the raw page (prices held in scripts)."""
    page = '<html><script>var product = {"price": "1.226,50"};</script></html>'
    spec = ExtractSpec(regex=r'"price": "([^"]+)"', locale="de_DE", currency="EUR")
    r = extract(page, url="https://x.de", spec=spec)
    assert (r.price, r.currency) == (Decimal("1226.50"), "EUR")


def test_selector_matching_nothing_names_the_selector() -> None:
    """A selector that matches nothing yields no price and an error naming the selector."""
    r = extract(PAGE, url="https://x.com", spec=ExtractSpec(selector=".nope"))
    assert r.price is None
    assert r.error == "selector '.nope' matched nothing"


def test_no_silent_fallback_without_fallback_auto() -> None:
    """Even with a price in structured data, a failed explicit rule does not fall back."""
    page = PAGE.replace("</head>", '<meta property="product:price:amount" content="19.99"></head>')
    r = extract(page, url="https://x.com", spec=ExtractSpec(selector=".nope"))
    assert r.price is None
    assert "'.nope'" in (r.error or "")


def test_fallback_auto_uses_automatic_extraction() -> None:
    """With ``fallback_auto`` a failed rule hands over to the automatic extractors."""
    spec = ExtractSpec(selector=".nope", fallback_auto=True)
    report = explain(PAGE, url="https://x.com", spec=spec)
    assert report.result.price == Decimal("19.99")
    assert report.result.extractor != "selector"
    assert any("'.nope'" in note for note in report.notes)


def test_selector_matching_text_without_price() -> None:
    """A matched element without a price gives an error quoting its text."""
    page = '<div class="price">Call for price</div>'
    r = extract(page, url="https://x.com", spec=ExtractSpec(selector=".price"))
    assert r.price is None
    assert "Call for price" in (r.error or "")


def test_json_path() -> None:
    """A dotted JSON path with list indexes reads a price out of a JSON body."""
    body = '{"data": {"offers": [{"price": 1299.5, "currency": "EUR"}]}}'
    spec = ExtractSpec(json_path="data.offers.0.price", currency="EUR")
    r = extract(body, url="https://api.example.de/p/1", spec=spec)
    assert (r.price, r.currency, r.extractor) == (Decimal("1299.5"), "EUR", "json_path")


def test_json_path_missing_and_not_json() -> None:
    """A missing JSON path and a non-JSON body are errors naming the path."""
    spec = ExtractSpec(json_path="data.price")
    missing = extract('{"data": {}}', url="https://x.com", spec=spec)
    assert missing.error == "json_path 'data.price' matched nothing"
    garbage = extract("<html>", url="https://x.com", spec=spec)
    assert garbage.price is None
    assert "not JSON" in (garbage.error or "")


def test_zero_price_is_no_price() -> None:
    """A matched price of 0 is reported as no price, never as 0."""
    r = extract('<b class="p">$0.00</b>', url="https://x.com", spec=ExtractSpec(selector=".p"))
    assert r.price is None


def test_invalid_selector_raises_extraction_error() -> None:
    """An unusable selector is a rule error (ExtractionError), not a page error."""
    with pytest.raises(ExtractionError):
        extract(PAGE, url="https://x.com", spec=ExtractSpec(selector="div[[["))


def test_explicit_rule_reports_availability() -> None:
    """The explicit path still reports availability from the page's buy button."""
    r = extract(PAGE, url="https://x.com", spec=ExtractSpec(selector=".price"))
    assert r.in_stock is True
    sold_out = PAGE.replace('class="add-to-cart"', 'class="add-to-cart sold-out" disabled')
    assert (
        extract(sold_out, url="https://x.com", spec=ExtractSpec(selector=".price")).in_stock
        is False
    )


def test_selector_into_a_script_still_works() -> None:
    """Explicit rules first look at the page without script bodies (cheaper to parse), and
    fall back to the whole page when that finds nothing, so a selector into a script works."""
    page = ('<html><body><h1>Kettle</h1><script id="data" type="text/x-price">'
            '{"amount": "49.90"}</script><p class="price">call us</p></body></html>')
    r = extract(page, url="https://shop.example/p",
                spec=ExtractSpec(selector="script#data", regex=r'"amount": "([\d.]+)"',
                                 currency="EUR"))
    assert (r.price, r.currency) == (Decimal("49.90"), "EUR")
    missing = extract(page, url="https://shop.example/p", spec=ExtractSpec(selector=".nope"))
    assert missing.price is None
    assert missing.error == "selector '.nope' matched nothing"


def test_each_rule_builds_only_the_tree_it_runs_on() -> None:
    """A CSS rule runs on the Lexbor tree and never parses with lxml; an XPath rule runs on
    lxml and leaves the Lexbor tree unbuilt."""
    css = Document(PAGE, "https://x.com", ExtractSpec(selector=".price"))
    assert isinstance(explicit.run(css), Candidate)
    assert "lxml_root" not in vars(css)
    xpath = Document(PAGE, "https://x.com", ExtractSpec(xpath="//div[@class='price']"))
    assert isinstance(explicit.run(xpath), Candidate)
    assert not xpath._parsed


def test_css_lexbor_cannot_run_falls_back_to_lxml() -> None:
    """cssselect's :contains() is no Lexbor selector: it runs as cssselect's XPath on lxml,
    with the same result and evidence a Lexbor selector gives."""
    rule = compile_css("div:contains('Now')")
    assert rule.xpath is not None
    assert compile_css(".price").xpath is None
    r = extract(PAGE, url="https://x.com", spec=ExtractSpec(selector="div:contains('Now')"))
    assert (r.price, r.extractor) == (Decimal("19.99"), "selector")
    assert "<div class='price'>" in (r.evidence or "")


def test_selectors_only_lexbor_knows_are_accepted() -> None:
    """Selectors Lexbor runs but cssselect never knew (:has) work too."""
    r = extract(PAGE, url="https://x.com", spec=ExtractSpec(selector="body:has(h1) .price"))
    assert r.price == Decimal("19.99")


def test_selector_neither_engine_runs_is_a_rule_error() -> None:
    """A selector neither Lexbor nor cssselect can run is rejected with cssselect's reason."""
    for bad in ("div:first", "a::text", "..price", ""):
        with pytest.raises(ExtractionError, match="invalid CSS selector"):
            compile_css(bad)


def test_bare_attribute_reads_as_empty() -> None:
    """``attribute`` naming a valueless attribute matches it (as the empty string), so the
    error says the element holds no price rather than that nothing matched."""
    page = '<div class="price" data-amount>$5</div>'
    r = extract(page, url="https://x.com",
                spec=ExtractSpec(selector=".price", attribute="data-amount"))
    assert r.price is None
    assert "none holds a price" in (r.error or "")


SOLD_OUT = """<html><head><title>Lamp</title></head><body><h1>Desk Lamp</h1>
<div class="buybox"><span class="price">$40.00</span>
<p class="stock-status">Sold out</p><button class="add-to-cart" disabled>Add to cart</button>
</div><ul class="related"><li><span class="price">$9.00</span></li></ul></body></html>"""


def test_explicit_rule_reads_stock_and_title_from_the_index_without_prices() -> None:
    """When the offer's own rule found the price, availability and the title come from the
    cheaper index that leaves price-labelled elements out, and say the same."""
    doc = Document(SOLD_OUT, "https://shop.example.com/p", ExtractSpec(selector=".buybox .price"))
    assert doc.facts_index.priced == []
    assert [el.text() for el in doc.facts_index.stock] == ["Sold out"]
    r = extract(SOLD_OUT, url="https://shop.example.com/p",
                spec=ExtractSpec(selector=".buybox .price"))
    auto = extract(SOLD_OUT, url="https://shop.example.com/p", spec=ExtractSpec())
    assert (r.price, r.in_stock, r.title) == (Decimal("40.00"), False, "Desk Lamp")
    assert (auto.in_stock, auto.title) == (r.in_stock, r.title)
