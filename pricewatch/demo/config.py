"""The config file `pricewatch demo` writes for the demo shop.

The file says "edit freely", so an edited file is never overwritten: its second line holds a
hash of what was written, and only a file that still matches it (or is absent) is rewritten.
"""

from __future__ import annotations

import hashlib
import re
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
    body = "\n".join(lines) + "\n"
    return f"{_HEADER}\n# {_MARK}{_digest(body)} (once edited, `pricewatch demo` keeps it)\n{body}"


_HEADER = "# Written by `pricewatch demo` for the bundled demo shop; edit freely."
_MARK = "pricewatch-demo sha256:"
_MARK_LINE = re.compile(rf"# {re.escape(_MARK)}([0-9a-f]{{16}})\b")


def _digest(body: str) -> str:
    return hashlib.sha256(body.encode("utf-8")).hexdigest()[:16]


def edited(path: Path, fresh: str | None = None) -> bool:
    """Whether ``path`` exists and is not a file `pricewatch demo` wrote and nobody changed.
    ``fresh`` (what would be written now) also recognises the unmarked files older versions
    wrote, when they equal it."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return False
    except (OSError, UnicodeDecodeError):
        return True
    header, _, rest = text.partition("\n")
    mark, _, body = rest.partition("\n")
    found = _MARK_LINE.match(mark)
    if header == _HEADER and found is not None:
        return found.group(1) != _digest(body)
    if fresh is not None:  # written before the mark existed: ours only if byte-identical
        return text != f"{_HEADER}\n{fresh.split(chr(10), 2)[2]}"
    return True


def write_demo_config(
    path: Path,
    products: list[DemoProduct],
    base_url: str,
    *,
    interval: str = "1m",
    listen: str = "127.0.0.1",
    metrics_port: int = 9108,
) -> Path:
    """Write the demo config unless ``path`` holds an edited one (see ``edited``), which is
    kept as it is."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = demo_config(products, base_url, interval=interval, listen=listen,
                       metrics_port=metrics_port)
    if not edited(path, text):
        path.write_text(text, encoding="utf-8")
    return path
