"""One planning window's due slots, as the jobs that check them.

An offer's slots are the single-process daemon's grid (``schedule.grid_phases``: offers of one
interval spread evenly over it, anchored to the epoch), so switching modes keeps the rhythm.
Windows ``[start, start + plan_every)`` tile time and each is planned once for the cluster, so
every slot is in exactly one window. Jitter is a hash of (offer, slot): any replica would
compute the same, and it never accumulates.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

from pricewatch.models import Offer
from pricewatch.runtime.schedule import cron_times, grid_phases


@dataclass(frozen=True, slots=True)
class Slot:
    """One planned check: ``slot`` (epoch ms) names it; it runs at ``run_at`` (the slot plus
    its jitter) under ``lock``, which every check of its host's lane shares cluster-wide."""

    key: str
    slot: int
    run_at: datetime
    lock: str


def host_of(offer: Offer) -> str:
    return (urlsplit(offer.url).hostname or "").lower()


def _unit(key: str, slot: int) -> float:
    digest = hashlib.blake2b(f"{key}@{slot}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def window(offers: Sequence[Offer], start: float, end: float, *, jitter: float) -> list[Slot]:
    """Every slot of ``offers`` in [start, end) (epoch seconds), in run order. A host with
    ``per_host_concurrency`` n gets n lanes (locks ``host#0`` ... ``host#n-1``), dealt in turn."""
    phase = grid_phases(offers)
    planned: list[tuple[float, str, int, Offer]] = []
    for offer in offers:
        if offer.cron is not None:
            times = [t.timestamp() for t in cron_times(
                offer.cron, offer.timezone, datetime.fromtimestamp(start, UTC),
                datetime.fromtimestamp(end, UTC))]
            spread = 0.0  # crontab lines name their minute; jitter would move them off it
        else:
            first = phase[offer.key] + math.ceil((start - phase[offer.key]) / offer.interval) \
                * offer.interval
            times = []
            at = first
            while at < end:
                times.append(at)
                at += offer.interval
            spread = offer.interval * jitter
        for at in times:
            ms = round(at * 1000)
            planned.append((at + spread * _unit(offer.key, ms), offer.key, ms, offer))
    planned.sort(key=lambda p: (p[0], p[1]))
    lanes: dict[str, int] = {}
    out = []
    for run_at, key, ms, offer in planned:
        host = host_of(offer)
        width = max(1, offer.fetch.per_host_concurrency)
        lane = lanes.get(host, 0)
        lanes[host] = lane + 1
        out.append(Slot(key, ms, datetime.fromtimestamp(run_at, UTC),
                        f"host:{host}#{lane % width}"))
    return out


def cron_every(seconds: float) -> str:
    """The crontab line (Procrastinate's, with a seconds field) of a planning period that
    divides a minute or an hour (the config validates it)."""
    whole = int(seconds)
    if whole < 60:
        return f"* * * * * */{whole}"  # croniter's sixth field is the seconds
    return f"*/{whole // 60} * * * *"


def window_of(timestamp: int, seconds: float) -> tuple[float, float]:
    """The window a planning run for ``timestamp`` plans: the period that starts then."""
    return float(timestamp), timestamp + seconds

