"""Feeding stored checks to the alert judge, in order, from the daemon's writer.

The rules read an offer's history from the database, so a check is judged only once it (and
every check before it) has been written: the writer calls ``stored(batch)`` after each flush.
A database outage delays judging; it never drops or reorders checks.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence

from pricewatch.alerts.message import Alert
from pricewatch.alerts.service import AlertService
from pricewatch.db.repository import PendingCheck
from pricewatch.errors import StorageError
from pricewatch.models import Check, Offer

log = logging.getLogger(__name__)

BATCH = 500


class AlertFeed:
    """``stored()`` from the writer, ``run()`` as a task, ``finish()`` after the last flush."""

    def __init__(self, alerts: AlertService, offer_of: Callable[[str], Offer | None], *,
                 raised: list[Alert] | None = None) -> None:
        self._alerts = alerts
        self._raised = raised  # alerts raised are appended here (``once`` prints them)
        self._offer_of = offer_of  # the current config's offer for a key (None: removed)
        self._pending: list[tuple[Offer, Check]] = []
        self._wake = asyncio.Event()
        self._finished = False

    @property
    def pending(self) -> int:
        return len(self._pending)

    def stored(self, batch: Sequence[PendingCheck]) -> None:
        for item in batch:
            offer = self._offer_of(item.check.offer_key)
            if offer is not None:
                self._pending.append((offer, item.check))
        self._wake.set()

    def finish(self) -> None:
        """No more checks will come: judge what is left, then let ``run()`` return."""
        self._finished = True
        self._wake.set()

    async def run(self) -> None:
        delay = 1.0
        while True:
            if not self._pending:
                if self._finished:
                    return
                await self._wake.wait()
                self._wake.clear()
                continue
            items = self._pending[:BATCH]
            try:
                alerts = await self._alerts.process_many(items)
            except StorageError as exc:
                if self._finished:
                    log.error("alerts for %d checks not judged: database unavailable at "
                              "shutdown (%s)", len(self._pending), exc)
                    return
                log.warning("cannot judge alerts yet (%s); retrying in %.0fs", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)
                continue
            except Exception:
                # Not the database: a bug on these checks would fail the same way forever, and
                # hold up every later alert. Skip them, loudly.
                log.exception("alerts for %d checks not judged (an error in pricewatch)",
                              len(items))
            delay = 1.0
            del self._pending[:len(items)]
            if self._raised is not None:
                self._raised.extend(alerts)
