"""`pricewatch demo`: the shop, a config for it, and checks against it."""

from __future__ import annotations

from pathlib import Path

from pricewatch.config import load
from pricewatch.demo import shop
from pricewatch.demo.catalog import catalog
from pricewatch.demo.config import write_demo_config
from pricewatch.service import run_once
from pricewatch.textui import money, stock, table


async def run_demo(directory: Path, *, port: int, size: int, once: bool) -> int:
    runner, base_url = await shop.start(port=port, size=size)
    try:
        path = write_demo_config(directory / "config.yaml", catalog(size), base_url)
        print(f"demo shop: {base_url}  ({size} products)")
        print(f"config:    {path}")
        settings = load(path)
        result = await run_once(settings)
        print(table(["offer", "outcome", "price", "stock", "extractor"],
                    [(c.offer_key, c.outcome.value, money(c.price, c.currency),
                      stock(c.in_stock), c.extractor)
                     for c in sorted(result.summary.checks, key=lambda c: c.offer_key)]))
        print(f"\n{result.summary.line()}; database {settings.database_url}")
        del once  # the scheduled daemon replaces this single round once it lands
        return 0
    finally:
        await runner.cleanup()
