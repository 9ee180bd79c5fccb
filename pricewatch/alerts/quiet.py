"""Quiet hours: when an alert raised now may be delivered."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from pricewatch.config import QuietHoursConfig


def hold_until(now: datetime, quiet: QuietHoursConfig | None) -> datetime | None:
    """The end of the quiet period ``now`` falls in (UTC), or None outside quiet hours.

    ``start`` after ``end`` (22:00-07:00) spans midnight; equal times mean no quiet hours.
    """
    if quiet is None or quiet.start == quiet.end:
        return None
    zone = ZoneInfo(quiet.timezone)
    local = now.astimezone(zone)
    start, end = _clock(quiet.start), _clock(quiet.end)
    today = local.date()
    for day in (today - timedelta(days=1), today):
        begins = datetime.combine(day, start, zone)
        ends_day = day if start < end else day + timedelta(days=1)
        ends = datetime.combine(ends_day, end, zone)
        if begins <= local < ends:
            # Wall-clock arithmetic in the zone, so a DST change moves the end correctly.
            return ends.astimezone(UTC)
    return None


def _clock(text: str) -> time:
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))
