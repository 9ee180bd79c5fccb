"""Extraction off the event loop, on every core: the ``Extractor`` seam and its two engines.

One Python process runs its Python code on one core, and parsing and searching a page is most
of a check's CPU. ``ProcessExtractor`` runs extraction in ``workers`` child processes (fresh
interpreters that import only ``pricewatch.extract``); the event loop keeps fetching. A page
goes to a worker as UTF-8 bytes copied into a slot of a memory file both processes map (one
per worker, a slot per page it may have queued; a larger page through its stdin pipe), a
small frame through the pipe says which, and the answer comes back as a small ``Extraction``.

Extraction keeps its guarantee across the process boundary: it never raises for page content.
A worker that dies (a crash in a C parser, the OOM killer, a signal) is replaced; the page it
was working on becomes a failed check saying so, and the pages queued behind it go to the
replacement. ``ThreadExtractor`` is the single-process engine (``workers: 0``): Lexbor parses
with the GIL released, so a thread still keeps the loop free, but all Python work shares one
core.

Why worker processes rather than one asyncio process per core with the hosts sharded between
them: a round is often one shop (one host), which sharding cannot split, and the daemon's
scheduler, web server, metrics and alert feed stay one process with one view of every offer.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import fcntl
import logging
import mmap
import os
import pickle
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import Protocol, Self

from pricewatch.errors import WorkerError
from pricewatch.models import Extraction, ExtractSpec
from pricewatch.runtime.worker_main import FRAME, HEADER, INLINE, PIPE_BYTES, SLOT_BYTES

log = logging.getLogger(__name__)

_RESPAWN_BACKOFF = (0.0, 1.0, 5.0, 30.0)
_DEPTH = 2  # pages queued per worker: the next page is already in its pipe when one finishes


class Extractor(Protocol):
    """Turns a fetched page (its text, or that text as UTF-8 with ``surrogatepass``, see
    ``page_bytes``) into an Extraction without blocking the event loop. Use it as ``async with
    extractor:`` (workers start on entry and stop on exit)."""

    async def extract(self, page: str | bytes, *, url: str, spec: ExtractSpec) -> Extraction:
        ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(self, *exc: object) -> None: ...


def page_bytes(text: str) -> bytes:
    """A page's text as the bytes an extractor takes: the caller can then drop the text, so a
    page waiting for a worker is held once, not as text and bytes both. ``surrogatepass``
    keeps a lone surrogate from raising; Lexbor reads it as U+FFFD like any other bad byte."""
    return text.encode("utf-8", "surrogatepass")


def _text(page: str | bytes) -> str:
    return page.decode("utf-8", "surrogatepass") if isinstance(page, bytes) else page


def worker_count(configured: int | None) -> int:
    """Worker processes for ``workers: configured`` (None: one per core; one core: none, as
    a single worker would only add the pipe's cost)."""
    if configured is not None:
        return configured
    cores = os.cpu_count() or 1
    return cores if cores > 1 else 0


def make_extractor(workers: int | None) -> Extractor:
    """The extractor the ``workers`` setting asks for (see ``worker_count``); not started."""
    count = worker_count(workers)
    return ProcessExtractor(count) if count else ThreadExtractor()


class ThreadExtractor:
    """Extraction in threads of this process (one per core, at most 4)."""

    def __init__(self, threads: int | None = None) -> None:
        count = min(4, os.cpu_count() or 1) if threads is None else threads
        self._pool = ThreadPoolExecutor(max(1, count), thread_name_prefix="extract")

    async def extract(self, page: str | bytes, *, url: str, spec: ExtractSpec) -> Extraction:
        from pricewatch.extract import extract

        return await asyncio.get_running_loop().run_in_executor(
            self._pool, partial(extract, _text(page), url=url, spec=spec))

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


@dataclass(eq=False)
class _Job:
    number: int
    meta: bytes  # the pickle of (number, url, spec)
    body: bytes  # the page, UTF-8 (kept until answered: a dead worker's pages go to another)
    future: asyncio.Future[Extraction]
    slot: int = INLINE  # where the worker it was sent to reads the body


class _Worker:
    """One child process, its page buffer (None: pages go through the pipe) and the jobs it
    has been sent, oldest first (it works in order)."""

    def __init__(self, proc: asyncio.subprocess.Process, pages: mmap.mmap | None) -> None:
        self.proc = proc
        self.pages = pages
        self.free = list(range(_DEPTH)) if pages is not None else []  # buffer slots
        self.sent: collections.deque[_Job] = collections.deque()
        self.slots = asyncio.Semaphore(_DEPTH)

    def send(self, job: _Job) -> None:
        """Write ``job`` to the worker: its body into a free slot when it fits, else inline."""
        stdin = self.proc.stdin
        assert stdin is not None
        size = len(job.body)
        job.slot = self.free.pop() if self.free and size <= SLOT_BYTES else INLINE
        self.sent.append(job)
        if job.slot == INLINE:
            _send(stdin, (FRAME.pack(len(job.meta), size, INLINE), job.meta, job.body))
            return
        assert self.pages is not None
        start = job.slot * SLOT_BYTES
        self.pages[start:start + size] = job.body
        _send(stdin, (FRAME.pack(len(job.meta), size, job.slot), job.meta))

    def answered(self) -> _Job | None:
        """The oldest job, now answered, its slot free again (the worker copied the body out
        before answering)."""
        if not self.sent:
            return None
        job = self.sent.popleft()
        if job.slot != INLINE:
            self.free.append(job.slot)
        return job


class ProcessExtractor:
    """Extraction in ``count`` worker processes, each fed by its own task from one queue."""

    def __init__(self, count: int) -> None:
        self._count = count
        self._queue: asyncio.Queue[_Job] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []
        self._workers: set[_Worker] = set()
        self._numbers = 0
        self._closing = False
        self.restarts = 0  # workers replaced after dying

    @property
    def pids(self) -> list[int]:
        """The live workers' process ids."""
        return [worker.proc.pid for worker in self._workers]

    @property
    def in_flight(self) -> int:
        """Pages sent to a worker and not answered yet."""
        return sum(len(worker.sent) for worker in self._workers)

    async def __aenter__(self) -> Self:
        """Start the workers (they import the extractors while the caller goes on)."""
        for n in range(self._count):
            self._tasks.append(asyncio.create_task(self._serve(), name=f"extract-worker-{n}"))
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def extract(self, page: str | bytes, *, url: str, spec: ExtractSpec) -> Extraction:
        self._numbers += 1
        meta = pickle.dumps((self._numbers, url, spec), protocol=pickle.HIGHEST_PROTOCOL)
        body = page if isinstance(page, bytes) else page_bytes(page)
        future: asyncio.Future[Extraction] = asyncio.get_running_loop().create_future()
        await self._queue.put(_Job(self._numbers, meta, body, future))
        return await future

    async def aclose(self) -> None:
        """Stop every worker; a page still waiting for one is cancelled."""
        self._closing = True
        waiting = [job for worker in self._workers for job in worker.sent]
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        while not self._queue.empty():
            waiting.append(self._queue.get_nowait())
        for job in waiting:
            if not job.future.done():
                job.future.cancel()

    # -- one worker slot: spawn, feed, read, replace ------------------------------------------

    async def _serve(self) -> None:
        failures = 0
        while not self._closing:
            try:
                proc, pages = await _spawn()
            except OSError as exc:
                delay = _RESPAWN_BACKOFF[min(failures + 1, len(_RESPAWN_BACKOFF) - 1)]
                failures += 1
                log.error("extraction worker could not start (%s); retrying in %.0fs", exc,
                          delay)
                self._fail_waiting(f"extraction worker could not start: {exc}")
                await asyncio.sleep(delay)
                continue
            worker = _Worker(proc, pages)
            self._workers.add(worker)
            started = asyncio.get_running_loop().time()
            try:
                await self._run(worker)
            finally:
                self._workers.discard(worker)
                await _stop(proc)
                if pages is not None:
                    pages.close()
            if self._closing:
                return
            code = proc.returncode
            reason = "extraction worker died" + (
                f" (signal {-code})" if code is not None and code < 0 else f" (exit {code})")
            self._lost(worker, reason)
            self.restarts += 1
            log.warning("%s; replacing it", reason)
            # A worker that keeps dying at once (a broken install) is retried ever slower.
            lived = asyncio.get_running_loop().time() - started
            failures = 0 if lived > 60 else failures + 1
            if failures >= 3:  # pages must not wait for a worker that cannot live
                self._fail_waiting(reason)
            await asyncio.sleep(_RESPAWN_BACKOFF[min(failures - 1, len(_RESPAWN_BACKOFF) - 1)]
                                if failures else 0)

    async def _run(self, worker: _Worker) -> None:
        """Feed one worker from the queue, at most ``_DEPTH`` pages ahead, until it dies."""
        stdin, stdout = worker.proc.stdin, worker.proc.stdout
        assert stdin is not None
        assert stdout is not None
        reader = asyncio.create_task(self._read(worker, stdout))
        taking: asyncio.Task[_Job] | None = None
        try:
            while True:
                await worker.slots.acquire()
                if reader.done():  # the reader frees every slot when the worker is gone
                    break
                taking = asyncio.create_task(self._queue.get())
                done, _ = await asyncio.wait({taking, reader},
                                             return_when=asyncio.FIRST_COMPLETED)
                if taking not in done:
                    taking.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        self._queue.put_nowait(await taking)  # taken as the worker died
                    break
                job = taking.result()
                if reader.done():
                    self._queue.put_nowait(job)
                    break
                if job.future.done():  # its check was cancelled while it waited
                    worker.slots.release()
                    continue
                try:
                    worker.send(job)
                    await stdin.drain()
                except (ConnectionError, BrokenPipeError):
                    break
            await reader
        finally:
            for task in (taking, reader):
                if task is not None and not task.done():
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task

    async def _read(self, worker: _Worker, stdout: asyncio.StreamReader) -> None:
        try:
            await self._answers(worker, stdout)
        finally:
            for _ in range(_DEPTH):
                worker.slots.release()

    async def _answers(self, worker: _Worker, stdout: asyncio.StreamReader) -> None:
        while True:
            try:
                size = HEADER.unpack(await stdout.readexactly(HEADER.size))[0]
                number, outcome = pickle.loads(await stdout.readexactly(size))
            except (asyncio.IncompleteReadError, ConnectionError):
                return
            job = worker.answered()
            worker.slots.release()
            if job is None or job.number != number or job.future.done():
                continue
            if isinstance(outcome, Extraction):
                job.future.set_result(outcome)
            else:
                job.future.set_exception(outcome)

    def _lost(self, worker: _Worker, reason: str) -> None:
        """The job a dead worker was on fails; those queued behind it go to another."""
        if worker.sent:
            head = worker.sent.popleft()
            if not head.future.done():
                head.future.set_exception(WorkerError(f"{reason} while reading this page"))
        while worker.sent:
            job = worker.sent.popleft()
            if not job.future.done():
                self._queue.put_nowait(job)

    def _fail_waiting(self, reason: str) -> None:
        if self._workers:
            return  # another worker is alive and will take the queue
        while not self._queue.empty():
            job = self._queue.get_nowait()
            if not job.future.done():
                job.future.set_exception(WorkerError(reason))


def _page_buffer() -> tuple[int, mmap.mmap] | None:
    """A memory file of ``_DEPTH`` page slots and this process's mapping of it, or None where
    the system has no memory files (pages then go through the pipe)."""
    try:
        fd = os.memfd_create("pricewatch-pages", os.MFD_CLOEXEC)
    except (AttributeError, OSError):
        return None
    try:
        os.ftruncate(fd, _DEPTH * SLOT_BYTES)
        return fd, mmap.mmap(fd, _DEPTH * SLOT_BYTES)
    except OSError:
        os.close(fd)
        return None


async def _spawn() -> tuple[asyncio.subprocess.Process, mmap.mmap | None]:
    buffer = _page_buffer()
    args = ["--pages", str(buffer[0])] if buffer is not None else []
    try:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "pricewatch.runtime.worker_main", *args,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, limit=PIPE_BYTES,
            pass_fds=(buffer[0],) if buffer is not None else ())
    except BaseException:
        if buffer is not None:
            buffer[1].close()
        raise
    finally:
        if buffer is not None:
            os.close(buffer[0])  # the child has its own; the mappings keep the memory
    pages = buffer[1] if buffer is not None else None
    if proc.stdin is not None:
        pipe = proc.stdin.transport.get_extra_info("pipe")
        # A page in one write instead of sixteen 64 KB ones (the pipe is shared by both ends).
        with contextlib.suppress(OSError, AttributeError):
            fcntl.fcntl(pipe.fileno(), fcntl.F_SETPIPE_SZ, PIPE_BYTES)
    return proc, pages


def _send(stdin: asyncio.StreamWriter, parts: tuple[bytes, ...]) -> None:
    """Write ``parts`` in order: straight into the pipe with one writev when nothing is
    buffered (no joined copy of a 200 KB page), the rest through the transport."""
    transport = stdin.transport
    sent = 0
    if transport.get_write_buffer_size() == 0:
        pipe = transport.get_extra_info("pipe")
        with contextlib.suppress(BlockingIOError, InterruptedError):
            sent = os.writev(pipe.fileno(), parts)
    rest = b"".join(parts)[sent:] if sent < sum(map(len, parts)) else b""
    if rest:
        transport.write(rest)


async def _stop(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is None:
        if proc.stdin is not None:
            proc.stdin.close()
        try:
            await asyncio.wait_for(proc.wait(), timeout=1.0)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
