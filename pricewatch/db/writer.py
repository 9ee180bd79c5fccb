"""The one batching writer: checks go to the database in batches, never a commit per row.

If the database is unreachable (a Postgres restart, a connection gone silent), rows stay
buffered in memory, up to a bound, and are written when it returns; only beyond the bound are
the oldest rows dropped, and that is counted, never silent.

A batch the database refuses for good (a value out of a column's range) is split in halves
until the rows that cause it are found: each is stored as an ``error`` check saying why its
result could not be stored, and every other row is written. One bad row never blocks a batch.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine

from pricewatch.db.errors import first_line, mapped
from pricewatch.db.repository import PendingCheck, insert_checks
from pricewatch.errors import StorageError, StorageUnavailable
from pricewatch.models import Check, Outcome

log = logging.getLogger(__name__)

MAX_BACKOFF = 30.0


@dataclass(frozen=True, slots=True)
class _Queued:
    at: float  # monotonic time it was added
    pending: PendingCheck


def unstorable(pending: PendingCheck, reason: str) -> PendingCheck:
    """The failed check that stands for a row the database would not take."""
    check = pending.check
    return PendingCheck(pending.offer_id, Check(
        check.offer_key, check.observed_at, Outcome.ERROR, http_status=check.http_status,
        duration_ms=check.duration_ms, attempts=check.attempts,
        error=f"{getattr(check.outcome, 'value', check.outcome)} result could not be stored: "
              f"{reason}"[:1000]), slot=pending.slot)


class CheckWriter:
    """Buffers checks and writes them in batches, retrying while the database is away."""

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        batch_size: int = 1000,
        flush_interval: float = 1.0,
        max_buffer: int = 100_000,
        write_timeout: float = 120.0,
        on_write: Callable[[int, float], None] | None = None,
        on_flushed: Callable[[Sequence[PendingCheck]], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._engine = engine
        self._batch_size = batch_size
        self._flush_interval = flush_interval
        self._buffer: deque[_Queued] = deque()
        self._max_buffer = max_buffer
        # A last bound over one transaction, should a driver's own timeouts not fire.
        self._write_timeout = write_timeout
        self._on_write = on_write
        self._on_flushed = on_flushed  # told of each batch once it is durably stored
        self._clock = clock
        self._closing = False
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self.written = 0
        self.dropped = 0
        self.available = True
        self.last_error: str | None = None

    @property
    def pending(self) -> int:
        return len(self._buffer)

    def oldest_pending_age(self) -> float:
        """Seconds the oldest unwritten row has waited (0 when nothing waits)."""
        if not self._buffer:
            return 0.0
        return max(0.0, self._clock() - self._buffer[0].at)

    def add(self, pending: PendingCheck) -> None:
        """Queue one check; never blocks and never raises."""
        if len(self._buffer) >= self._max_buffer:
            self._buffer.popleft()
            self.dropped += 1
            log.error("write buffer full (%d rows): dropped the oldest check", self._max_buffer)
        self._buffer.append(_Queued(self._clock(), pending))
        if len(self._buffer) >= self._batch_size:
            self._wake.set()

    async def flush(self) -> int:
        """Write everything buffered now; raises StorageUnavailable (rows stay buffered) when
        the database cannot be reached."""
        written = 0
        async with self._lock:
            while self._buffer:
                batch = [self._buffer[i].pending
                         for i in range(min(self._batch_size, len(self._buffer)))]
                started = time.perf_counter()
                stored: list[PendingCheck] = []
                try:
                    await self._write_splitting(batch, stored)
                except StorageUnavailable as exc:
                    self.available = False
                    self.last_error = str(exc)
                    raise
                finally:
                    # Sub-batches are written in order: what was stored is a prefix.
                    for _ in stored:
                        self._buffer.popleft()
                    self._stored(stored, started)
                written += len(stored)
                self.available = True
                self.last_error = None
        return written

    def _stored(self, stored: list[PendingCheck], started: float) -> None:
        if not stored:
            return
        self.written += len(stored)
        if self._on_write is not None:
            self._on_write(len(stored), time.perf_counter() - started)
        if self._on_flushed is not None:
            self._on_flushed(stored)

    async def _write(self, rows: Sequence[PendingCheck]) -> None:
        with mapped("cannot write checks"):
            async with asyncio.timeout(self._write_timeout), self._engine.begin() as conn:
                await insert_checks(conn, rows)

    async def _write_splitting(self, rows: list[PendingCheck], stored: list[PendingCheck]
                               ) -> None:
        """Write ``rows``; on a permanent error, bisect to the bad rows (``stored`` collects
        what was written, in order). StorageUnavailable stops it, leaving the rest."""
        try:
            await self._write(rows)
        except StorageUnavailable:
            raise
        except Exception as exc:  # refused by the database, or a row no code path can write
            if len(rows) > 1:
                middle = len(rows) // 2
                await self._write_splitting(rows[:middle], stored)
                await self._write_splitting(rows[middle:], stored)
                return
            stored.append(await self._store_failed(rows[0], exc))
            return
        stored.extend(rows)

    async def _store_failed(self, row: PendingCheck, exc: Exception) -> PendingCheck:
        reason = str(exc).removeprefix("cannot write checks: ") if isinstance(
            exc, StorageError) else f"{type(exc).__name__}: {first_line(exc)}"
        log.error("check of %s could not be stored (%s); stored as a failed check",
                  row.check.offer_key, reason)
        replacement = unstorable(row, reason)
        try:
            await self._write([replacement])
        except StorageUnavailable:
            raise
        except Exception as again:
            # Not even the failed check fits (its offer is gone): drop it, counted.
            self.dropped += 1
            log.error("lost a check of %s: %s", row.check.offer_key, again)
        return replacement

    def start(self) -> None:
        """Flush in the background every ``flush_interval`` or when a batch is full."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="check-writer")

    async def _run(self) -> None:
        backoff = self._flush_interval
        while not self._closing:
            # close() stops this loop with a flag, and the wait uses asyncio.timeout rather
            # than wait_for: on Python 3.11 wait_for can swallow a cancellation that races
            # with the event being set, and the loop would never end.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(backoff):
                    await self._wake.wait()
            if self._closing:
                break
            self._wake.clear()
            failing = self.last_error
            try:
                await self.flush()
                backoff = self._flush_interval
                if failing is not None:
                    log.info("database writes resumed")
            except StorageUnavailable as exc:
                backoff = min(backoff * 2, MAX_BACKOFF)
                if failing is None:  # once per outage, not once per retry
                    log.warning("database unavailable, %d checks buffered: %s",
                                self.pending, exc)
            except Exception as exc:  # the writer must outlive any error; say it once
                backoff = min(backoff * 2, MAX_BACKOFF)
                self.available = False
                message = f"{type(exc).__name__}: {first_line(exc)}"
                if message != failing:
                    log.exception("cannot write %d buffered checks", self.pending)
                self.last_error = message

    async def close(self, *, grace: float = 10.0) -> None:
        """Stop the background loop and write what is left, trying for up to ``grace`` seconds."""
        if self._task is not None:
            self._closing = True
            self._wake.set()
            try:
                await asyncio.wait_for(self._task, timeout=grace)
            except TimeoutError:
                log.warning("a database write did not finish within %.0fs", grace)
            self._task = None
        deadline = time.monotonic() + grace
        delay = 0.2
        while self._buffer:
            try:
                async with asyncio.timeout(max(0.1, deadline - time.monotonic())):
                    await self.flush()
            except (StorageError, TimeoutError) as exc:
                if time.monotonic() + delay > deadline:
                    log.error("lost %d checks: database unavailable at shutdown (%s)",
                              self.pending, exc or "timed out")
                    self.dropped += self.pending
                    self._buffer.clear()
                    break
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)
