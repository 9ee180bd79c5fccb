"""The extraction worker process: ``python -m pricewatch.runtime.worker_main``.

Reads ``HEADER(len(meta)) HEADER(len(page)) meta page`` from stdin, where meta is the pickle of
``(number, url, spec)`` and page the UTF-8 bytes (raw, so neither side copies it into a pickle),
and writes ``HEADER(len(answer)) answer`` back, the pickle of ``(number, Extraction |
exception)``; one page at a time, in order. It imports
only the extractors (no asyncio, no config, no database), so it starts in a fraction of the
main process's time and memory. See ``runtime.workers`` for the side that feeds it.
"""

from __future__ import annotations

import os
import pickle
import signal
import struct
import sys

from pricewatch.errors import ExtractionError
from pricewatch.models import ExtractSpec

HEADER = struct.Struct("!I")
FRAME = struct.Struct("!II")
PIPE_BYTES = 1 << 20  # Linux's default pipe-max-size: a whole page in one write


def _read_exactly(fd: int, size: int) -> bytearray | None:
    buffer = bytearray(size)
    view = memoryview(buffer)
    got = 0
    while got < size:
        n = os.readv(fd, [view[got:]])
        if not n:
            return None
        got += n
    return buffer


def _answer(body: bytearray, url: str, spec: ExtractSpec) -> object:
    from pricewatch.extract import extract

    try:
        return extract(body.decode("utf-8", "surrogatepass"), url=url, spec=spec)
    except ExtractionError as exc:
        return ExtractionError(str(exc))
    except Exception as exc:  # sent back and raised in the parent, as in-process extraction
        return RuntimeError(f"{type(exc).__name__}: {exc}"[:500])


def serve(stdin: int = 0, stdout: int = 1) -> int:
    """Answer pages until stdin closes."""
    # A worker lives exactly as long as its pipe: the parent closes stdin when it is done. A
    # Ctrl-C in the terminal (SIGINT to the whole process group) or a service manager's
    # SIGTERM to every process must reach only the parent, which then finishes its running
    # checks with these workers and shuts them down in order.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    import pricewatch.extract  # noqa: F401  (before the first page, not during it)

    while True:
        header = _read_exactly(stdin, FRAME.size)
        if header is None:
            return 0
        meta_size, body_size = FRAME.unpack(header)
        meta = _read_exactly(stdin, meta_size)
        body = _read_exactly(stdin, body_size)
        if meta is None or body is None:
            return 0
        number, url, spec = pickle.loads(meta)
        answer = pickle.dumps((number, _answer(body, url, spec)), protocol=pickle.HIGHEST_PROTOCOL)
        data = memoryview(HEADER.pack(len(answer)) + answer)
        while data:
            data = data[os.write(stdout, data):]


if __name__ == "__main__":
    sys.exit(serve())
