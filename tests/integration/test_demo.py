"""The demo shop serves the prices its catalogue promises, and a round reads them all."""

from __future__ import annotations

from pathlib import Path

from pricewatch import config
from pricewatch.demo import shop
from pricewatch.demo.catalog import catalog, in_stock_at, price_at
from pricewatch.demo.config import write_demo_config
from pricewatch.models import Outcome
from pricewatch.runtime.rounds import run_once

NOW = 1_790_000_000.0  # a fixed instant: the shop's clock, so prices are known in advance


def test_prices_drift_deterministically() -> None:
    """Prices are a pure function of time: they move across ticks and repeat for one instant."""
    product = catalog(6)[0]
    seen = {price_at(product, NOW + i * 60) for i in range(30)}
    assert len(seen) > 5
    assert price_at(product, NOW) == price_at(product, NOW)
    assert all(p > 0 for p in seen)


async def test_demo_round_reads_every_style(tmp_path: Path) -> None:
    """Every demo product, whatever its markup style, is read at the price the shop shows."""
    products = catalog(12)
    runner, base = await shop.start(size=12, clock=lambda: NOW)
    try:
        path = write_demo_config(tmp_path / "config.yaml", products, base)
        result = await run_once(config.load(path, environ={}))
    finally:
        await runner.cleanup()
    by_key = {c.offer_key.split("@")[0]: c for c in result.summary.checks}
    assert len(by_key) == 12
    for product in products:
        check = by_key[product.id]
        assert check.outcome is Outcome.OK, (product.style, check.error)
        assert check.price == price_at(product, NOW), product.style
        assert check.currency == product.currency, product.style
        if product.style == "stock":
            assert check.in_stock is in_stock_at(product, NOW)


def test_an_edited_demo_config_is_kept(tmp_path: Path) -> None:
    """`pricewatch demo` rewrites its config while nobody changed it (a new port shows), but
    never once it was edited; an unmarked file of an older version counts as ours only when
    it is exactly what it would write."""
    from pricewatch.demo.config import demo_config

    path = tmp_path / "config.yaml"
    products = catalog(2)
    write_demo_config(path, products, "http://127.0.0.1:1000")
    write_demo_config(path, products, "http://127.0.0.1:2000")
    assert "127.0.0.1:2000" in path.read_text(encoding="utf-8")
    edited = path.read_text(encoding="utf-8").replace("interval: 1m", "interval: 5m")
    path.write_text(edited, encoding="utf-8")
    write_demo_config(path, products, "http://127.0.0.1:3000")
    assert path.read_text(encoding="utf-8") == edited
    lines = demo_config(products, "http://127.0.0.1:4000").split("\n")
    old = "\n".join([lines[0], *lines[2:]])  # as older versions wrote it: no hash line
    path.write_text(old, encoding="utf-8")
    write_demo_config(path, products, "http://127.0.0.1:4000")
    assert path.read_text(encoding="utf-8") == demo_config(products, "http://127.0.0.1:4000")
    path.write_text(old + "# mine\n", encoding="utf-8")
    write_demo_config(path, products, "http://127.0.0.1:4000")
    assert path.read_text(encoding="utf-8").endswith("# mine\n")
