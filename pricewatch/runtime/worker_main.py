"""The extraction worker process: ``python -m pricewatch.runtime.worker_main``.

Reads ``FRAME(len(meta), len(page), slot) meta`` from stdin, where meta is the pickle of
``(number, url, spec)``, and then the page, UTF-8: from slot ``slot`` of the shared page
buffer (``--pages FD``, a memory file the parent maps too), or, with slot -1, from stdin right
after meta (raw, so neither side copies it into a pickle). It writes ``HEADER(len(answer))
answer`` back, the pickle of ``(number, Extraction | exception)``; one page at a time, in
order. It imports only the extractors (no asyncio, no config, no database), so it starts in a
fraction of the main process's time and memory. See ``runtime.workers`` for the side that
feeds it.
"""

from __future__ import annotations

import argparse
import mmap
import os
import pickle
import signal
import struct
import sys

from pricewatch.errors import ExtractionError
from pricewatch.models import ExtractSpec

HEADER = struct.Struct("!I")
FRAME = struct.Struct("!IIi")
PIPE_BYTES = 1 << 20  # Linux's default pipe-max-size: a whole page in one write
# A page up to this size goes through the shared buffer, larger ones through the pipe. Copying
# into a mapping is a memcpy; a pipe write also allocates and fills kernel pages, once on each
# side (bench/throughput.py).
SLOT_BYTES = 1 << 20
INLINE = -1  # the slot of a page sent through the pipe


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


def _answer(body: bytes | bytearray, url: str, spec: ExtractSpec) -> object:
    from pricewatch.extract import extract

    try:
        return extract(body.decode("utf-8", "surrogatepass"), url=url, spec=spec)
    except ExtractionError as exc:
        return ExtractionError(str(exc))
    except Exception as exc:  # sent back and raised in the parent, as in-process extraction
        return RuntimeError(f"{type(exc).__name__}: {exc}"[:500])


def serve(stdin: int = 0, stdout: int = 1, pages: mmap.mmap | None = None) -> int:
    """Answer pages until stdin closes; ``pages`` is the shared page buffer, if any."""
    # A worker lives exactly as long as its pipe: the parent closes stdin when it is done. A
    # Ctrl-C in the terminal (SIGINT to the whole process group) or a service manager's
    # SIGTERM to every process must reach only the parent, which then finishes its running
    # checks with these workers and shuts them down in order.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    # The extractors load before the first page, not during it (the package itself loads
    # its names on first use).
    from pricewatch.extract import extract  # noqa: F401

    while True:
        header = _read_exactly(stdin, FRAME.size)
        if header is None:
            return 0
        meta_size, body_size, slot = FRAME.unpack(header)
        meta = _read_exactly(stdin, meta_size)
        if meta is None:
            return 0
        body: bytes | bytearray | None
        if slot == INLINE:
            body = _read_exactly(stdin, body_size)
            if body is None:
                return 0
        elif pages is None:
            return 2  # a slot without a buffer: the parent replaces a worker that exits
        else:
            # Copied out before the answer: the parent reuses the slot once answered.
            start = slot * SLOT_BYTES
            body = pages[start:start + body_size]
        number, url, spec = pickle.loads(meta)
        answer = pickle.dumps((number, _answer(body, url, spec)), protocol=pickle.HIGHEST_PROTOCOL)
        data = memoryview(HEADER.pack(len(answer)) + answer)
        while data:
            data = data[os.write(stdout, data):]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pricewatch.runtime.worker_main")
    parser.add_argument("--pages", type=int, help="file descriptor of the shared page buffer")
    args = parser.parse_args(argv)
    pages = None
    if args.pages is not None:
        pages = mmap.mmap(args.pages, 0, prot=mmap.PROT_READ)
        os.close(args.pages)  # the mapping outlives the descriptor
    return serve(pages=pages)


if __name__ == "__main__":
    sys.exit(main())
