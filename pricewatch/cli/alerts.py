"""What `pricewatch alerts test` and `pricewatch alerts list` do; cli/__init__.py only parses."""

from __future__ import annotations

import asyncio

from pricewatch.alerts.channels import build
from pricewatch.alerts.message import test_message
from pricewatch.cli.text import table
from pricewatch.config import Settings
from pricewatch.db.alerts import Recent, recent_alerts
from pricewatch.errors import NotifyError, StorageError, StorageUnavailable


async def send_test(settings: Settings) -> tuple[str, bool]:
    """One test message through every channel, concurrently; (report, all delivered)."""
    channels = build(settings.model.alerts)
    if not channels:
        return "no channels configured (add some under alerts.channels)", False
    config = {c.name: c for c in settings.model.alerts.channels}

    async def one(channel_name: str) -> tuple[str, str, str, str]:
        channel = next(c for c in channels if c.name == channel_name)
        target = config[channel_name]
        kind = "webhook" if target.webhook else f"apprise {target.apprise.split(':', 1)[0]}" \
            if target.apprise else "?"
        try:
            await channel.send(test_message())
        except NotifyError as exc:
            return channel_name, kind, "FAILED", str(exc)[:100]
        finally:
            await channel.close()
        return channel_name, kind, "sent", ""

    rows = await asyncio.gather(*(one(c.name) for c in channels))
    report = table(["channel", "kind", "result", "detail"], rows)
    return report, all(r[2] == "sent" for r in rows)


async def list_recent(settings: Settings, *, limit: int) -> str:
    from pricewatch.db.database import open_database
    from pricewatch.db.errors import mapped

    async with open_database(settings, upgrade=False) as engine:
        try:
            with mapped("cannot read alerts"):
                async with engine.connect() as conn:
                    recent = await recent_alerts(conn, limit=limit)
        except StorageUnavailable:
            raise
        except StorageError as exc:
            raise StorageError(f"{exc}; run `pricewatch db upgrade` first") from exc
    if not recent:
        return "no alerts yet"
    rows = [(r.id, r.created_at.strftime("%Y-%m-%d %H:%M"), r.rule, _short(r.title, 70),
             _delivery(r)) for r in recent]
    return table(["id", "raised (UTC)", "rule", "alert", "delivery"], rows)


def _delivery(alert: Recent) -> str:
    parts = []
    for d in sorted(alert.deliveries, key=lambda d: d.channel):
        tries = f" after {d.attempts} attempts" if d.attempts > 1 else ""
        text = f"{d.channel}: {d.status}{' (digest)' if d.digest else ''}{tries}"
        if d.status != "sent" and d.error:
            text += f" ({_short(d.error, 40)})"
        parts.append(text)
    if not alert.done:
        if alert.hold_until is not None and not alert.deliveries:
            parts.append(f"held until {alert.hold_until:%Y-%m-%d %H:%M} UTC (quiet hours)")
        else:
            parts.append("pending")
    return "; ".join(parts) or "no channels"


def _short(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"
