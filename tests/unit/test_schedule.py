"""Scheduling plans: even spread over the interval, stable across restarts, bounded catch-up."""

from __future__ import annotations

import itertools
import random
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from pricewatch.runtime.schedule import Due, next_slot, phases, plan, validate_cron

NOW = datetime(2026, 5, 1, 12, 0, 7, tzinfo=UTC)
HOUR = 3600.0


def test_phases_spread_evenly() -> None:
    """10,000 hourly offers land at most one per 0.36 s slot: no burst anywhere in the hour."""
    offsets = phases((f"p{i}@s{i % 7}" for i in range(10_000)), HOUR)
    slices = Counter(int(o / HOUR * 100) for o in offsets.values())
    assert len(slices) == 100
    assert max(slices.values()) == min(slices.values()) == 100


def test_restart_keeps_recent_offers_on_their_slots() -> None:
    """After a restart, offers last checked on their previous slot (plus jitter) get no
    catch-up run and keep the same slot grid."""
    keys = [f"o{i}" for i in range(200)]
    offset = phases(keys, HOUR)
    now_s = NOW.timestamp()
    dues = []
    for i, key in enumerate(keys):
        previous_slot = offset[key] + ((now_s - offset[key]) // HOUR) * HOUR
        jitter = (i % 10) / 100 * HOUR  # up to 10 % late, as schedule.jitter allows
        dues.append(Due(key, HOUR, datetime.fromtimestamp(previous_slot + jitter, UTC)))
    plans = {p.key: p for p in plan(dues, NOW, catch_up_window=300)}
    for key, p in plans.items():
        assert p.catch_up is None, key
        assert NOW < p.start <= NOW + timedelta(seconds=HOUR)
        assert (p.start.timestamp() - offset[key]) % HOUR == pytest.approx(0, abs=1e-3)


def test_new_and_overdue_offers_catch_up_within_the_window() -> None:
    """Never-checked and overdue offers are checked soon, spread over the window, then regular
    slots follow at least half an interval later."""
    dues = [Due(f"new{i}", HOUR) for i in range(100)]
    dues += [Due(f"old{i}", HOUR, NOW - timedelta(hours=5)) for i in range(100)]
    plans = list(plan(dues, NOW, catch_up_window=300))
    catch_ups = sorted(p.catch_up for p in plans if p.catch_up is not None)
    assert len(catch_ups) == 200
    assert catch_ups[0] > NOW
    assert catch_ups[-1] < NOW + timedelta(seconds=300)
    per_ten_seconds = Counter(int((c - NOW).total_seconds() // 10) for c in catch_ups)
    assert max(per_ten_seconds.values()) <= 8  # 200 over 300 s is ~6.7 per 10 s
    for p in plans:
        assert p.catch_up is not None
        assert (p.start - p.catch_up).total_seconds() >= HOUR / 2
    # The longest-unchecked offers go first.
    first_keys = {p.key for p in sorted(plans, key=lambda p: p.catch_up or NOW)[:100]}
    assert all(k.startswith("new") for k in first_keys)


def test_intervals_are_spread_independently() -> None:
    """Offers with different intervals each spread over their own interval."""
    dues = [Due(f"a{i}", 60.0, NOW) for i in range(60)] + [Due(f"b{i}", 600.0, NOW)
                                                            for i in range(60)]
    plans = list(plan(dues, NOW, catch_up_window=300))
    a = sorted((p.start - NOW).total_seconds() for p in plans if p.key.startswith("a"))
    b = sorted((p.start - NOW).total_seconds() for p in plans if p.key.startswith("b"))
    assert a[-1] - a[0] > 55
    assert b[-1] - b[0] > 550


def test_cron_offers_follow_their_crontab() -> None:
    """A cron offer's first regular run is the crontab's next time in its time zone."""
    (p,) = plan([Due("c", HOUR, NOW, cron="30 8 * * *", timezone="Europe/Berlin")], NOW,
                catch_up_window=300)
    assert p.cron == "30 8 * * *"
    local = p.start.astimezone(__import__("zoneinfo").ZoneInfo("Europe/Berlin"))
    assert (local.hour, local.minute) == (8, 30)
    assert p.catch_up is None


def test_validate_cron_rejects_garbage() -> None:
    """A bad crontab line is a ValueError naming the expression."""
    with pytest.raises(ValueError, match="61 \\* \\* \\* \\*"):
        validate_cron("61 * * * *")


def test_jitter_stays_around_anchored_slots() -> None:
    """With a 60 s interval and jitter 0.1, 2,000 consecutive runs (each fired at its jittered
    time, the next slot taken from there as the scheduler does) stay within 6 s after their
    anchored slot, and the mean gap equals the interval (APScheduler's own jitter drifts)."""
    rng = random.Random(7)
    anchor = NOW.timestamp() + 17
    times = [anchor + rng.uniform(0, 6.0)]
    for _ in range(1999):
        times.append(next_slot(anchor, 60.0, times[-1]) + rng.uniform(0, 6.0))
    for k, moment in enumerate(times):
        slot = anchor + 60 * k
        assert 0 <= moment - slot < 6.0, k
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert sum(gaps) / len(gaps) == pytest.approx(60.0, abs=0.01)
    assert max(gaps) > 61
    assert min(gaps) < 59


def test_anchored_slots_resume_on_the_grid_after_a_late_start() -> None:
    """Asked long after its anchor (a restart, a late loop), the next slot is the original
    grid's: the phase does not shift, and a run late by less than a slot is not repeated."""
    anchor = NOW.timestamp()
    assert next_slot(anchor, 60.0, anchor + 60 * 10 + 5) == anchor + 660
    assert next_slot(anchor, 60.0, anchor - 30) == anchor
    assert next_slot(anchor, 60.0, anchor) == anchor + 60
