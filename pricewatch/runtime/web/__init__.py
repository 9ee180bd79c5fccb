"""The daemon's HTTP server: metrics, health, the web UI and its JSON API."""

from __future__ import annotations

from aiohttp import web

from pricewatch.errors import ServeError
from pricewatch.runtime.web.app import make_app
from pricewatch.runtime.web.status import (
    OfferStatus,
    Readiness,
    ReloadError,
    Status,
    offer_status,
)

__all__ = [
    "OfferStatus", "Readiness", "ReloadError", "Status", "make_app", "offer_status", "serve",
]


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
