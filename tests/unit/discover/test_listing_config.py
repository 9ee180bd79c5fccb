"""The `discover:` product entry: a listing to watch, validated with file:line errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from pricewatch import cli
from pricewatch.config import loads
from pricewatch.errors import ConfigError

LISTING = """\
stores:
  kitchen: {hosts: [shop.example], per_host_delay: 5s}
products:
  - id: kettles
    name: Every kettle
    interval: 6h
    discover:
      url: https://shop.example/c/kettles
      depth: 2
      match: /p/
  - id: one
    name: One
    offers:
      - url: https://shop.example/p/1
"""


def test_a_discover_product_is_a_listing_and_has_no_offers() -> None:
    """The listing carries its crawl settings, its interval and its store's fetch options;
    the offers are the other products' alone."""
    settings = loads(LISTING)
    (listing,) = settings.listings()
    assert (listing.product_id, listing.url, listing.depth, listing.match) == (
        "kettles", "https://shop.example/c/kettles", 2, "/p/")
    assert listing.interval == 6 * 3600
    assert listing.fetch.per_host_delay == 5
    assert [o.product_id for o in settings.offers()] == ["one"]
    assert settings.product_count == 2


@pytest.mark.parametrize(("change", "line", "message"), [
    (("    discover:\n", "    offers: [{url: 'https://shop.example/x'}]\n    discover:\n"), 4,
     "not both"),
    (("      match: /p/\n", "      match: '('\n"), 10, "match"),
    (("      depth: 2\n", "      depth: 99\n"), 9, "depth"),
    (("    interval: 6h\n", "    interval: 10s\n"), 6, "below the 60s floor"),
    (("    discover:\n      url: https://shop.example/c/kettles\n      depth: 2\n"
      "      match: /p/\n", ""), 4, "needs `offers:`"),
])
def test_bad_listings_name_file_line_and_field(change: tuple[str, str], line: int,
                                               message: str) -> None:
    """Both offers and discover, neither, a bad regex, a depth out of range and a short
    interval at a real shop are each one error at the line that says it."""
    text = LISTING.replace(*change)
    with pytest.raises(ConfigError) as info:
        loads(text, file="c.yaml")
    assert str(info.value).startswith(f"c.yaml:{line}: "), str(info.value)
    assert message in str(info.value)


def test_validate_counts_the_watched_listings(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    """`pricewatch validate` says how many listings the daemon will watch."""
    path = tmp_path / "c.yaml"
    path.write_text(LISTING, encoding="utf-8")
    assert cli.main(["validate", "-c", str(path)]) == 0
    out = capsys.readouterr().out
    assert "2 products, 1 offers at 1 stores" in out
    assert "1 listings watched for new products" in out
