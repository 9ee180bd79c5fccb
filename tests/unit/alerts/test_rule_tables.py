"""Rules as tables: a sequence of checks in, the alerts out, on a real SQLite file.

Each row is (check, rules that fire on it). ``RESTART`` swaps in a new engine on the same file
in the middle of a sequence: state comes from the database, so nothing repeats.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from alerts_harness import RESTART, Harness, Step, config_text, failed, ok

from pricewatch.models import Outcome

TIMEOUT, BLOCKED, HTTP_ERROR, NO_PRICE = (Outcome.TIMEOUT, Outcome.BLOCKED, Outcome.HTTP_ERROR,
                                           Outcome.NO_PRICE)

Table = list[tuple[Step, list[str]]]

TABLES: dict[str, tuple[str, Table]] = {
    "below: first check below the target fires, staying below does not, re-fires after rising":
        ("{below: 200}", [
            (ok("190"), ["below"]),
            (ok("185"), []),
            (ok("200"), []),
            (ok("205"), []),
            (ok("199.99"), ["below"]),
        ]),
    "below: failed checks in between change nothing":
        ("{below: 200}", [
            (ok("210"), []),
            (failed(TIMEOUT), []),
            (ok("190"), ["below"]),
            (failed(BLOCKED), []),
            (failed(HTTP_ERROR), []),
            (ok("190"), []),
            (failed(NO_PRICE, in_stock=False), []),
            (ok("195"), []),
        ]),
    "below: a restart in the middle repeats nothing and loses nothing":
        ("{below: 200}", [
            (ok("190"), ["below"]),
            (RESTART, []),
            (ok("185"), []),
            (ok("205"), []),
            (RESTART, []),
            (ok("190"), ["below"]),
        ]),
    "below: hysteresis re-arms only above target + 5 %":
        ("{below: {target: 200, hysteresis_percent: 5}}", [
            (ok("190"), ["below"]),
            (ok("209"), []),
            (ok("195"), []),
            (ok("211"), []),
            (ok("199"), ["below"]),
        ]),
    "below: a target in EUR ignores prices in another currency":
        ("{below: {target: 200, currency: EUR}}", [
            (ok("150", currency="USD"), []),
            (ok("190"), ["below"]),
        ]),
    "below: cooldown holds a re-fire until 3 h after the last alert":
        ("{below: {target: 200, cooldown: 3h}}", [
            (ok("190"), ["below"]),
            (ok("205"), []),
            (ok("190"), []),
            (ok("190"), ["below"]),
        ]),
    "drop_percent vs the previous price; failed checks are not a previous price":
        ("{drop_percent: 10}", [
            (ok("100"), []),
            (ok("95"), []),
            (failed(TIMEOUT), []),
            (ok("85"), ["drop_percent.previous"]),
            (ok("85"), []),
            (ok("76"), ["drop_percent.previous"]),
            (ok("68"), ["drop_percent.previous"]),
            (ok("75"), []),
        ]),
    "new_low with a cooldown: a slow slide alerts at most every 3 h":
        ("{new_low: {cooldown: 3h}}", [
            (ok("100"), []),
            (ok("99"), ["new_low"]),
            (ok("98"), []),
            (ok("97"), []),
            (ok("96"), ["new_low"]),
        ]),
    "drop_percent vs the 30-day median":
        ("{drop_percent: {median: 20}}", [
            (ok("100"), []),
            (ok("102"), []),
            (ok("98"), []),
            (ok("85"), []),
            (ok("79"), ["drop_percent.median"]),
            (ok("78"), []),
        ]),
    "rise_percent is opt-in and fires on a rise vs the previous price":
        ("{rise_percent: 10}", [
            (ok("100"), []),
            (ok("109"), []),
            (ok("120"), ["rise_percent.previous"]),
        ]),
    "new_low: lowest ever, never on the first price":
        ("{new_low: true}", [
            (ok("100"), []),
            (ok("110"), []),
            (ok("99"), ["new_low"]),
            (ok("99"), []),
            (failed(BLOCKED), []),
            (ok("98"), ["new_low"]),
        ]),
    "new_low within a 2 h window fires where an all-time low would not":
        ("{new_low: {window: 2h}}", [
            (ok("100"), []),
            (ok("90"), ["new_low"]),
            (ok("95"), []),
            (ok("96"), []),
            (ok("94"), ["new_low"]),
        ]),
    "back_in_stock needs an out-of-stock sighting, and a blocked page is not one":
        ("{back_in_stock: true}", [
            (ok("100", in_stock=True), []),
            (failed(BLOCKED), []),
            (ok("100", in_stock=True), []),
            (ok("100", in_stock=False), []),
            (failed(TIMEOUT), []),
            (ok("100", in_stock=True), ["back_in_stock"]),
            (failed(NO_PRICE, in_stock=False), []),
            (RESTART, []),
            (ok("100", in_stock=True), ["back_in_stock"]),
        ]),
    "several rules on one offer fire independently":
        ("{below: 90, drop_percent: 10, new_low: true}", [
            (ok("100"), []),
            (ok("89"), ["below", "drop_percent.previous", "new_low"]),
            (ok("88"), ["new_low"]),
        ]),
}


@pytest.mark.parametrize("name", list(TABLES))
async def test_rule_table(tmp_path: Path, name: str) -> None:
    """Feeding the table's checks in order raises exactly the table's alerts, row by row."""
    rules, table = TABLES[name]
    harness = Harness(tmp_path, config_text(rules))
    await harness.open()
    try:
        got = [sorted(a.rule for a in await harness.feed(step)) for step, _ in table]
    finally:
        await harness.close()
    assert got == [sorted(expected) for _, expected in table]


async def test_cheapest_store_changed(tmp_path: Path) -> None:
    """A product with two offers alerts when the cheapest store changes, not on the first
    comparison, not on ties, and not on a failed check of the cheaper store."""
    harness = Harness(tmp_path, config_text("{}", offers=2,
                                            product_rules="{cheapest_store_changed: true}"))
    await harness.open()
    table: Table = [
        (ok("100", offer=0), []),
        (ok("110", offer=1), []),
        (ok("95", offer=1), ["cheapest_store_changed"]),
        (failed(BLOCKED, offer=1), []),
        (ok("95", offer=0), []),
        (RESTART, []),
        (ok("90", offer=0), ["cheapest_store_changed"]),
    ]
    try:
        got = [[a.rule for a in await harness.feed(step)] for step, _ in table]
    finally:
        await harness.close()
    assert got == [expected for _, expected in table]


async def test_offer_overrides_product_and_global_rules(tmp_path: Path) -> None:
    """An offer's `below: false` removes the product's target for that offer only."""
    text = config_text("{drop_percent: 50}", offers=2, product_rules="{below: 200}")
    text = text.replace("store: shop1", "store: shop1\n        alerts: {below: false}")
    harness = Harness(tmp_path, text)
    await harness.open()
    try:
        first = await harness.feed(ok("150", offer=0))
        second = await harness.feed(ok("150", offer=1))
    finally:
        await harness.close()
    assert [a.rule for a in first] == ["below"]
    assert second == []


async def test_alert_message_has_prices_change_low_and_link(tmp_path: Path) -> None:
    """The stored alert carries old and new price with currency, the change in %, the lowest
    ever and the link."""
    harness = Harness(tmp_path, config_text("{drop_percent: 10}"))
    await harness.open()
    try:
        await harness.feed(ok("80"))
        await harness.feed(ok("129.99"))
        (alert,) = await harness.feed(ok("99.99"))
    finally:
        await harness.close()
    assert alert.id is not None
    assert alert.body.splitlines() == [
        "Phone X at shop0: down 23.1% vs the previous price",
        "Price: 129.99 EUR -> 99.99 EUR (-23.1%)",
        "Lowest ever: 80 EUR",
        "http://127.0.0.1:9/p0",
    ]
    payload = alert.payload()
    assert (payload["old_price"], payload["new_price"], payload["change_percent"],
            payload["lowest_ever"]) == ("129.99", "99.99", "-23.1", "80")
