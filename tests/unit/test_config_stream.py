"""Products are read one at a time: large files keep exact error lines, every YAML feature
still works across products, and memory per offer stays bounded."""

from __future__ import annotations

import gc
import tracemalloc
from pathlib import Path

import pytest

from pricewatch import config
from pricewatch.errors import ConfigError, ConfigErrors


def products(n: int, *, bad: dict[int, str] | None = None) -> str:
    """``n`` products in block style, 5 lines each; ``bad`` replaces some offers' URL."""
    out = []
    for i in range(n):
        url = (bad or {}).get(i, f"https://shop{i % 7}.example/p/{i}")
        out.append(f"  - id: p{i}\n    name: Product {i}\n    offers:\n"
                   f"      - url: {url}\n        selector: .price\n")
    return "".join(out)


def load(tmp_path: Path, text: str, env: dict[str, str] | None = None) -> config.Settings:
    path = tmp_path / "config.yaml"
    path.write_text(text, encoding="utf-8")
    return config.load(path, environ=env or {})


def error_of(tmp_path: Path, text: str) -> str:
    with pytest.raises(ConfigError) as info:
        load(tmp_path, text)
    return str(info.value)


def test_errors_deep_in_a_large_file_name_their_own_lines(tmp_path: Path) -> None:
    """Two bad URLs among 5,000 products: both reported, each with its own line and path."""
    text = "products:\n" + products(5000, bad={1234: "ftp://x/1", 4321: "nope"})
    with pytest.raises(ConfigErrors) as info:
        load(tmp_path, text)
    lines = str(info.value).splitlines()
    # product i starts on line 2 + 5 * i; its url is 3 lines further down
    assert f"config.yaml:{2 + 5 * 1234 + 3}: products[1234].offers[0].url: not an http" in (
        lines[0])
    assert f"config.yaml:{2 + 5 * 4321 + 3}: products[4321].offers[0].url: not an http" in (
        lines[1])


def test_problems_in_several_sections_are_reported_together_in_line_order(
        tmp_path: Path) -> None:
    """A product error, a bad top-level setting after products and a duplicate product id."""
    text = ("products:\n" + products(3, bad={1: "nope"}) + "  - id: p0\n    name: Again\n"
            "    offers: [{url: 'https://x.example/1'}]\nschedule:\n  interval: soon\n")
    with pytest.raises(ConfigErrors) as info:
        load(tmp_path, text)
    lines = str(info.value).splitlines()
    assert ":10: products[1].offers[0].url: not an http(s) URL" in lines[0]
    assert ":17: products[3].id: duplicate product id 'p0'" in lines[1]
    assert ":21: schedule.interval: expected a duration" in lines[2]


def test_stores_after_products_still_apply(tmp_path: Path) -> None:
    """Sections may come in any order: products resolve against stores given after them."""
    text = ("products:\n" + products(2) + "stores:\n  first:\n    hosts: [shop0.example]\n"
            "    currency: EUR\n    per_host_delay: 3s\nhttp:\n  user_agent: ua-${WHO}\n")
    first, second = load(tmp_path, text, {"WHO": "me"}).offers()
    assert (first.store, first.extract.currency, first.fetch.per_host_delay) == (
        "first", "EUR", 3.0)
    assert second.store == "shop1.example"
    assert first.fetch.user_agent == second.fetch.user_agent == "ua-me"


def test_anchors_merge_keys_and_variables_work_across_products(tmp_path: Path) -> None:
    """An anchor set in one product serves a later one (merge key), and one defined inside
    products serves a section after them."""
    text = """\
products:
  - id: a
    name: A
    alerts: &rules {below: {target: 10}}
    offers:
      - url: "https://a.example/${ITEM}"
        <<: &common {selector: .price, currency: USD}
  - id: b
    name: B
    offers:
      - <<: *common
        url: https://b.example/1
alerts:
  rules: *rules
"""
    settings = load(tmp_path, text, {"ITEM": "42"})
    a, b = settings.offers()
    assert a.url == "https://a.example/42"
    assert (b.url, b.extract.selector, b.extract.currency) == (
        "https://b.example/1", ".price", "USD")
    below = settings.model.alerts.rules.below
    assert below is not None
    assert below.target == 10
    assert settings.alert_layers["a"].product is not None
    assert "b" not in settings.alert_layers


def test_yaml_level_errors_inside_products_keep_their_lines(tmp_path: Path) -> None:
    """A duplicate key and a missing variable deep in the products are found, with lines."""
    text = "products:\n" + products(50) + "  - id: x\n    id: y\n"
    assert ":253: products[50].id: duplicate key 'id'" in error_of(tmp_path, text)
    text = "products:\n" + products(50) + "  - id: x\n    name: ${NAME}\n"
    assert ":253: products[50].name: environment variable NAME is not set" in error_of(
        tmp_path, text)


def test_bytes_that_are_not_utf8_name_their_line(tmp_path: Path) -> None:
    """An unreadable byte is reported on its line, not as a traceback."""
    path = tmp_path / "config.yaml"
    path.write_bytes(b"products:\n  - id: a\n    name: \xff\n")
    with pytest.raises(ConfigError) as info:
        config.load(path, environ={})
    assert str(info.value).startswith(f"{path}:3: cannot read")


def test_an_anchored_product_list_still_loads(tmp_path: Path) -> None:
    """A products list that is itself anchored is built whole, and still resolves."""
    text = "products: &all\n" + products(3)
    assert [o.product_id for o in load(tmp_path, text).offers()] == ["p0", "p1", "p2"]


def test_products_must_be_a_list(tmp_path: Path) -> None:
    """A mapping where the list belongs is reported on its line."""
    message = error_of(tmp_path, "http: {}\nproducts:\n  a: 1\n")
    assert ":2: products: Input should be a valid list" in message


def test_memory_per_offer_is_bounded(tmp_path: Path) -> None:
    """Loading 4,000 offers keeps under 600 bytes per offer (the resolved Offer and its own
    strings) and peaks under 3 KB per offer; holding a node tree or pydantic models for the
    whole file was ~8 KB per offer."""
    n = 4000
    path = tmp_path / "config.yaml"
    path.write_text("products:\n" + products(n), encoding="utf-8")
    config.load(path, environ={})  # imports and caches outside the measurement
    gc.collect()
    tracemalloc.start()
    try:
        settings = config.load(path, environ={})
        gc.collect()
        retained, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(settings.offers()) == n
    assert retained / n < 600, retained / n
    assert peak / n < 3000, peak / n


def test_a_key_written_next_to_a_merge_overrides_the_merged_one(tmp_path: Path) -> None:
    """Merge keys exist to share defaults and override some: the written key wins, the first
    of several merged maps wins over later ones, and a key written twice stays an error."""
    text = """\
products:
  - id: a
    name: A
    offers:
      - url: https://a0.example/0
        <<: &shop {selector: .price, currency: USD}
      - <<: *shop
        url: https://a1.example/1
        selector: .sale-price
      - <<: [{currency: EUR, locale: de-DE}, *shop]
        url: https://a2.example/2
"""
    _plain, first, second = load(tmp_path, text).offers()
    assert (first.extract.selector, first.extract.currency) == (".sale-price", "USD")
    assert (second.extract.selector, second.extract.currency) == (".price", "EUR")
    twice = text.replace("        selector: .sale-price\n",
                         "        selector: .sale-price\n        selector: .other\n")
    assert ":10: products[0].offers[1].selector: duplicate key 'selector'" in error_of(
        tmp_path, twice)


def test_a_merge_that_is_not_a_mapping_is_a_config_error(tmp_path: Path) -> None:
    """``<<: 3`` or a mapping merged into itself is reported with its line, not a crash."""
    text = "products:\n  - id: a\n    name: A\n    offers:\n      - url: https://a.example/1\n"
    assert ":6: products[0].offers[0]: << (merge) takes a mapping" in error_of(
        tmp_path, text + "        <<: 3\n")
    looped = text.replace("      - url:", "      - &me\n        <<: *me\n        url:")
    assert "products[0].offers[0]: << (merge) of a mapping into itself" in error_of(
        tmp_path, looped)
