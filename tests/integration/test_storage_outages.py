"""PostgreSQL cut off or gone silent behind a proxy, and rows it refuses: the writer and the
alert dispatcher go on, nothing waits forever, /readyz says what is wrong (never a 500), and a
poison row is stored as a failed check instead of blocking every later write."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from pricewatch import config
from pricewatch.alerts.channels import WebhookChannel
from pricewatch.alerts.dispatch import Dispatcher
from pricewatch.alerts.judge import AlertJudge
from pricewatch.alerts.resolve import rule_book
from pricewatch.config import NotifyRetryConfig, loads
from pricewatch.db import migrate
from pricewatch.db.engine import create_engine
from pricewatch.db.repository import PendingCheck, insert_checks, sync_catalog
from pricewatch.db.tables import checks
from pricewatch.db.writer import CheckWriter
from pricewatch.demo import shop
from pricewatch.demo.catalog import catalog
from pricewatch.errors import StorageUnavailable
from pricewatch.models import Check, Outcome
from pricewatch.runtime.daemon import Daemon
from tests.conftest import ServeFn, eventually
from tests.dbproxy import DatabaseProxy

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

TIMEOUT = 2.0  # the statement timeout the engines behind the proxy get
T0 = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)
CONFIG = """
alerts:
  rules: {below: 200}
products:
  - id: phone
    name: Phone X
    offers:
      - url: http://127.0.0.1:9/phone
        store: shop
"""


class Receiver:
    """A webhook endpoint on 127.0.0.1 that records what it is sent."""

    def __init__(self) -> None:
        self.url = ""
        self.received: list[dict[str, object]] = []
        self.arrived = asyncio.Event()


@pytest.fixture
async def webhook() -> AsyncIterator[Receiver]:
    receiver = Receiver()

    async def handle(request: web.Request) -> web.Response:
        receiver.received.append(await request.json())
        receiver.arrived.set()
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/hook", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    receiver.url = f"http://127.0.0.1:{runner.addresses[0][1]}/hook"
    yield receiver
    await runner.cleanup()


@pytest.fixture
async def proxy() -> AsyncIterator[DatabaseProxy]:
    p = DatabaseProxy()
    await p.start()
    yield p
    await p.close()


@pytest.fixture
async def direct(postgres_url: str) -> AsyncIterator[tuple[AsyncEngine, dict[str, int]]]:
    """A migrated database with the alerts fixture's one offer, reached without the proxy."""
    engine = create_engine(postgres_url)
    await migrate.upgrade(engine)
    async with engine.begin() as conn:
        ids = await sync_catalog(conn, loads(CONFIG, environ={}).offers(), T0)
    yield engine, dict(ids)
    await engine.dispose()


def _check(i: int, price: str = "10.00", currency: str = "EUR") -> Check:
    key = loads(CONFIG, environ={}).offers()[0].key
    return Check(key, T0 + timedelta(seconds=i), Outcome.OK, price=Decimal(price),
                 currency=currency)


def _poison_price(i: int) -> Check:
    check = _check(i)
    object.__setattr__(check, "price", Decimal(10) ** 14)  # as a page once made it
    return check


async def _outcomes(engine: AsyncEngine) -> list[tuple[str, str | None]]:
    async with engine.connect() as conn:
        rows = await conn.execute(select(checks.c.outcome, checks.c.error).order_by(checks.c.id))
        return [(r.outcome, r.error) for r in rows.all()]


async def test_poison_rows_never_block_a_batch(
        direct: tuple[AsyncEngine, dict[str, int]]) -> None:
    """A 10^14 price and a currency PostgreSQL refuses ("EURO" in CHAR(3)) in one batch: every
    good row is written, each bad one is a failed check saying why, and later writes go on."""
    engine, ids = direct
    oid = next(iter(ids.values()))
    writer = CheckWriter(engine, batch_size=100)
    rows = [_check(i) for i in range(10)] + [_poison_price(10), _check(11, currency="EURO")] + [
        _check(i) for i in range(12, 22)]
    for row in rows:
        writer.add(PendingCheck(oid, row))
    assert await asyncio.wait_for(writer.flush(), 60) == 22
    stored = await _outcomes(engine)
    assert [o for o, _ in stored].count("ok") == 20
    failed = [(o, e) for o, e in stored if o != "ok"]
    assert len(failed) == 2
    assert all(o == "error" and e and "could not be stored" in e for o, e in failed)
    assert "10^14" in (failed[0][1] or "")
    assert writer.dropped == 0
    writer.add(PendingCheck(oid, _check(30)))
    assert await writer.flush() == 1
    assert len(await _outcomes(engine)) == 23


@pytest.mark.parametrize("fault", ["cut", "silence"])
async def test_dispatcher_survives_an_outage_and_delivers_after(
        proxy: DatabaseProxy, postgres_url: str, direct: tuple[AsyncEngine, dict[str, int]],
        webhook: Receiver, fault: str) -> None:
    """With the database cut (or silent) the dispatcher's reads fail again and again; its task
    lives on, and the alerts raised meanwhile are delivered once the database is back."""
    engine, _ids = direct
    behind = create_engine(proxy.url(postgres_url), statement_timeout=TIMEOUT)
    dispatcher = Dispatcher(behind, [WebhookChannel("hook", webhook.url)],
                            retry=NotifyRetryConfig(attempts=3, backoff_base=0.01,
                                                    backoff_max=0.05), poll_interval=0.3)
    try:
        dispatcher.start()
        await dispatcher.dispatch_due()  # the pool has a live connection when the fault hits
        if fault == "cut":
            await proxy.cut()
        else:
            proxy.silence()
        for _ in range(3):
            dispatcher.wake()
            await asyncio.sleep(TIMEOUT + 0.5)
        assert dispatcher._task is not None
        assert not dispatcher._task.done()
        # Raised during the outage (the judge reaches the database another way here).
        settings = loads(CONFIG, environ={})
        judge = AlertJudge(engine, rule_book(settings), clock=lambda: T0)
        check = _check(1, price="150")
        async with engine.begin() as conn:
            await insert_checks(conn, [PendingCheck(_ids[check.offer_key], check)])
        raised = await judge.process_many([(settings.offers()[0], check)])
        assert [a.rule for a in raised] == ["below"]
        await proxy.restore()
        dispatcher.wake()
        await asyncio.wait_for(webhook.arrived.wait(), 30)
        alert = webhook.received[0]["alert"]
        assert isinstance(alert, dict)
        assert alert["rule"] == "below"
    finally:
        await proxy.restore()
        await dispatcher.close(grace=5)
        await behind.dispose()


async def test_writes_to_a_silent_database_fail_in_bounded_time(
        proxy: DatabaseProxy, postgres_url: str,
        direct: tuple[AsyncEngine, dict[str, int]]) -> None:
    """A connection that goes silent makes a flush fail within the statement timeout instead
    of hanging; the rows wait (their age is reported) and are written when it answers again."""
    engine, ids = direct
    oid = next(iter(ids.values()))
    behind = create_engine(proxy.url(postgres_url), statement_timeout=TIMEOUT)
    writer = CheckWriter(behind, batch_size=100, flush_interval=0.2)
    try:
        writer.add(PendingCheck(oid, _check(0)))
        assert await writer.flush() == 1
        proxy.silence()
        for i in range(1, 6):
            writer.add(PendingCheck(oid, _check(i)))
        with pytest.raises(StorageUnavailable):
            await asyncio.wait_for(writer.flush(), 10 * TIMEOUT)
        assert writer.pending == 5
        assert not writer.available
        assert writer.oldest_pending_age() >= TIMEOUT
        writer.start()
        await asyncio.sleep(TIMEOUT)
        await proxy.restore()

        async def drained() -> bool:
            return writer.pending == 0

        await eventually(drained, 60, "the buffered rows to be written")
        assert writer.oldest_pending_age() == 0
        assert len(await _outcomes(engine)) == 6
    finally:
        await proxy.restore()
        await writer.close(grace=5)
        await behind.dispose()


async def _readyz(port: int) -> tuple[int, dict[str, object]]:
    async with aiohttp.ClientSession() as s, s.get(f"http://127.0.0.1:{port}/readyz") as r:
        return r.status, await r.json(content_type=None)


async def test_readyz_answers_503_while_the_database_is_silent(
        proxy: DatabaseProxy, postgres_url: str, tmp_path: Path, free_port: int) -> None:
    """While the database is silent, /readyz answers 503 saying the database does not answer
    (it answered 500), and 200 again once it is back and the buffered checks are written."""
    runner, base = await shop.start(size=2)
    lines = ["database:", f"  url: {proxy.url(postgres_url)}", f"  statement_timeout: {TIMEOUT}s",
             "schedule:", "  interval: 1s", "  catch_up_window: 1s", "  jitter: 0",
             "server:", "  host: 127.0.0.1", f"  port: {free_port}",
             "http:", "  per_host_delay: 0s", "  obey_robots: false", "products:"]
    for p in catalog(2):
        lines += [f"  - id: {p.id}", f"    name: {p.name}", "    offers:",
                  f"      - url: {base}{p.path}"]
    path = tmp_path / "config.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    daemon = Daemon(config.load(path, environ={}))
    task = asyncio.create_task(daemon.run())
    statuses: list[int] = []

    async def status_is(expected: int) -> bool:
        try:
            status, _ = await _readyz(free_port)
        except aiohttp.ClientError:
            return False
        statuses.append(status)
        return status == expected

    try:
        await eventually(lambda: status_is(200), 30, "ready")
        proxy.silence()
        await eventually(lambda: status_is(503), 30, "/readyz to report the silence")
        status, body = await _readyz(free_port)
        assert status == 503
        assert str(body["database"]).startswith(("unreachable", "writes failing"))
        assert "writes" in body
        await proxy.restore()
        await eventually(lambda: status_is(200), 60, "recovery")
    finally:
        daemon.stop()
        await asyncio.wait_for(task, 60)
        await runner.cleanup()
    assert 500 not in statuses


async def test_alerts_raised_during_a_cut_are_delivered_after_it(
        proxy: DatabaseProxy, postgres_url: str, tmp_path: Path, webhook: Receiver,
        serve: ServeFn) -> None:
    """The daemon through a database cut: the price dips below the target and back while the
    database is away; once it is back, the checks buffered meanwhile are written, judged and
    the alert delivered, and the daemon shuts down cleanly."""
    shown = {"price": "100.00"}

    async def page(_: web.Request) -> web.Response:
        return web.Response(text=f'<html><body><h1>Phone X</h1><span class="price">'
                            f'{shown["price"]} EUR</span></body></html>',
                            content_type="text/html")

    base = await serve({"/phone": page})
    path = tmp_path / "config.yaml"
    path.write_text(f"""\
database:
  url: {proxy.url(postgres_url)}
  statement_timeout: {TIMEOUT}s
schedule: {{interval: 1s, catch_up_window: 1s, jitter: 0}}
server: {{enabled: false}}
http: {{per_host_delay: 0s, obey_robots: false}}
alerts:
  rules: {{below: 50}}
  channels:
    - name: hook
      webhook: {webhook.url}
products:
  - id: phone
    name: Phone X
    offers:
      - url: {base}/phone
        selector: .price
""", encoding="utf-8")
    daemon = Daemon(config.load(path, environ={}))
    task = asyncio.create_task(daemon.run())

    def ok_checks() -> float:
        return daemon.metrics.registry.get_sample_value(
            "pricewatch_checks_total", {"store": "127.0.0.1", "outcome": "ok"}) or 0

    async def checked(at_least: float) -> bool:
        return ok_checks() >= at_least

    try:
        await eventually(lambda: checked(2), 30, "the first checks")
        await proxy.cut()
        shown["price"] = "40.00"
        during = ok_checks()
        await eventually(lambda: checked(during + 3), 30, "checks during the cut")
        shown["price"] = "100.00"  # only checks made during the cut saw the drop
        dipped = ok_checks()
        await eventually(lambda: checked(dipped + 2), 30, "a check at the old price")
        assert not webhook.received
        await proxy.restore()
        await asyncio.wait_for(webhook.arrived.wait(), 60)
    finally:
        daemon.stop()
        code = await asyncio.wait_for(task, 60)
    assert code == 0
    alert = webhook.received[0]["alert"]
    assert isinstance(alert, dict)
    assert (alert["rule"], alert["new_price"]) == ("below", "40")
