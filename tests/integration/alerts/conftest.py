"""Fixtures for delivery tests: a migrated SQLite file with one product, a webhook receiver
and an SMTP server, all real and on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiosmtpd.smtp import SMTP, Envelope, Session
from sqlalchemy.ext.asyncio import AsyncEngine

from pricewatch.config import Settings, loads
from pricewatch.db import migrate
from pricewatch.db.engine import create_engine
from pricewatch.db.repository import PendingCheck, insert_checks, sync_catalog
from pricewatch.models import Check, Outcome

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


@dataclass
class Catalog:
    engine: AsyncEngine
    settings: Settings
    ids: dict[str, int]

    async def check(self, price: str, at: datetime = T0) -> Check:
        """Store an ok check of the one offer and return it."""
        offer = self.settings.offers()[0]
        check = Check(offer.key, at, Outcome.OK, price=Decimal(price), currency="EUR",
                      in_stock=True)
        async with self.engine.begin() as conn:
            await insert_checks(conn, [PendingCheck(self.ids[offer.key], check)])
        return check


@pytest.fixture
async def catalog(tmp_path: Path) -> AsyncIterator[Catalog]:
    settings = loads(CONFIG, environ={})
    engine = create_engine(f"sqlite:///{tmp_path / 'alerts.db'}")
    await migrate.upgrade(engine)
    async with engine.begin() as conn:
        ids = await sync_catalog(conn, settings.offers(), T0)
    yield Catalog(engine, settings, ids)
    await engine.dispose()


@dataclass
class Receiver:
    """A webhook endpoint that answers with the queued statuses first, then 200."""

    url: str = ""
    statuses: list[int] = field(default_factory=list)
    received: list[dict[str, Any]] = field(default_factory=list)
    hits: int = 0
    gate: asyncio.Event | None = None  # when set, requests wait for it
    arrived: asyncio.Event = field(default_factory=asyncio.Event)


@pytest.fixture
async def webhook() -> AsyncIterator[Receiver]:
    receiver = Receiver()

    async def handle(request: web.Request) -> web.Response:
        receiver.hits += 1
        if receiver.gate is not None:
            await receiver.gate.wait()
        if receiver.statuses:
            return web.Response(status=receiver.statuses.pop(0), text="try later")
        receiver.received.append(json.loads(await request.text()))
        receiver.arrived.set()
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/hook", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    receiver.url = f"http://127.0.0.1:{port}/hook"
    yield receiver
    await runner.cleanup()


@dataclass
class Mailbox:
    port: int = 0
    messages: list[Envelope] = field(default_factory=list)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.messages.append(envelope)
        return "250 OK"


@pytest.fixture
async def smtp() -> AsyncIterator[Mailbox]:
    """aiosmtpd on the test's own event loop (apprise sends from a worker thread)."""
    box = Mailbox()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: SMTP(box, hostname="localhost"), "127.0.0.1", 0)
    box.port = server.sockets[0].getsockname()[1]
    yield box
    server.close()
    await server.wait_closed()
