"""OfferIds: the catalogue sync's key -> id mapping behaves like a dict in a few bytes per offer."""

from __future__ import annotations

import gc
import tracemalloc

import pytest

from pricewatch.db.ids import OfferIds
from pricewatch.models import ExtractSpec, FetchOptions, Offer

FETCH = FetchOptions(user_agent="t")
SPEC = ExtractSpec()


def offers(n: int) -> list[Offer]:
    return [Offer(f"p{i}", f"P {i}", f"s{i % 3}", f"http://x/{i}", SPEC, FETCH, 60.0)
            for i in range(n)]


def test_lookups_match_a_dict_and_unknown_keys_are_missing() -> None:
    """Every assigned key finds its id; keys without an id or not wanted are absent."""
    listed = offers(500)
    ids = OfferIds(listed)
    for position, offer in enumerate(listed):
        if position % 5:  # every fifth offer gets no id
            ids.assign(ids.position(offer.key), 1000 + position)
    expected = {o.key: 1000 + i for i, o in enumerate(listed) if i % 5}
    assert ids == expected
    assert len(ids) == len(expected)
    assert list(ids) == list(expected)
    assert "p0@s0" not in ids
    assert ids.position("p0@s0") == 0  # wanted, though it has no id
    assert ids.position("nope@s0") == -1
    assert ids.get("nope@s0") is None
    with pytest.raises(KeyError):
        ids["p0@s0"]


def test_memory_per_offer_is_a_few_arrays() -> None:
    """20,000 offers' ids take under 40 bytes each (a dict with key strings took ~155)."""
    listed = offers(20_000)
    gc.collect()
    tracemalloc.start()
    try:
        ids = OfferIds(listed)
        for i in range(len(listed)):
            ids.assign(i, 100_000 + i)
        gc.collect()
        retained, _peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert ids[listed[123].key] == 100_123
    assert retained / len(listed) < 40, retained / len(listed)
