"""The dispatcher: delivers stored alerts through every channel, in the background.

The ``alerts`` table is the queue: the judge stores alerts and calls ``wake()``; a background
task picks up every alert that is due (not held by quiet hours) and that some channel has not
finished with, and delivers it with retries and exponential backoff. Every attempt is a row in
``notifications`` ("sent", "retry" or "failed") and a count in
``pricewatch_notifications_total{channel,status}``. Alerts held by quiet hours go out as one
digest per channel when the quiet period ends. Whatever is still undelivered at shutdown stays
in the table and goes out after the next start.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Protocol

from prometheus_client import CollectorRegistry, Counter
from sqlalchemy.ext.asyncio import AsyncEngine

from pricewatch.alerts.channels import Channel, build
from pricewatch.alerts.message import Message, digest, single
from pricewatch.config import NotifyRetryConfig, Settings
from pricewatch.db import alerts as alert_rows
from pricewatch.db.errors import first_line, mapped
from pricewatch.errors import NotifyError, StorageError

log = logging.getLogger(__name__)

MAX_BACKOFF = 30.0


class Claim(Protocol):
    """Whether this process is the one that delivers (cluster mode: ``db.lock.SoleLock``)."""

    async def held(self) -> bool: ...

    async def close(self) -> None: ...


class Dispatcher:
    """``start()``, ``wake()`` when alerts were stored, ``await close()`` at shutdown."""

    def __init__(
        self,
        engine: AsyncEngine,
        channels: Sequence[Channel],
        *,
        retry: NotifyRetryConfig | None = None,
        registry: CollectorRegistry | None = None,
        poll_interval: float = 30.0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        claim: Claim | None = None,
    ) -> None:
        self._engine = engine
        self._claim = claim  # None: this process is the only one
        self._channels = list(channels)
        self._retry = retry or NotifyRetryConfig()
        self._poll = poll_interval  # also how late a digest may be after quiet hours end
        self._clock = clock
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._inflight: dict[asyncio.Task[None], tuple[int, ...]] = {}
        self._counter = Counter(
            "pricewatch_notifications", "Notification delivery attempts, by channel and status "
            "(sent, retry: failed and will be retried, failed: given up)",
            ["channel", "status"], registry=registry or CollectorRegistry())

    @classmethod
    def from_settings(cls, settings: Settings, engine: AsyncEngine, *,
                      registry: CollectorRegistry | None = None, claim: Claim | None = None,
                      poll_interval: float = 30.0) -> Dispatcher:
        config = settings.model.alerts
        return cls(engine, build(config), retry=config.retry, registry=registry, claim=claim,
                   poll_interval=poll_interval)

    def reconfigure(self, settings: Settings) -> None:
        """Apply a reloaded config's channels and retry policy (a bad URL raises first)."""
        config = settings.model.alerts
        channels = build(config)
        self._channels = list(channels)
        self._retry = config.retry

    @property
    def channels(self) -> list[str]:
        return [c.name for c in self._channels]

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="alert-dispatcher")

    def wake(self) -> None:
        self._wake.set()

    async def _run(self) -> None:
        """Deliver what is due whenever woken or polled. Outlives any error: a database outage
        (or a bug) is logged once, retried with backoff, and delivery resumes after it."""
        wait = self._poll
        failing: str | None = None
        while not self._closing:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait):
                    await self._wake.wait()
            if self._closing:
                return
            self._wake.clear()
            try:
                await self.dispatch_due()
            except Exception as exc:
                wait = min(MAX_BACKOFF, self._poll, 1.0 if failing is None else wait * 2)
                message = f"{type(exc).__name__}: {first_line(exc)}"
                if message != failing:
                    if isinstance(exc, StorageError):
                        log.warning("cannot read pending alerts, will try again: %s", exc)
                    else:
                        log.exception("alert dispatch failed, will try again")
                failing = message
                continue
            if failing is not None:
                log.info("alert dispatch resumed")
            failing, wait = None, self._poll

    async def dispatch_due(self) -> int:
        """Start delivering every due alert not already in flight; returns how many (none
        while another replica holds the claim)."""
        if self._claim is not None and not await self._claim.held():
            return 0
        busy = {i for ids in self._inflight.values() for i in ids}
        with mapped("cannot read pending alerts"):
            async with self._engine.begin() as conn:
                due = await alert_rows.due_alerts(conn, self._clock(), skip=busy)
                names = {c.name for c in self._channels}
                finished = [p.id for p in due if names <= p.finished]
                await alert_rows.mark_done(conn, finished)
        due = [p for p in due if p.id not in finished]
        for channel in self._channels:
            todo = [p for p in due if channel.name not in p.finished]
            held = [p for p in todo if p.held]
            messages = [single(p.id, p.title, p.body, p.payload) for p in todo if not p.held]
            if held:
                messages.append(digest([(p.id, p.title, p.body, p.payload) for p in held]))
            for message in messages:
                tried = max(next(p for p in todo if p.id == i).attempts.get(channel.name, 0)
                            for i in message.alert_ids)
                task = asyncio.create_task(self._deliver(channel, message, tried))
                self._inflight[task] = message.alert_ids
                task.add_done_callback(self._finished)
        return len(due)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._inflight.pop(task, None)
        if not task.cancelled() and task.exception() is not None:
            log.error("alert delivery crashed", exc_info=task.exception())
        else:
            self._wake.set()  # mark alerts done whose channels have all finished

    async def _deliver(self, channel: Channel, message: Message, tried: int) -> None:
        attempt = tried
        while True:
            attempt += 1
            try:
                await channel.send(message)
            except NotifyError as exc:
                final = not exc.temporary or attempt >= self._retry.attempts
                status = "failed" if final else "retry"
                await self._log(channel.name, message, attempt, status, str(exc))
                if final:
                    log.error("alert %s not delivered to %s after %d attempts: %s",
                              ",".join(map(str, message.alert_ids)), channel.name, attempt, exc)
                    return
                await asyncio.sleep(min(self._retry.backoff_max,
                                        self._retry.backoff_base * 2 ** (attempt - tried - 1)))
            else:
                await self._log(channel.name, message, attempt, "sent", None)
                return

    async def _log(self, channel: str, message: Message, attempt: int, status: str,
                   error: str | None) -> None:
        self._counter.labels(channel, status).inc(len(message.alert_ids))
        delay = 0.5
        while True:  # the attempt happened; losing its record would hide a failure
            try:
                with mapped("cannot record a delivery attempt"):
                    async with self._engine.begin() as conn:
                        await alert_rows.log_attempt(conn, message.alert_ids, channel=channel,
                                                     attempt=attempt, status=status,
                                                     error=error, digest=message.digest,
                                                     now=self._clock())
                return
            except Exception as exc:
                if delay == 0.5:  # once per outage
                    log.warning("%s; retrying", exc if isinstance(exc, StorageError)
                                else f"{type(exc).__name__}: {first_line(exc)}")
                await asyncio.sleep(delay)
                delay = min(delay * 2, MAX_BACKOFF)

    async def close(self, *, grace: float = 30.0, drain: bool = True) -> None:
        """Stop; with ``drain``, first deliver what is due, waiting at most ``grace`` seconds.
        Undelivered alerts stay stored and are sent after the next start."""
        if self._task is not None:
            # A flag, not task.cancel(): on Python 3.11 wait_for() can swallow a cancellation
            # that races with the event it waits on, and the loop would never end.
            self._closing = True
            self._wake.set()
            await self._task
            self._task = None
        deadline = time.monotonic() + grace
        try:
            while drain and time.monotonic() < deadline:
                if not self._inflight and await self.dispatch_due() == 0:
                    break
                if self._inflight:
                    await asyncio.wait(list(self._inflight),
                                       timeout=max(0.0, deadline - time.monotonic()))
        except Exception as exc:  # shutdown goes on: undelivered alerts stay stored
            log.error("cannot deliver pending alerts at shutdown: %s", first_line(exc))
        left = list(self._inflight)
        for task in left:
            task.cancel()
        if left:
            await asyncio.gather(*left, return_exceptions=True)
            log.warning("shutdown: %d deliveries unfinished; they are sent after the next "
                        "start", len(left))
        for channel in self._channels:
            await channel.close()
        if self._claim is not None:
            await self._claim.close()
