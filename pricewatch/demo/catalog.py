"""The demo shop's catalogue: deterministic products whose prices drift with time.

Prices are a pure function of (product, time), so tests and benchmarks can compute the price
the shop shows at any moment without talking to it.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

STYLES = ("css", "jsonld", "microdata", "opengraph", "german", "stock")
_NOUNS = ("Kettle", "Headphones", "Backpack", "Desk Lamp", "Espresso Machine", "Keyboard",
          "Running Shoes", "Blender", "Monitor", "Tent", "Drill", "Watch")
_ADJECTIVES = ("Classic", "Pro", "Ultra")


@dataclass(frozen=True, slots=True)
class DemoProduct:
    id: str
    name: str
    style: str  # which markup the page uses; see STYLES
    base: Decimal
    currency: str
    phase: float  # spreads the products' price curves apart

    @property
    def path(self) -> str:
        return f"/product/{self.id}"


def _seed(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "big")


def catalog(size: int = 36) -> list[DemoProduct]:
    """``size`` products cycling through every markup style."""
    products = []
    for i in range(size):
        noun = _NOUNS[i % len(_NOUNS)]
        adjective = _ADJECTIVES[(i // len(_NOUNS)) % len(_ADJECTIVES)]
        style = STYLES[i % len(STYLES)]
        seed = _seed(f"{noun}-{adjective}-{i}")
        base = Decimal(19 + seed % 1980) + Decimal("0.99")
        if style == "german":
            base += 1000  # shows the thousands separator: "1.234,99 €"
        slug = f"{adjective}-{noun}".lower().replace(" ", "-") + f"-{i:03d}"
        products.append(DemoProduct(
            id=slug,
            name=f"{adjective} {noun}",
            style=style,
            base=base,
            currency="EUR" if style == "german" else "USD",
            phase=(seed % 1000) / 1000 * 2 * math.pi,
        ))
    return products


def price_at(product: DemoProduct, now: float, *, tick: float = 60.0) -> Decimal:
    """The price shown at ``now`` (epoch seconds): a slow wave of +-15 % that moves once per
    ``tick`` and always ends in .99 or .49, like real shelf prices."""
    step = math.floor(now / tick)
    wave = math.sin(step / 12 + product.phase) * 0.15
    raw = product.base * Decimal(str(round(1 + wave, 4)))
    whole = raw.quantize(Decimal(1), rounding=ROUND_HALF_UP)
    cents = Decimal("0.99") if step % 3 else Decimal("0.49")
    return max(whole - 1, Decimal(1)) + cents


def in_stock_at(product: DemoProduct, now: float, *, tick: float = 60.0) -> bool:
    """'stock' products sell out for two ticks in every seven; the others never do."""
    if product.style != "stock":
        return True
    return math.floor(now / tick) % 7 not in (5, 6)
