"""Offer ids for a whole catalogue, in arrays beside the offers."""

from __future__ import annotations

from array import array
from bisect import bisect_left
from collections.abc import Iterator, Mapping, Sequence

from pricewatch.models import Offer


class OfferIds(Mapping[str, int]):
    """``offer key -> offer id`` for a list of offers in a few machine integers per offer, not a
    dict's key strings and int objects, held for a whole round (tests/unit/test_offer_ids.py
    bounds the bytes per offer; bench/scale.py reports the peak RSS). Ids sit in an array
    aligned with the offers, found through a sorted array of key hashes;
    a hit is confirmed against the offer's own key, so lookups are exact."""

    def __init__(self, offers: Sequence[Offer]) -> None:
        self._offers = tuple(offers)
        self._ids = array("q", [-1]) * len(self._offers)  # -1: no id yet
        hashes = array("q", (hash(o.key) for o in self._offers))
        order = sorted(range(len(hashes)), key=hashes.__getitem__)
        self._order = array("q", order)
        self._hashes = array("q", (hashes[i] for i in order))
        self._len = 0

    def position(self, key: str) -> int:
        """The index of an offer with this key, or -1."""
        h = hash(key)
        i = bisect_left(self._hashes, h)
        while i < len(self._hashes) and self._hashes[i] == h:
            position = self._order[i]
            if self._offers[position].key == key:
                return position
            i += 1
        return -1

    def assign(self, position: int, offer_id: int) -> None:
        if self._ids[position] < 0:
            self._len += 1
        self._ids[position] = offer_id

    def __getitem__(self, key: str) -> int:
        position = self.position(key) if isinstance(key, str) else -1
        if position < 0 or self._ids[position] < 0:
            raise KeyError(key)
        return self._ids[position]

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, str):
            return False
        position = self.position(key)
        return position >= 0 and self._ids[position] >= 0

    def __iter__(self) -> Iterator[str]:
        for offer, oid in zip(self._offers, self._ids, strict=True):
            if oid >= 0:
                yield offer.key

    def __len__(self) -> int:
        return self._len
