"""The config file `pricewatch demo` writes for the demo shop."""

from __future__ import annotations

from pathlib import Path

from pricewatch.demo.catalog import DemoProduct

# Half the styles carry structured data and are found automatically; the other half show how
# a selector (and a locale) is given.
_SELECTORS = {
    "css": ('".buybox .price"', None),
    "stock": ('".buybox .price"', None),
    "german": ('".preis .price"', "de_DE"),
}


def demo_config(
    products: list[DemoProduct],
    base_url: str,
    *,
    interval: str = "1m",
    listen: str = "127.0.0.1",
    metrics_port: int = 9108,
) -> str:
    lines = [
        "# Written by `pricewatch demo` for the bundled demo shop; edit freely.",
        "database:",
        "  url: sqlite:///pricewatch-demo.db",
        "schedule:",
        f"  interval: {interval}",
        "  catch_up_window: 10s",
        "server:",
        f"  host: {listen}",
        f"  port: {metrics_port}",
        "stores:",
        "  demo-shop:",
        "    hosts: [127.0.0.1]",
        "    per_host_concurrency: 4",
        "    per_host_delay: 0.05s",
        "products:",
    ]
    for product in products:
        lines += [
            f"  - id: {product.id}",
            f"    name: {product.name}",
            "    offers:",
            f"      - url: {base_url}{product.path}",
        ]
        selector, locale = _SELECTORS.get(product.style, (None, None))
        if selector:
            lines.append(f"        selector: {selector}")
        if locale:
            lines.append(f"        locale: {locale}")
    return "\n".join(lines) + "\n"


def write_demo_config(
    path: Path,
    products: list[DemoProduct],
    base_url: str,
    *,
    interval: str = "1m",
    listen: str = "127.0.0.1",
    metrics_port: int = 9108,
) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = demo_config(products, base_url, interval=interval, listen=listen,
                       metrics_port=metrics_port)
    path.write_text(text, encoding="utf-8")
    return path
