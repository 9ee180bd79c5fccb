"""The daemon's HTTP endpoints: /metrics (Prometheus), /healthz (alive), /readyz (useful), and
a status page at / (every offer's last price and check) with the same data at /offers.json."""

from __future__ import annotations

import html
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from pricewatch.errors import ServeError

# Returns (ready, {component: "ok" | reason}).
Readiness = Callable[[], Awaitable[tuple[bool, dict[str, str]]]]


@dataclass(frozen=True, slots=True)
class OfferStatus:
    """One line of the status page."""

    key: str
    product: str
    store: str
    url: str
    price: str | None  # the last price found, as an exact decimal string
    currency: str | None
    in_stock: bool | None
    priced_at: datetime | None  # when that price was seen
    checked_at: datetime | None  # the last check, whatever its outcome
    outcome: str | None
    error: str | None
    next_check: datetime | None


Status = Callable[[], Sequence[OfferStatus]]


def make_app(
    registry: CollectorRegistry, readiness: Readiness, status: Status | None = None
) -> web.Application:
    async def metrics(_: web.Request) -> web.Response:
        body = generate_latest(registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def healthz(_: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def readyz(_: web.Request) -> web.Response:
        try:
            ready, parts = await readiness()
        except Exception as exc:  # a health endpoint reports a failure, it never is one (500)
            ready, parts = False, {"error": f"{type(exc).__name__}: {exc}"[:300]}
        return web.json_response({"ready": ready, **parts}, status=200 if ready else 503)

    async def offers_json(_: web.Request) -> web.Response:
        rows = status() if status is not None else []
        return web.json_response([_as_json(row) for row in rows])

    async def index(_: web.Request) -> web.Response:
        rows = status() if status is not None else []
        return web.Response(text=render_status(rows), content_type="text/html")

    app = web.Application()
    app.router.add_get("/", index)
    app.router.add_get("/offers.json", offers_json)
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    return app


async def serve(app: web.Application, host: str, port: int) -> tuple[web.AppRunner, int]:
    """Start serving; returns the runner (for cleanup) and the bound port."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        raise ServeError(f"cannot listen on {host}:{port}: {exc.strerror or exc} (is another "
                         "pricewatch, or another program, using the port? see server.port)"
                         ) from exc
    bound = runner.addresses[0][1] if runner.addresses else port
    return runner, int(bound)


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat(timespec="seconds")


def _as_json(row: OfferStatus) -> dict[str, object]:
    return {"offer": row.key, "product": row.product, "store": row.store, "url": row.url,
            "price": row.price, "currency": row.currency, "in_stock": row.in_stock,
            "priced_at": _iso(row.priced_at), "checked_at": _iso(row.checked_at),
            "outcome": row.outcome, "error": row.error, "next_check": _iso(row.next_check)}


def render_status(rows: Sequence[OfferStatus]) -> str:
    """A plain, dependency-free HTML table; every value is escaped."""
    def cell(value: object) -> str:
        return f"<td>{html.escape('-' if value is None else str(value))}</td>"

    def when(moment: datetime | None) -> str:
        return "-" if moment is None else moment.strftime("%Y-%m-%d %H:%M:%S UTC")

    lines = []
    for row in sorted(rows, key=lambda r: (r.product, r.store)):
        stock = {True: "in stock", False: "out of stock", None: "-"}[row.in_stock]
        state = "ok" if row.outcome == "ok" else "failed"
        price = f"{row.price} {row.currency or ''}" if row.price else None
        lines.append(
            f'<tr class="{state}">{cell(row.product)}'
            f'<td><a href="{html.escape(row.url, quote=True)}">{html.escape(row.store)}</a></td>'
            f"{cell(price)}{cell(stock)}{cell(when(row.priced_at))}{cell(row.outcome)}"
            f"{cell(when(row.checked_at))}{cell(row.error)}{cell(when(row.next_check))}</tr>"
        )
    body = "\n".join(lines) or '<tr><td colspan="9">no offers configured</td></tr>'
    return (
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>pricewatch</title>"
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
        "td,th{padding:.3em .8em;border-bottom:1px solid #ddd;text-align:left}"
        "tr.failed td{color:#a33}</style></head><body>"
        f"<h1>pricewatch</h1><p>{len(rows)} offers. Also: <a href=\"/metrics\">/metrics</a>, "
        "<a href=\"/offers.json\">/offers.json</a>, <a href=\"/readyz\">/readyz</a>.</p>"
        "<table><tr><th>product</th><th>store</th><th>price</th><th>stock</th>"
        "<th>price seen</th><th>last outcome</th><th>last check</th><th>error</th>"
        f"<th>next check</th></tr>\n{body}</table></body></html>"
    )
