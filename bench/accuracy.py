"""Accuracy and CPU cost of pricewatch.extract on the real-page corpus.

Usage: python bench/accuracy.py [--corpus DIR] [--verbose] [--only ID]

Scores follow the corpus README (the Zyte benchmark's rule): a predicted price is right when it
equals one of ``acceptable_prices`` as a Decimal; a wrong or unexpected price is a false
positive; no price where one is expected is a false negative. Availability is scored the same
way on the pages that carry a label.
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import statistics
import sys
import time
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pricewatch.extract import extract, parse_price
from pricewatch.models import ExtractSpec

ZYTE = "scrapinghub/product-extraction-benchmark"
PUBLISHED = {"Zyte": (0.959, 0.980), "Diffbot": (0.800, 1.000), "extruct": (0.756, 0.649)}
_META_CHARSET = re.compile(rb"<meta[^>]+charset\s*=\s*[\"']?\s*([A-Za-z0-9_.:-]+)", re.I)


def decode(body: bytes) -> str:
    """Header-less decoding: <meta charset>, then UTF-8, then cp1252 (what browsers do)."""
    match = _META_CHARSET.search(body[:4096])
    if match:
        try:
            return body.decode(match.group(1).decode("ascii"), errors="replace")
        except LookupError:
            pass
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return body.decode("cp1252", errors="replace")


@dataclass
class Score:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    misses: list[str] = field(default_factory=list)

    def add(self, predicted: Any, acceptable: list[Any], label: str) -> None:
        if predicted is None:
            if acceptable:
                self.fn += 1
                self.misses.append(f"{label}: none, expected {acceptable[0]}")
        elif predicted in acceptable:
            self.tp += 1
        else:
            self.fp += 1
            want = acceptable[0] if acceptable else "none"
            self.misses.append(f"{label}: got {predicted}, expected {want}")

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def line(self) -> str:
        return (
            f"P={self.precision:.3f} R={self.recall:.3f} F1={self.f1:.3f} "
            f"(tp={self.tp} fp={self.fp} fn={self.fn})"
        )


def _decimal(value: str) -> Decimal | None:
    try:
        return Decimal(value)
    except (InvalidOperation, TypeError):
        return None


def run_pages(corpus: Path, verbose: bool, only: str | None) -> None:
    lines = (corpus / "pages.jsonl").read_text(encoding="utf-8").splitlines()
    records = [json.loads(line) for line in lines]
    if only:
        records = [r for r in records if r["id"] == only]
    price_all, price_zyte, avail_all, avail_zyte = Score(), Score(), Score(), Score()
    cpu_ms: list[float] = []
    for rec in records:
        body = gzip.decompress((corpus / "pages" / f"{rec['id']}.html.gz").read_bytes())
        text = decode(body)
        start = time.process_time()
        result = extract(text, url=rec["url"] or "", spec=ExtractSpec())
        cpu_ms.append((time.process_time() - start) * 1000)
        acceptable = [d for p in rec.get("acceptable_prices") or [] if (d := _decimal(p))]
        if rec["expected_price"] is not None and not acceptable:
            acceptable = [Decimal(rec["expected_price"])]
        label = f"{rec['id']} {(rec['url'] or rec['domain'] or '')[:70]}"
        zyte = rec["source_repo"] == ZYTE
        for score in (price_all, price_zyte) if zyte else (price_all,):
            score.add(result.price, acceptable, f"price {label} [{result.extractor}]")
        if rec["in_stock"] is not None:
            for score in (avail_all, avail_zyte) if zyte else (avail_all,):
                score.add(result.in_stock, [rec["in_stock"]], f"stock {label}")
        if verbose and only:
            print(result)
    n_zyte = sum(r["source_repo"] == ZYTE for r in records)
    print(f"pages: {len(records)} (Zyte benchmark pages: {n_zyte})")
    print(f"price, whole corpus:        {price_all.line()}")
    print(f"availability, whole corpus: {avail_all.line()}")
    print(f"price, {n_zyte} Zyte pages:     {price_zyte.line()}")
    print(f"availability, Zyte pages:   {avail_zyte.line()}")
    print("published on the Zyte pages (price F1 / availability F1):")
    for name, (pf, af) in PUBLISHED.items():
        print(f"  {name:<8} {pf:.3f} / {af:.3f}")
    print(f"  {'ours':<8} {price_zyte.f1:.3f} / {avail_zyte.f1:.3f}")
    if cpu_ms:
        ordered = sorted(cpu_ms)
        p90 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.9))]
        print(f"CPU ms/page: median {statistics.median(ordered):.2f}, p90 {p90:.2f}")
    if verbose:
        for miss in price_all.misses + avail_all.misses:
            print("  MISS", miss)


def run_strings(corpus: Path, verbose: bool) -> None:
    """parse_price on price-parser's own test strings (the ones it does not mark xfail)."""
    path = corpus / "price_strings.jsonl"
    if not path.exists():
        return
    total = passed = 0
    failures: list[str] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        rec = json.loads(line)
        if rec.get("price_parser_xfail"):
            continue
        total += 1
        amount, currency = parse_price(
            rec["text"],
            currency_hint=rec.get("currency_hint"),
            decimal_separator=rec.get("decimal_separator_hint"),
        )
        expected = _decimal(rec["expected_amount"]) if rec["expected_amount"] else None
        if expected is not None and expected <= 0:
            expected = None  # pricewatch never reports a price <= 0
        iso = rec.get("expected_currency_iso")
        ok = amount == expected and (iso is None or currency == iso)
        passed += ok
        if not ok:
            failures.append(f"{rec['text']!r}: got {amount} {currency}, expected {expected} {iso}")
    print(f"price_strings: {passed}/{total} pass ({passed / max(total, 1):.1%})")
    if verbose:
        for failure in failures:
            print("  FAIL", failure)


def main() -> None:
    default = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--corpus", type=Path, default=default)
    parser.add_argument("--verbose", action="store_true", help="list every miss")
    parser.add_argument("--only", help="score one page id (prints its Extraction)")
    args = parser.parse_args()
    run_pages(args.corpus, args.verbose, args.only)
    if not args.only:
        run_strings(args.corpus, args.verbose)


if __name__ == "__main__":
    main()
