"""Why this price: the extractor's evidence goes from a real page through the pipeline and
the database to the product page (escaped), the JSON API and the CSV, each distinct text
stored once and bounded."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import aiohttp
from aiohttp import web
from markupsafe import escape
from prometheus_client import CollectorRegistry
from sqlalchemy import func, select

from pricewatch.config import loads
from pricewatch.db import migrate
from pricewatch.db.engine import create_engine
from pricewatch.db.evidence import bounded
from pricewatch.db.repository import PendingCheck, insert_checks, sync_catalog
from pricewatch.db.tables import EVIDENCE_LIMIT, checks, evidence
from pricewatch.fetch import Fetcher
from pricewatch.models import Check, Outcome
from pricewatch.runtime.pipeline import check_offer
from pricewatch.runtime.web import make_app, serve
from tests.conftest import ServeFn

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "pages"
PRICED = ('<html><head><title>Kettle</title><script type="application/ld+json">'
          '{"@context": "https://schema.org", "@type": "Product", "name": "Kettle <b>x</b>", '
          '"offers": {"@type": "Offer", "price": "19.99", "priceCurrency": "EUR"}}</script>'
          '</head><body><h1>Kettle</h1><span class="price">19,99 €</span></body></html>')
AMBIGUOUS = (FIXTURES / "ambiguous.html").read_text()


async def test_evidence_is_stored_and_shown(serve: ServeFn, tmp_path: Path) -> None:
    """An ok check keeps what the extractor said, an ambiguous page its candidates, a failed
    fetch none; the same text twice is one evidence row; the product page shows it escaped,
    the checks API and the CSV as it is."""
    async def priced(_: web.Request) -> web.Response:
        return web.Response(text=PRICED, content_type="text/html")

    async def ambiguous(_: web.Request) -> web.Response:
        return web.Response(text=AMBIGUOUS, content_type="text/html")

    async def gone(_: web.Request) -> web.Response:
        return web.Response(status=404, text="gone")

    base = await serve({"/priced": priced, "/ambiguous": ambiguous, "/gone": gone})
    settings = loads(f"http: {{obey_robots: false}}\nproducts:\n  - id: kettle\n"
                     f"    name: Kettle\n    offers:\n      - url: {base}/priced\n"
                     f"      - {{url: '{base}/ambiguous', store: other}}\n"
                     f"      - {{url: '{base}/gone', store: third}}\n")
    offers = settings.offers()
    async with Fetcher(settings.model.http) as fetcher:
        found = [(await check_offer(o, fetcher)).check for o in [*offers, offers[0]]]
    ok, unclear, failed, _again = found
    assert ok.outcome is Outcome.OK
    assert ok.evidence
    assert "19.99" in ok.evidence
    assert unclear.outcome is Outcome.NO_PRICE
    assert unclear.evidence
    assert unclear.evidence.startswith("candidates:")
    assert failed.outcome is Outcome.HTTP_ERROR
    assert failed.evidence is None
    engine = create_engine(f"sqlite:///{tmp_path}/e.db")
    await migrate.upgrade(engine)
    async with engine.begin() as conn:
        ids = await sync_catalog(conn, offers, datetime.now(UTC))
        await insert_checks(conn, [PendingCheck(ids[c.offer_key], c) for c in found])
    async with engine.connect() as conn:
        texts = (await conn.execute(select(func.count()).select_from(evidence))).scalar_one()
        nulls = (await conn.execute(select(func.count()).select_from(checks)
                                    .where(checks.c.evidence_id.is_(None)))).scalar_one()
    assert (texts, nulls) == (2, 1)

    runner, port = await serve_ui(engine)
    try:
        async with aiohttp.ClientSession() as s:
            async with s.get(f"http://127.0.0.1:{port}/products/kettle") as r:
                page = await r.text()
            async with s.get(f"http://127.0.0.1:{port}/api/products/kettle/checks") as r:
                listed = (await r.json())["checks"]
            async with s.get(f"http://127.0.0.1:{port}/products/kettle/history.csv") as r:
                csv_text = await r.text()
    finally:
        await runner.cleanup()
        await engine.dispose()
    by_store = {c["store"]: c for c in listed}
    assert by_store[ok.offer_key.rsplit("@", 1)[1]]["evidence"] == ok.evidence
    assert by_store["other"]["evidence"] == bounded(unclear.evidence)
    assert by_store["third"]["evidence"] is None
    assert by_store["third"]["http_status"] == 404
    assert str(escape(bounded(unclear.evidence))) in page
    assert "<span 'price'>" not in page
    assert ok.evidence in csv_text
    assert str(bounded(unclear.evidence)) in csv_text


async def serve_ui(engine: object) -> tuple[web.AppRunner, int]:
    async def ready() -> tuple[bool, dict[str, str]]:
        return True, {}

    return await serve(make_app(CollectorRegistry(), ready, engine=engine),  # type: ignore[arg-type]
                       "127.0.0.1", 0)


async def test_evidence_is_bounded(tmp_path: Path) -> None:
    """A long evidence text is stored cut to its bound, with an ellipsis, and read back so."""
    offer = loads("products:\n  - id: p\n    name: P\n    offers:\n"
                  "      - url: http://a.example/p\n").offers()[0]
    engine = create_engine(f"sqlite:///{tmp_path}/b.db")
    await migrate.upgrade(engine)
    now = datetime.now(UTC)
    async with engine.begin() as conn:
        ids = await sync_catalog(conn, [offer], now)
        await insert_checks(conn, [PendingCheck(ids[offer.key], Check(
            offer.key, now, Outcome.NO_PRICE, error="ambiguous", evidence="x  " * 500))])
    async with engine.connect() as conn:
        (text,) = (await conn.execute(select(evidence.c.text))).one()
    await engine.dispose()
    assert len(text) == EVIDENCE_LIMIT
    assert text.endswith("…")
    assert "  " not in text
