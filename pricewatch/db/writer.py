"""The one batching writer: checks go to the database in batches, never a commit per row.

If the database is unreachable (a Postgres restart), rows stay buffered in memory, up to a
bound, and are written when it returns; only beyond the bound are the oldest rows dropped,
and that is counted, never silent.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable, Sequence

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from pricewatch.db.repository import PendingCheck, insert_checks
from pricewatch.errors import StorageError, StorageUnavailable

log = logging.getLogger(__name__)


def classify(exc: BaseException) -> StorageError:
    """Convert a database error: connection-level problems are temporary, the rest are not."""
    if isinstance(exc, OperationalError | InterfaceError | OSError | ConnectionError):
        return StorageUnavailable(str(exc).splitlines()[0])
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return StorageUnavailable(str(exc).splitlines()[0])
    return StorageError(str(exc).splitlines()[0])


class CheckWriter:
    """Buffers checks and writes them in batches, retrying while the database is away."""

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        batch_size: int = 1000,
        flush_interval: float = 1.0,
        max_buffer: int = 100_000,
        on_write: Callable[[int, float], None] | None = None,
        on_flushed: Callable[[Sequence[PendingCheck]], None] | None = None,
    ) -> None:
        self._engine = engine
        self._batch_size = batch_size
        self._flush_interval = flush_interval
        self._buffer: deque[PendingCheck] = deque()
        self._max_buffer = max_buffer
        self._on_write = on_write
        self._on_flushed = on_flushed  # told of each batch once it is durably stored
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

    def add(self, pending: PendingCheck) -> None:
        """Queue one check; never blocks and never raises."""
        if len(self._buffer) >= self._max_buffer:
            self._buffer.popleft()
            self.dropped += 1
            log.error("write buffer full (%d rows): dropped the oldest check", self._max_buffer)
        self._buffer.append(pending)
        if len(self._buffer) >= self._batch_size:
            self._wake.set()

    async def flush(self) -> int:
        """Write everything buffered now; raises StorageError (rows stay buffered) on failure."""
        written = 0
        async with self._lock:
            while self._buffer:
                batch = [self._buffer[i] for i in range(min(self._batch_size, len(self._buffer)))]
                started = time.perf_counter()
                try:
                    async with self._engine.begin() as conn:
                        await insert_checks(conn, batch)
                except (SQLAlchemyError, OSError) as exc:
                    self.available = False
                    self.last_error = str(exc).splitlines()[0]
                    raise classify(exc) from exc
                for _ in batch:
                    self._buffer.popleft()
                written += len(batch)
                self.written += len(batch)
                self.available = True
                self.last_error = None
                if self._on_write is not None:
                    self._on_write(len(batch), time.perf_counter() - started)
                if self._on_flushed is not None:
                    self._on_flushed(batch)
        return written

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
            try:
                await self.flush()
                backoff = self._flush_interval
            except StorageUnavailable as exc:
                backoff = min(backoff * 2, 30.0)
                log.warning("database unavailable, %d checks buffered: %s", self.pending, exc)
            except StorageError as exc:
                # A permanent error would repeat forever on the same rows; keep them, say so.
                backoff = min(backoff * 2, 30.0)
                log.error("cannot write %d buffered checks: %s", self.pending, exc)

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
                await self.flush()
            except StorageError as exc:
                if time.monotonic() + delay > deadline:
                    log.error("lost %d checks: database unavailable at shutdown (%s)",
                              self.pending, exc)
                    self.dropped += self.pending
                    self._buffer.clear()
                    break
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)
