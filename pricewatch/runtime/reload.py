"""Config reload, all or nothing, for the daemon and for a cluster replica.

SIGHUP, or a change of the file (polled), re-reads it. A file that fails validation, or has no
`products:` while offers run (an editor's truncated write), is rejected: logged with its
file:line, counted, and kept for the web UI's banner until a reload applies; the running config
stays. A valid one goes to the owner's ``apply``, which may reject it too by raising a
``PricewatchError`` before it changed anything.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path

from pricewatch.config import Settings, load
from pricewatch.errors import ConfigError, PricewatchError, StorageError
from pricewatch.models import Offer
from pricewatch.runtime.metrics import Metrics
from pricewatch.runtime.recorder import require_browser

log = logging.getLogger(__name__)

CONFIG_POLL = 2.0

Apply = Callable[[Settings], Awaitable[None]]


class Reloader:
    """``reload()`` applies the file through ``target()`` (None: not running, nothing to
    apply to); ``watch()`` reloads whenever the file changes, until cancelled."""

    def __init__(self, source: Path | None, metrics: Metrics, *,
                 target: Callable[[], Apply | None],
                 offers: Callable[[], Mapping[str, Offer]]) -> None:
        self.source = source
        self.metrics = metrics
        self.last_error: str | None = None  # the web UI shows it until a reload works
        self.last_error_at: datetime | None = None
        self._target = target
        self._offers = offers
        self._stamp = self._read_stamp()
        self._lock = asyncio.Lock()

    def _read_stamp(self) -> tuple[float, int] | None:
        if self.source is None:
            return None
        try:
            st = Path(self.source).stat()
        except OSError:
            return None
        return st.st_mtime, st.st_size

    async def watch(self) -> None:
        """Reload when the file changes; survives anything a reload can raise."""
        while True:
            await asyncio.sleep(CONFIG_POLL)
            stamp = self._read_stamp()
            if stamp is not None and stamp != self._stamp:
                log.info("config file changed: reloading")
                try:
                    await self.reload()
                except Exception:
                    log.exception("config reload failed unexpectedly; still running the "
                                  "previous config")

    async def reload(self) -> bool:
        """Re-read the config; apply it if valid. Returns whether it was applied."""
        async with self._lock:
            self._stamp = self._read_stamp()
            source = self.source
            apply = self._target()
            if source is None or apply is None:
                return False
            try:
                new = load(source)
                self._require_products(new, source)
                require_browser(new)
            except ConfigError as exc:
                return self._rejected("config reload rejected; still running the previous "
                                      f"config:\n{exc}", str(exc))
            try:
                await apply(new)
            except PricewatchError as exc:
                what = "database" if isinstance(exc, StorageError) else "alerts"
                return self._rejected(f"config reload failed ({what}); still running the "
                                      f"previous config: {exc}", str(exc))
            self.last_error = None
            self.last_error_at = None
            self.metrics.reload_success.set(time.time())
            return True

    def _require_products(self, new: Settings, source: Path) -> None:
        # An editor that truncates before writing, or a half-written file, must not unschedule
        # every offer; a config that means "no products" says `products: []`.
        running = len(self._offers())
        if new.products_line is None and running:
            raise ConfigError("no `products:` in the file (empty or truncated?); "
                              f"{running} offers would be dropped. Write "
                              "`products: []` to run with none", file=str(source), line=1)

    def problem(self) -> str | None:
        """The web UI's banner: the last rejected reload's message and when, None once one
        applies."""
        if self.last_error is None:
            return None
        at = self.last_error_at
        when = "" if at is None else f" (rejected {at:%Y-%m-%d %H:%M:%S} UTC)"
        return f"{self.last_error}{when}"

    def _rejected(self, message: str, short: str) -> bool:
        self.metrics.reload_failures.inc()
        self.last_error = short
        self.last_error_at = datetime.now(UTC)
        log.error("%s", message)
        return False


def warn_restart_only(old: Settings, new: Settings, sections: tuple[str, ...]) -> None:
    """Log the changed sections a reload does not apply."""
    for name in sections:
        if getattr(old.model, name) != getattr(new.model, name):
            log.warning("changed `%s` settings take effect at the next restart", name)
    if old.model.http != new.model.http:
        log.warning("changed `http` settings apply to requests now; the global limits "
                    "(concurrency, max_bytes, retries) at the next restart")
