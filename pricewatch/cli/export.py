"""`pricewatch export`: every stored check as CSV or JSON lines, for spreadsheets and scripts."""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from datetime import datetime
from typing import TextIO

from pricewatch.config import Settings
from pricewatch.db.database import open_database
from pricewatch.db.repository import stream_checks
from pricewatch.models import Check, plain

COLUMNS = ("observed_at", "offer", "outcome", "price", "currency", "in_stock", "http_status",
           "duration_ms", "attempts", "extractor", "unchanged", "error")


def _row(check: Check) -> dict[str, object]:
    return {
        "observed_at": check.observed_at.isoformat(),
        "offer": check.offer_key,
        "outcome": check.outcome.value,
        # Prices stay exact decimal strings: a float would turn 0.1 into 0.1000000000000000055.
        "price": None if check.price is None else str(plain(check.price)),
        "currency": check.currency,
        "in_stock": check.in_stock,
        "http_status": check.http_status,
        "duration_ms": check.duration_ms,
        "attempts": check.attempts,
        "extractor": check.extractor,
        "unchanged": check.unchanged,
        "error": check.error,
    }


def _csv(value: object) -> object:
    # Spreadsheets and scripts read true/false (as JSON does), not Python's True/False.
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


async def export(
    settings: Settings,
    out: TextIO,
    *,
    fmt: str = "csv",
    since: datetime | None = None,
    offer_keys: Sequence[str] | None = None,
) -> int:
    """Write the checks to ``out``; returns how many were written."""
    writer = csv.DictWriter(out, fieldnames=COLUMNS) if fmt == "csv" else None
    count = 0
    async with open_database(settings, upgrade=False) as engine, engine.connect() as conn:
        if writer is not None:  # only once the database answered: no half a file on errors
            writer.writeheader()
        async for check in stream_checks(conn, since=since, offer_keys=offer_keys):
            row = _row(check)
            if writer is not None:
                writer.writerow({k: _csv(v) for k, v in row.items()})
            else:
                out.write(json.dumps(row) + "\n")
            count += 1
    return count
