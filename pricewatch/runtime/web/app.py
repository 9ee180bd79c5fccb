"""The daemon's HTTP server: /metrics (Prometheus), /healthz, /readyz, the web UI (overview
``/``, ``/products/{id}``, ``/alerts``), its JSON API under ``/api/`` and ``/offers.json``.

Read-only (GET and HEAD only); every page is server-rendered HTML with inline SVG charts that
works without JavaScript; templates autoescape; a Content-Security-Policy allows nothing but
this server's own script and style; optional HTTP basic auth (``server.auth``).
"""

from __future__ import annotations

import base64
import binascii
import csv
import hashlib
import hmac
import io
import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any
from urllib.parse import urlencode

from aiohttp import web
from jinja2 import Environment, PackageLoader, StrictUndefined
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from sqlalchemy.ext.asyncio import AsyncEngine

from pricewatch.config.schema import ServerAuthConfig
from pricewatch.db import history as h
from pricewatch.errors import StorageError
from pricewatch.runtime.web import api, views
from pricewatch.runtime.web.status import (
    OfferStatus,
    Readiness,
    ReloadError,
    Status,
    iso,
    status_json,
)

log = logging.getLogger(__name__)

# img-src: the product page shows the product's picture from its shop (http(s) only, no
# referrer); nothing else comes from elsewhere.
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: https: "
       "http:; "
       "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
SECURITY_HEADERS = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff",
                    "Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY"}
OPEN_PATHS = ("/healthz", "/readyz")  # container health checks carry no credentials
REFRESH_SECONDS = 60
_STATIC_TYPES = {".css": "text/css", ".js": "text/javascript"}
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True, slots=True)
class _Static:
    body: bytes
    content_type: str
    version: str


def _load_static() -> dict[str, _Static]:
    out = {}
    for entry in resources.files("pricewatch.runtime.web").joinpath("static").iterdir():
        suffix = "." + entry.name.rsplit(".", 1)[-1]
        if suffix in _STATIC_TYPES:
            body = entry.read_bytes()
            out[entry.name] = _Static(body, _STATIC_TYPES[suffix],
                                      hashlib.sha256(body).hexdigest()[:12])
    return out


def _environment(static: dict[str, _Static]) -> Environment:
    env = Environment(loader=PackageLoader("pricewatch.runtime.web", "templates"),
                      autoescape=True, undefined=StrictUndefined, trim_blocks=True,
                      lstrip_blocks=True)
    env.globals["static"] = lambda name: f"/static/{name}?v={static[name].version}"
    env.globals["iso"] = iso
    env.filters["money"] = lambda value, currency=None: (
        "-" if value is None else f"{value} {currency or ''}".strip())
    env.filters["change"] = _change
    return env


def _change(now: Any, before: Any) -> str:
    if now is None or before is None or before == 0:
        return ""
    diff = now - before
    if diff == 0:
        return "0"
    percent = diff / before * 100
    sign = "+" if diff > 0 else ""
    return f"{sign}{diff} ({sign}{percent:.1f} %)"


def make_app(
    registry: CollectorRegistry,
    readiness: Readiness,
    status: Status | None = None,
    *,
    engine: AsyncEngine | None = None,
    reload_error: ReloadError | None = None,
    auth: ServerAuthConfig | None = None,
) -> web.Application:
    """The server's application. Without ``engine`` the pages show only what ``status``
    knows (no history); ``reload_error`` returns the last rejected reload's message."""
    static = _load_static()
    env = _environment(static)
    ui = _UI(env, engine, status, reload_error)

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
        return web.json_response([status_json(row) for row in ui.live()])

    async def static_file(request: web.Request) -> web.Response:
        item = static.get(request.match_info["name"])
        if item is None:
            raise web.HTTPNotFound()
        return web.Response(body=item.body, content_type=item.content_type,
                            headers={"Cache-Control": "public, max-age=86400"})

    app = web.Application(middlewares=[_headers, _auth(auth)])
    routes = [("/", ui.overview), ("/products/{product_id}", ui.product),
              ("/products/{product_id}/chart", ui.chart_fragment),
              ("/products/{product_id}/history.csv", ui.csv),
              ("/alerts", ui.alerts), ("/static/{name}", static_file),
              ("/offers.json", offers_json), ("/metrics", metrics), ("/healthz", healthz),
              ("/readyz", readyz), ("/api/openapi.json", ui.openapi),
              ("/api/products", ui.api_products), ("/api/products/{product_id}", ui.api_product),
              ("/api/products/{product_id}/history", ui.api_product_history),
              ("/api/products/{product_id}/checks", ui.api_product_checks),
              ("/api/offers/{offer}/history", ui.api_offer_history),
              ("/api/alerts", ui.api_alerts)]
    for path, handler in routes:
        app.router.add_get(path, handler)  # GET and HEAD only: the UI is read-only
    return app


@web.middleware
async def _headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        exc.headers.update(SECURITY_HEADERS)
        raise
    response.headers.update(SECURITY_HEADERS)
    return response


def _auth(config: ServerAuthConfig | None) -> Any:
    @web.middleware
    async def check(request: web.Request, handler: Handler) -> web.StreamResponse:
        if config is None or request.path in OPEN_PATHS or (
                request.path == "/metrics" and not config.metrics):
            return await handler(request)
        if _authorized(request.headers.get("Authorization", ""), config):
            return await handler(request)
        raise web.HTTPUnauthorized(headers={"WWW-Authenticate": 'Basic realm="pricewatch"'},
                                   text="authentication required")
    return check


def _authorized(header: str, config: ServerAuthConfig) -> bool:
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return False
    try:
        user, sep, password = base64.b64decode(encoded, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return False
    # Both compared, always, in constant time: no timing hint which of the two was wrong.
    good_user = hmac.compare_digest(user.encode(), config.username.encode())
    good_pass = hmac.compare_digest(password.encode(),
                                    config.password.get_secret_value().encode())
    return bool(sep) and good_user and good_pass


class _UI:
    """The pages and API handlers over one database engine and the daemon's memory."""

    def __init__(self, env: Environment, engine: AsyncEngine | None, status: Status | None,
                 reload_error: ReloadError | None) -> None:
        self._env = env
        self._engine = engine
        self._status = status
        self._reload_error = reload_error
        self._extremes = views.ExtremesCache()

    def live(self) -> Sequence[OfferStatus]:
        return self._status() if self._status is not None else []

    def _render(self, name: str, status: int = 200, **context: Any) -> web.Response:
        context.setdefault("reload_error", self._reload_error() if self._reload_error else None)
        context.setdefault("db_error", None)
        context.setdefault("refresh", 0)
        body = self._env.get_template(name).render(**context)
        return web.Response(text=body, status=status, content_type="text/html")

    def _require_engine(self) -> AsyncEngine:
        if self._engine is None:
            raise StorageError("this server has no database")
        return self._engine

    # -- pages -----------------------------------------------------------------------------

    async def overview(self, request: web.Request) -> web.Response:
        f = _filters(request)
        now = views.utcnow()
        db_error = None
        try:
            async with h.reading(self._require_engine()) as conn:
                everything = await views.products(
                    conn, self.live(),
                    extremes=self._extremes if f.sort in ("low", "high") else None)
                page, total = views.select_page(everything, f)
                await views.add_details(conn, page, now)
        except StorageError as exc:
            db_error = str(exc)
            everything = views.from_status(self.live())
            page, total = views.select_page(everything, f)
        stores = sorted({o.store for p in everything for o in p.offers})
        return self._render(
            "overview.html", products=page, total=total, f=f, stores=stores,
            attention=views.attention(everything, now), db_error=db_error,
            offers=sum(len(p.offers) for p in everything), refresh=REFRESH_SECONDS,
            pages=max(1, -(-total // f.per)), sorts=views.SORTS, query=_query(f))

    async def _product(self, request: web.Request) -> views.ProductPage | None:
        range_name = request.query.get("range", views.DEFAULT_RANGE)
        if range_name not in views.RANGES:
            range_name = views.DEFAULT_RANGE
        async with h.reading(self._require_engine()) as conn:
            product = await views.product_offers(conn, request.match_info["product_id"],
                                                 self.live())
            if product is None:
                return None
            return await views.product_page(conn, product, range_name, views.utcnow())

    async def product(self, request: web.Request) -> web.Response:
        try:
            page = await self._product(request)
        except StorageError as exc:
            return self._render("error.html", status=503, db_error=str(exc),
                                message="The database cannot answer right now.")
        if page is None:
            return self._render("error.html", status=404, message="No such product.")
        return self._render("product.html", page=page, ranges=list(views.RANGES))

    async def chart_fragment(self, request: web.Request) -> web.Response:
        """The chart and range statistics alone, for the range buttons' script."""
        try:
            page = await self._product(request)
        except StorageError as exc:
            raise web.HTTPServiceUnavailable(text=str(exc)) from exc
        if page is None:
            raise web.HTTPNotFound()
        return self._render("chart.html", page=page, ranges=list(views.RANGES))

    async def alerts(self, _: web.Request) -> web.Response:
        try:
            async with h.reading(self._require_engine()) as conn:
                recent = await views.alerts(conn)
        except StorageError as exc:
            return self._render("alerts.html", alerts=[], db_error=str(exc))
        return self._render("alerts.html", alerts=recent)

    async def csv(self, request: web.Request) -> web.StreamResponse:
        """Every stored check of the product in the range, as the database has it."""
        pid = request.match_info["product_id"]
        range_name = request.query.get("range", "all")
        since = views.range_start(range_name if range_name in views.RANGES else "all",
                                  views.utcnow())
        try:
            async with h.reading(self._require_engine(), limit=600) as conn:
                offers = await h.product_offers(conn, pid)
                if not offers:
                    raise web.HTTPNotFound()
                stores = {o.id: o.store for o in offers}
                response = web.StreamResponse(headers={
                    "Content-Type": "text/csv; charset=utf-8",
                    "Content-Disposition": f'attachment; filename="{pid}-history.csv"'})
                response.headers.update(SECURITY_HEADERS)
                await response.prepare(request)
                buffer = io.StringIO()
                out = csv.writer(buffer, lineterminator="\n")
                out.writerow(["observed_at", "offer", "store", "outcome", "price", "currency",
                              "in_stock", "http_status", "extractor", "error", "evidence"])
                async for oid, c in h.raw_checks(conn, list(stores), since, None):
                    out.writerow([iso(c.observed_at), c.offer_key, stores[oid], c.outcome.value,
                                  "" if c.price is None else str(c.price), c.currency or "",
                                  "" if c.in_stock is None else str(c.in_stock).lower(),
                                  c.http_status or "", c.extractor or "", c.error or "",
                                  c.evidence or ""])
                    if buffer.tell() > 64_000:
                        await response.write(buffer.getvalue().encode())
                        buffer.seek(0)
                        buffer.truncate()
                await response.write(buffer.getvalue().encode())
                await response.write_eof()
                return response
        except StorageError as exc:
            raise web.HTTPServiceUnavailable(text=str(exc)) from exc

    # -- API -------------------------------------------------------------------------------

    async def openapi(self, _: web.Request) -> web.Response:
        return web.json_response(api.openapi())

    async def _api(self, work: Callable[[Any], Awaitable[Any]]) -> web.Response:
        try:
            async with h.reading(self._require_engine()) as conn:
                result = await work(conn)
        except StorageError as exc:
            return web.json_response({"error": f"database unreachable: {exc}"}, status=503)
        if result is None:
            return web.json_response({"error": "not found"}, status=404)
        return web.json_response(result, dumps=lambda v: json.dumps(v, ensure_ascii=False))

    async def api_products(self, request: web.Request) -> web.Response:
        f = views.Filters(q=request.query.get("q", ""), per=10**9)

        async def work(conn: Any) -> Any:
            everything = await views.products(conn, self.live(), extremes=self._extremes)
            page, _ = views.select_page(everything, f)
            return {"products": [api.product_json(p) for p in page]}
        return await self._api(work)

    async def api_product(self, request: web.Request) -> web.Response:
        pid = request.match_info["product_id"]

        async def work(conn: Any) -> Any:
            product = await views.product_offers(conn, pid, self.live())
            return None if product is None else api.product_json(product)
        return await self._api(work)

    async def api_product_checks(self, request: web.Request) -> web.Response:
        pid = request.match_info["product_id"]
        limit = api.limit(request, default=50, high=500)

        async def work(conn: Any) -> Any:
            offers = await h.product_offers(conn, pid)
            if not offers:
                return None
            keys = {o.id: o.key for o in offers}
            stores = {o.id: o.store for o in offers}
            found = await h.recent_checks(conn, list(keys), keys, limit=limit)
            return {"checks": [api.check_json(c, stores[oid]) for oid, c in found[:limit]]}
        return await self._api(work)

    async def _history(self, request: web.Request, find: Callable[[Any], Awaitable[Any]]
                       ) -> web.Response:
        since, until = api.moment(request, "since"), api.moment(request, "until")
        points = api.max_points(request)

        async def work(conn: Any) -> Any:
            offers: list[h.OfferStats] | None = await find(conn)
            if not offers:
                return None
            by_id = {o.id: o for o in offers}
            series = await h.downsampled(conn, list(by_id), since, until, max_points=points)
            return {"series": [api.series_json(s, by_id[s.offer_id].store,
                                               by_id[s.offer_id].key) for s in series]}
        return await self._api(work)

    async def api_product_history(self, request: web.Request) -> web.Response:
        pid = request.match_info["product_id"]
        return await self._history(request, lambda conn: h.product_offers(conn, pid))

    async def api_offer_history(self, request: web.Request) -> web.Response:
        key = request.match_info["offer"]
        pid = key.rsplit("@", 1)[0]

        async def find(conn: Any) -> list[h.OfferStats]:
            return [o for o in await h.product_offers(conn, pid) if o.key == key]
        return await self._history(request, find)

    async def api_alerts(self, request: web.Request) -> web.Response:
        limit = api.limit(request, default=100, high=1000)

        async def work(conn: Any) -> Any:
            return {"alerts": [api.alert_json(a) for a in await views.alerts(conn, limit)]}
        return await self._api(work)


def _filters(request: web.Request) -> views.Filters:
    q = request.query

    def number(name: str, default: int, high: int) -> int:
        raw = q.get(name, "")
        return min(max(int(raw), 1), high) if raw.isdigit() else default

    sort = q.get("sort", "name")
    return views.Filters(q=q.get("q", "").strip()[:200], store=q.get("store", ""),
                         stock=q.get("stock", ""), outcome=q.get("outcome", ""),
                         sort=sort if sort in views.SORTS else "name",
                         desc=q.get("dir") == "desc", page=number("page", 1, 10**6),
                         per=number("per", 50, 500))


def _query(f: views.Filters) -> Callable[..., str]:
    """Builds overview links that keep the current filters, changing only some."""
    def build(**changes: Any) -> str:
        params: dict[str, Any] = {"q": f.q, "store": f.store, "stock": f.stock,
                                  "outcome": f.outcome, "sort": f.sort,
                                  "dir": "desc" if f.desc else "", "page": f.page,
                                  "per": f.per if f.per != 50 else ""}
        params.update(changes)
        kept = {k: v for k, v in params.items()
                if v not in ("", None) and not (k == "page" and v == 1)}
        return "?" + urlencode(kept)
    return build
