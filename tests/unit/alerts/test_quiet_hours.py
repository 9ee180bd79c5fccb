"""Quiet hours: which alerts are held, and until when (in UTC)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from pricewatch.alerts.quiet import hold_until
from pricewatch.config import QuietHoursConfig

NIGHT = QuietHoursConfig(start="22:00", end="07:00", timezone="Europe/Berlin")
LUNCH = QuietHoursConfig(start="12:00", end="13:30", timezone="UTC")


@pytest.mark.parametrize(
    ("quiet", "now", "expected"),
    [
        (NIGHT, datetime(2026, 11, 2, 20, 59, tzinfo=UTC), None),  # 21:59 Berlin
        (NIGHT, datetime(2026, 11, 2, 21, 0, tzinfo=UTC), datetime(2026, 11, 3, 6, 0, tzinfo=UTC)),
        (NIGHT, datetime(2026, 11, 3, 3, 0, tzinfo=UTC), datetime(2026, 11, 3, 6, 0, tzinfo=UTC)),
        (NIGHT, datetime(2026, 11, 3, 6, 0, tzinfo=UTC), None),  # 07:00 Berlin: over
        # Summer time: Berlin is UTC+2, so the night ends at 05:00 UTC.
        (NIGHT, datetime(2026, 7, 1, 1, 0, tzinfo=UTC), datetime(2026, 7, 1, 5, 0, tzinfo=UTC)),
        (LUNCH, datetime(2026, 11, 2, 12, 45, tzinfo=UTC),
         datetime(2026, 11, 2, 13, 30, tzinfo=UTC)),
        (LUNCH, datetime(2026, 11, 2, 11, 59, tzinfo=UTC), None),
        (None, datetime(2026, 11, 2, 23, 0, tzinfo=UTC), None),
    ],
)
def test_hold_until(quiet: QuietHoursConfig | None, now: datetime,
                    expected: datetime | None) -> None:
    """An alert raised inside the window is held until its end, spanning midnight and DST."""
    assert hold_until(now, quiet) == expected
