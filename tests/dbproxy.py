"""A TCP proxy in front of PostgreSQL that a test controls: forward, cut (refuse and reset, as
a restart looks), or silence (keep every socket open and forward nothing, as a dead network
path or a hung server looks). PostgreSQL itself is never touched."""

from __future__ import annotations

import asyncio
import contextlib


class DatabaseProxy:
    def __init__(self, target_port: int = 5432) -> None:
        self.target_port = target_port
        self.port = 0
        self.silent = False
        self._server: asyncio.Server | None = None
        self._pipes: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    def url(self, postgres_url: str) -> str:
        """``postgres_url`` (a database of the conftest fixture) through this proxy."""
        name = postgres_url.rsplit("/", 1)[1]
        return f"postgresql://postgres@127.0.0.1:{self.port}/{name}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._pipes.add(writer)
        if self.silent:  # accept, then never answer
            return
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.transport.abort()
            return
        self._pipes.add(up_writer)

        async def pump(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError, asyncio.CancelledError):
                while data := await src.read(65536):
                    if self.silent:
                        continue  # swallowed: the other side waits forever
                    dst.write(data)
                    await dst.drain()
            if not self.silent:
                dst.close()

        for task in (asyncio.create_task(pump(reader, up_writer)),
                     asyncio.create_task(pump(up_reader, writer))):
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def _abort_all(self) -> None:
        for pipe in list(self._pipes):
            pipe.transport.abort()
        self._pipes.clear()

    async def cut(self) -> None:
        """Refuse new connections and reset the open ones."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        self._abort_all()

    def silence(self) -> None:
        """Keep every connection open and forward nothing, in either direction."""
        self.silent = True

    async def restore(self) -> None:
        """Forward again; connections that went silent are dead and get reset."""
        if self.silent:
            self.silent = False
            self._abort_all()
        if self._server is None:
            await self.start()

    async def close(self) -> None:
        await self.cut()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
