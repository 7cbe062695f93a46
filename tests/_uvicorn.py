"""An ASGI app served by uvicorn inside a test's event loop: started, waited for, stopped — one helper for all."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator

import uvicorn


@contextlib.asynccontextmanager
async def served(
    config: uvicorn.Config, *, sockets: list[socket.socket] | None = None, name: str = "uvicorn-test"
) -> AsyncIterator[uvicorn.Server]:
    """Serve `config` until the block ends; a server that fails or is not up within 10 s fails the test."""
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=sockets), name=name)
    try:
        async with asyncio.timeout(10):
            while not server.started:  # uvicorn offers a flag, not an event
                if task.done():
                    task.result()
                await asyncio.sleep(0.01)
        yield server
    finally:
        server.should_exit = True
        await task
