"""Regression over a few small real shop pages copied from the shared corpus."""

from __future__ import annotations

import gzip
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from pricewatch.extract import extract
from pricewatch.models import ExtractSpec

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "corpus"
RECORDS = [
    json.loads(line)
    for line in (FIXTURES / "expected.jsonl").read_text(encoding="utf-8").splitlines()
]


def _decode(body: bytes) -> str:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return body.decode("cp1252", errors="replace")


@pytest.mark.parametrize("record", RECORDS, ids=[r["id"] for r in RECORDS])
def test_real_page(record: dict[str, Any]) -> None:
    """The page's labelled price (and availability, where labelled) is extracted."""
    body = gzip.decompress((FIXTURES / f"{record['id']}.html.gz").read_bytes())
    r = extract(_decode(body), url=record["url"], spec=ExtractSpec())
    assert r.price in [Decimal(p) for p in record["acceptable_prices"]], r
    assert r.currency == record["currency"]
    if record["in_stock"] is not None:
        assert r.in_stock is record["in_stock"]


def test_fixture_set_is_small() -> None:
    """The copied pages stay a handful of small files (under 1 MB together)."""
    total = sum(p.stat().st_size for p in FIXTURES.glob("*.gz"))
    assert 5 <= len(RECORDS) <= 8
    assert total < 1_000_000
