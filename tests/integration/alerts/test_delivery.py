"""Delivery against real receivers on 127.0.0.1: a webhook (with failures, to prove retries),
an SMTP server reached through apprise's mailto URL, quiet-hour digests and restarts."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from conftest import T0, Catalog, Mailbox, Receiver
from prometheus_client import CollectorRegistry
from sqlalchemy import select

from pricewatch.alerts import AlertJudge, Dispatcher
from pricewatch.alerts.channels import AppriseChannel, WebhookChannel
from pricewatch.alerts.resolve import rule_book
from pricewatch.config import NotifyRetryConfig, loads
from pricewatch.db.alerts import recent_alerts
from pricewatch.db.tables import notifications

FAST = NotifyRetryConfig(attempts=4, backoff_base=0.01, backoff_max=0.05)


async def attempts(catalog: Catalog) -> list[tuple[str, int, str, bool]]:
    async with catalog.engine.connect() as conn:
        rows = await conn.execute(select(notifications).order_by(notifications.c.id))
        return [(r.channel, r.attempt, r.status, r.digest) for r in rows.all()]


async def raise_alert(catalog: Catalog, dispatcher: Dispatcher | None, price: str = "190",
                      *, now: datetime = T0, registry: CollectorRegistry | None = None
                      ) -> AlertJudge:
    engine = AlertJudge(catalog.engine, rule_book(catalog.settings), dispatcher=dispatcher,
                         clock=lambda: now, registry=registry)
    offer = catalog.settings.offers()[0]
    await engine.process_many([(offer, await catalog.check(price, now))])
    return engine


async def test_webhook_retries_500s_then_delivers(catalog: Catalog, webhook: Receiver) -> None:
    """Two 500 answers are retried with backoff; the third attempt delivers the JSON payload,
    and every attempt is a row in notifications and a count in the registry."""
    webhook.statuses = [500, 500]
    registry = CollectorRegistry()
    dispatcher = Dispatcher(catalog.engine, [WebhookChannel("hook", webhook.url)], retry=FAST,
                            registry=registry)
    dispatcher.start()
    await raise_alert(catalog, dispatcher, registry=registry)
    await asyncio.wait_for(webhook.arrived.wait(), 10)
    await dispatcher.close()

    assert registry.get_sample_value("pricewatch_alerts_total", {"rule": "below"}) == 1
    (body,) = webhook.received
    assert body["event"] == "alert"
    alert = body["alert"]
    assert (alert["rule"], alert["store"], alert["new_price"], alert["currency"],
            alert["url"]) == ("below", "shop", "190", "EUR", "http://127.0.0.1:9/phone")
    assert await attempts(catalog) == [("hook", 1, "retry", False), ("hook", 2, "retry", False),
                                       ("hook", 3, "sent", False)]
    sample = registry.get_sample_value
    assert sample("pricewatch_notifications_total", {"channel": "hook", "status": "retry"}) == 2
    assert sample("pricewatch_notifications_total", {"channel": "hook", "status": "sent"}) == 1


async def test_permanent_failure_is_logged_counted_and_listed(catalog: Catalog,
                                                              webhook: Receiver) -> None:
    """A receiver that keeps failing exhausts the attempts; the alert ends as `failed` with
    the reason in the table, the metric and the recent-alerts list, never silently dropped."""
    webhook.statuses = [503] * 10
    registry = CollectorRegistry()
    dispatcher = Dispatcher(catalog.engine, [WebhookChannel("hook", webhook.url)], retry=FAST,
                            registry=registry)
    await raise_alert(catalog, dispatcher)
    await dispatcher.close()

    assert [a[2] for a in await attempts(catalog)] == ["retry", "retry", "retry", "failed"]
    assert registry.get_sample_value("pricewatch_notifications_total",
                                     {"channel": "hook", "status": "failed"}) == 1
    async with catalog.engine.connect() as conn:
        (recent,) = await recent_alerts(conn)
    (delivery,) = recent.deliveries
    assert (delivery.status, delivery.attempts) == ("failed", 4)
    assert delivery.error is not None
    assert "HTTP 503" in delivery.error
    assert recent.done


async def test_client_error_is_not_retried(catalog: Catalog, webhook: Receiver) -> None:
    """A 400 means the receiver rejects the message itself: one attempt, then failed."""
    webhook.statuses = [400]
    dispatcher = Dispatcher(catalog.engine, [WebhookChannel("hook", webhook.url)], retry=FAST)
    await raise_alert(catalog, dispatcher)
    await dispatcher.close()
    assert await attempts(catalog) == [("hook", 1, "failed", False)]
    assert webhook.hits == 1


async def test_processing_does_not_wait_for_delivery(catalog: Catalog, webhook: Receiver
                                                     ) -> None:
    """`process_many` returns while the webhook is still holding the request open: delivery runs
    in the dispatcher's own task and never blocks checks."""
    webhook.gate = asyncio.Event()
    dispatcher = Dispatcher(catalog.engine, [WebhookChannel("hook", webhook.url)], retry=FAST)
    dispatcher.start()
    await raise_alert(catalog, dispatcher)  # would hang here if delivery were inline
    assert webhook.received == []
    webhook.gate.set()
    await asyncio.wait_for(webhook.arrived.wait(), 10)
    await dispatcher.close()
    assert len(webhook.received) == 1


async def test_email_through_apprise_mailto(catalog: Catalog, smtp: Mailbox) -> None:
    """apprise's plain-SMTP mailto URL (mode=insecure) delivers the alert to a local aiosmtpd
    server, with product, prices and link in the mail."""
    url = (f"mailto://127.0.0.1:{smtp.port}?mode=insecure&from=pricewatch@example.com"
           f"&to=me@example.com")
    dispatcher = Dispatcher(catalog.engine, [AppriseChannel("mail", url, timeout=20)],
                            retry=FAST)
    await raise_alert(catalog, dispatcher, "189.50")
    await dispatcher.close()

    (mail,) = smtp.messages
    assert mail.mail_from == "pricewatch@example.com"
    assert mail.rcpt_tos == ["me@example.com"]
    content = mail.original_content.decode() if mail.original_content else ""
    assert "Subject: Phone X at shop: 189.5 EUR" in content
    assert "http://127.0.0.1:9/phone" in content
    assert "Price: 189.5 EUR\r\nLowest ever: 189.5 EUR" in content  # line breaks survive
    assert await attempts(catalog) == [("mail", 1, "sent", False)]


async def test_unreachable_smtp_is_retried_then_failed(catalog: Catalog) -> None:
    """An SMTP server that refuses connections counts as a temporary failure until the
    attempts run out."""
    url = "mailto://127.0.0.1:1?mode=insecure&from=pricewatch@example.com&to=me@example.com"
    channel = AppriseChannel("mail", url, timeout=20, throttle=0)
    dispatcher = Dispatcher(catalog.engine, [channel],
                            retry=NotifyRetryConfig(attempts=2, backoff_base=0.01))
    await raise_alert(catalog, dispatcher)
    await dispatcher.close()
    assert [a[2] for a in await attempts(catalog)] == ["retry", "failed"]


async def test_quiet_hours_hold_alerts_for_one_digest(catalog: Catalog, webhook: Receiver
                                                      ) -> None:
    """Alerts raised at night are held and go out as one digest per channel when the quiet
    hours end."""
    settings = loads("""
alerts:
  rules: {below: 200, drop_percent: 8}
  quiet_hours: {start: "22:00", end: "07:00", timezone: Europe/Berlin}
products:
  - id: phone
    name: Phone X
    offers: [{url: "http://127.0.0.1:9/phone", store: shop}]
""", environ={})
    night = datetime(2026, 11, 2, 23, 30, tzinfo=UTC)  # 00:30 in Berlin
    now = {"t": night}
    dispatcher = Dispatcher(catalog.engine, [WebhookChannel("hook", webhook.url)], retry=FAST,
                            clock=lambda: now["t"])
    engine = AlertJudge(catalog.engine, rule_book(settings),
                         quiet_hours=settings.model.alerts.quiet_hours, dispatcher=dispatcher,
                         clock=lambda: now["t"])
    offer = settings.offers()[0]
    assert await engine.process_many([(offer, await catalog.check("210", night))]) == []
    first = await engine.process_many(
        [(offer, await catalog.check("199", night + timedelta(hours=1)))])
    second = await engine.process_many(
        [(offer, await catalog.check("180", night + timedelta(hours=2)))])
    assert [a.rule for a in first + second] == ["below", "drop_percent.previous"]

    assert await dispatcher.dispatch_due() == 0  # held: nothing is due during quiet hours
    now["t"] = datetime(2026, 11, 3, 6, 0, 1, tzinfo=UTC)  # 07:00:01 in Berlin
    await dispatcher.close()

    (digest,) = webhook.received
    assert digest["event"] == "digest"
    assert [a["rule"] for a in digest["alerts"]] == ["below", "drop_percent.previous"]
    assert await attempts(catalog) == [("hook", 1, "sent", True), ("hook", 1, "sent", True)]


async def test_undelivered_alert_survives_a_restart(catalog: Catalog, webhook: Receiver) -> None:
    """An alert stored just before a crash (no dispatcher ran) is delivered by the next
    process's dispatcher, once."""
    await raise_alert(catalog, None)
    later = Dispatcher(catalog.engine, [WebhookChannel("hook", webhook.url)], retry=FAST)
    await later.close()
    again = Dispatcher(catalog.engine, [WebhookChannel("hook", webhook.url)], retry=FAST)
    await again.close()
    assert len(webhook.received) == 1
    assert await attempts(catalog) == [("hook", 1, "sent", False)]


async def test_no_channels_marks_alerts_done(catalog: Catalog) -> None:
    """Without channels an alert is still stored (for `alerts list`) and not retried forever."""
    dispatcher = Dispatcher(catalog.engine, [], retry=FAST)
    await raise_alert(catalog, dispatcher)
    await dispatcher.close()
    async with catalog.engine.connect() as conn:
        (recent,) = await recent_alerts(conn)
    assert recent.done
    assert recent.deliveries == ()
    assert datetime.now(UTC) > recent.created_at


async def test_close_right_after_wake_always_returns(catalog: Catalog) -> None:
    """Closing a running dispatcher just after new alerts woke it ends promptly, every time
    (a cancelled wait_for racing with the wake-up used to hang `pricewatch once`)."""
    for round_ in range(15):
        dispatcher = Dispatcher(catalog.engine, [], retry=FAST)
        dispatcher.start()
        await asyncio.sleep(0)
        dispatcher.wake()
        await asyncio.wait_for(dispatcher.close(), 10)
        assert round_ >= 0
