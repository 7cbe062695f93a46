"""The counter's hub writes: stored first (clerk_agent/link/store.py), then sent by one worker, in order.

Retried while the hub is down, so the UI never waits on the network and nothing a clerk entered is lost.
Uploads (document stills, the application photo) travel in the same queue, so `capture-evidence` reaches the
hub only after the stills taken before it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from clerk_agent.link.hub import HubLink, HubRefused, JsonObject
from clerk_agent.link.store import LocalStore

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Write:
    """One queued hub write (an upload when `blob` is set: `body` then holds its query parameters)."""

    id: int
    local_id: str
    method: str
    path: str
    body: JsonObject | None
    key: str | None
    blob: tuple[str, bytes] | None = None


Answered = Callable[[Write, JsonObject], Awaitable[None]]
Refused = Callable[[Write, HubRefused], Awaitable[None]]
Prepare = Callable[[Write], Awaitable[Write]]


class HubWrites:
    """The durable, ordered queue of hub writes and its single sender."""

    def __init__(self, link: HubLink, store: LocalStore) -> None:
        self.link = link
        self.store = store
        self._queue: asyncio.Queue[Write] = asyncio.Queue()
        self._idle = asyncio.Event()
        self._idle.set()

    async def replay(self) -> None:
        """Queue the writes a previous run stored but never saw answered."""
        for stored in await self.store.pending():
            blob = (stored.media_type, stored.content) if stored.media_type and stored.content else None
            self._put(
                Write(
                    stored.id,
                    stored.local_case_id,
                    stored.method,
                    stored.path,
                    stored.body,
                    stored.idempotency_key,
                    blob,
                )
            )

    async def add(
        self,
        local_id: str,
        method: str,
        path: str,
        body: JsonObject | None,
        key: str | None = None,
        blob: tuple[str, bytes] | None = None,
    ) -> int:
        """Persist a write, then hand it to the sender; returns its id."""
        write_id = await self.store.add_write(local_id, method, path, body, key, blob)
        self._put(Write(write_id, local_id, method, path, body, key, blob))
        return write_id

    def _put(self, write: Write) -> None:
        self._idle.clear()
        self._queue.put_nowait(write)

    @property
    def idle(self) -> bool:
        """Whether every queued write has been answered."""
        return self._idle.is_set()

    async def settle(self, timeout_s: float = 30.0) -> None:
        """Wait until every queued write has been answered."""
        async with asyncio.timeout(timeout_s):
            await self._idle.wait()

    async def serve(self, prepare: Prepare, answered: Answered, refused: Refused) -> None:
        """Send writes in order until cancelled; each is retired only after the hub answered it."""
        while True:
            write = await self._prepare(prepare, await self._queue.get())
            try:
                if write.blob is not None:
                    params = {k: str(v) for k, v in (write.body or {}).items()}
                    result = await self.link.upload(
                        write.path, write.blob[1], write.blob[0], params, idempotency_key=write.key
                    )
                else:
                    result = await self.link.request(
                        write.method, write.path, write.body, idempotency_key=write.key
                    )
            except HubRefused as exc:
                await refused(write, exc)
            else:
                await answered(write, result)
            # Only an answer retires a write, after its follow-ups are stored: a stopped agent replays it
            # (a replayed create returns the same case; a repeated action is a 409 the flow ignores).
            await self.store.done(write.id)
            if self._queue.empty():
                self._idle.set()

    @staticmethod
    async def _prepare(prepare: Prepare, write: Write) -> Write:
        return await prepare(write)
