"""The only importer of APScheduler (3.x, untyped): triggers and the job loop live here."""

from __future__ import annotations

from apscheduler.triggers.cron import CronTrigger


def validate_cron(expression: str) -> None:
    """Raise ValueError unless ``expression`` is a five-field crontab line."""
    try:
        CronTrigger.from_crontab(expression)
    except ValueError as exc:
        raise ValueError(f"invalid cron expression {expression!r}: {exc}") from exc
