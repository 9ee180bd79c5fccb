"""`pricewatch export` writes every stored check, exactly, as CSV or JSON lines."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from pricewatch import config
from pricewatch.cli.export import export
from pricewatch.db.database import open_database, sync
from pricewatch.db.repository import PendingCheck, insert_checks
from pricewatch.models import Check, Outcome

T0 = datetime(2026, 2, 1, tzinfo=UTC)


async def seeded(tmp_path: Path, n: int) -> config.Settings:
    path = tmp_path / "config.yaml"
    path.write_text("products:\n  - id: kettle\n    name: Kettle\n    offers:\n"
                    "      - url: http://shop.example/k\n", encoding="utf-8")
    settings = config.load(path, environ={})
    async with open_database(settings) as engine:
        ids = await sync(engine, settings.offers())
        key = settings.offers()[0].key
        rows = [PendingCheck(ids[key], Check(key, T0 + timedelta(minutes=i), Outcome.OK,
                                             price=Decimal("0.1") + i, currency="EUR"))
                for i in range(n)]
        rows.append(PendingCheck(ids[key], Check(key, T0 + timedelta(days=1), Outcome.TIMEOUT,
                                                 error="timed out")))
        async with engine.begin() as conn:
            await insert_checks(conn, rows)
    return settings


async def test_csv_export_streams_every_check_exactly(tmp_path: Path) -> None:
    """12,001 checks (more than one streaming chunk) come out in order with exact prices."""
    settings = await seeded(tmp_path, 12_000)
    out = io.StringIO()
    assert await export(settings, out) == 12_001
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert len(rows) == 12_001
    assert rows[0]["price"] == "0.1"
    assert rows[11_999]["price"] == "11999.1"
    assert rows[-1]["outcome"] == "timeout"
    assert rows[-1]["price"] == ""
    assert rows[-1]["error"] == "timed out"


async def test_jsonl_export_since(tmp_path: Path) -> None:
    """--since keeps only later checks; JSON keeps null for a missing price."""
    settings = await seeded(tmp_path, 3)
    out = io.StringIO()
    assert await export(settings, out, fmt="jsonl", since=T0 + timedelta(hours=1)) == 1
    (line,) = out.getvalue().splitlines()
    record = json.loads(line)
    assert record["outcome"] == "timeout"
    assert record["price"] is None
    assert record["offer"] == "kettle@shop.example"


async def test_csv_writes_booleans_as_true_false(tmp_path: Path) -> None:
    """CSV cells for in_stock and unchanged read true/false, as JSON's do, not True/False."""
    settings = await seeded(tmp_path, 0)
    key = settings.offers()[0].key
    async with open_database(settings) as engine:
        ids = await sync(engine, settings.offers())
        async with engine.begin() as conn:
            await insert_checks(conn, [
                PendingCheck(ids[key], Check(key, T0 + timedelta(days=2), Outcome.OK,
                                             price=Decimal(5), currency="EUR", in_stock=True)),
                PendingCheck(ids[key], Check(key, T0 + timedelta(days=3), Outcome.OK,
                                             price=Decimal(5), currency="EUR", in_stock=False)),
            ])
    out = io.StringIO()
    await export(settings, out)
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert [r["in_stock"] for r in rows] == ["", "true", "false"]
    assert {r["unchanged"] for r in rows} <= {"true", "false", ""}
    assert "True" not in out.getvalue()
    assert "False" not in out.getvalue()
