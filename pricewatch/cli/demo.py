"""`pricewatch demo`: the shop, a config for it, and the daemon (or one round) against it."""

from __future__ import annotations

from pathlib import Path

from pricewatch.cli.text import money, stock, table
from pricewatch.config import load
from pricewatch.demo import shop
from pricewatch.demo.catalog import catalog
from pricewatch.demo.config import demo_config, edited, write_demo_config
from pricewatch.runtime.daemon import Daemon
from pricewatch.runtime.rounds import run_once


async def run_demo(
    directory: Path,
    *,
    port: int,
    size: int,
    once: bool,
    listen: str = "127.0.0.1",
    metrics_port: int = 9108,
    interval: str = "1m",
) -> int:
    # The shop listens where /metrics does, so a container can show it too.
    runner, base_url = await shop.start(host="127.0.0.1", port=port, size=size)
    try:
        target = directory / "config.yaml"
        kept = edited(target, demo_config(catalog(size), base_url, interval=interval,
                                           listen=listen, metrics_port=metrics_port))
        path = write_demo_config(target, catalog(size), base_url,
                                 interval=interval, listen=listen, metrics_port=metrics_port)
        print(f"demo shop: {base_url}  ({size} products, prices move every minute)")
        print(f"config:    {path}" + ("  (edited: kept as it is; delete it for a fresh one)"
                                      if kept else ""))
        settings = load(path)
        if not once:
            print(f"web UI:    http://{listen}:{metrics_port}/   (price history, charts)")
            print(f"metrics:   http://{listen}:{metrics_port}/metrics   (Ctrl-C stops)",
                  flush=True)
            return await Daemon(settings).run()
        result = await run_once(settings)
        print(table(["offer", "outcome", "price", "stock", "extractor"],
                    [(c.offer_key, c.outcome.value, money(c.price, c.currency),
                      stock(c.in_stock), c.extractor)
                     for c in sorted(result.summary.checks, key=lambda c: c.offer_key)]))
        print(f"\n{result.summary.line()}; database {settings.database_url}")
        return 0
    finally:
        await runner.cleanup()
