"""Plain-text tables for the terminal (no dependency; output stays greppable)."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from pricewatch.models import plain


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h)
              for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
              for r in cells]
    return "\n".join(lines)


def _cell(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, Decimal):
        return str(plain(value))
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def money(price: Decimal | None, currency: str | None) -> str:
    if price is None:
        return "-"
    return f"{plain(price)} {currency or ''}".strip()


def stock(in_stock: bool | None) -> str:
    return {True: "in stock", False: "out of stock", None: "-"}[in_stock]
