"""The counter's hub writes: stored first (clerk_agent/link/store.py), then sent by one worker, in order.

Retried while the hub is down, so the UI never waits on the network and nothing a clerk entered is lost.
Uploads (document stills, the application photo) travel in the same queue, so `capture-evidence` reaches the
hub only after the stills taken before it. Each write carries what it asks (its `Call` and `Action`), and its
answer goes back with it, read by the client into a wire model.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from clerk_agent.link.client import HubClient, HubWrite, Reply, classify
from clerk_agent.link.hub import HubRefused
from clerk_agent.link.store import LocalStore, PendingWrite
from service.wire.calls import Call
from service.wire.cases import Action

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Write:
    """One queued hub write of the counter case `local_id`, keyed so a resend is applied once."""

    id: int
    local_id: str
    request: HubWrite
    key: str | None

    @property
    def call(self) -> Call:
        """What the write asks of the hub."""
        return self.request.call

    @property
    def action(self) -> Action | None:
        """The case action it takes, if any."""
        return self.request.action


Answered = Callable[[Write, Reply | None], Awaitable[None]]
Refused = Callable[[Write, HubRefused], Awaitable[None]]
Prepare = Callable[[Write], Awaitable[Write]]


def _restored(stored: PendingWrite) -> Write:
    """A stored write as queued; one stored by an older agent (no call recorded) is read from its path."""
    if stored.call is None:
        call, action = classify(stored.method, stored.path)
    else:
        call, action = Call(stored.call), Action(stored.action) if stored.action else None
    blob = (stored.media_type, stored.content) if stored.media_type and stored.content else None
    request = HubWrite(call, stored.method, stored.path, stored.body, action, blob)
    return Write(stored.id, stored.local_case_id, request, stored.idempotency_key)


class HubWrites:
    """The durable, ordered queue of hub writes and its single sender."""

    def __init__(self, client: HubClient, store: LocalStore) -> None:
        self.client = client
        self.store = store
        self._queue: asyncio.Queue[Write] = asyncio.Queue()
        self._idle = asyncio.Event()
        self._idle.set()

    async def replay(self) -> None:
        """Queue the writes a previous run stored but never saw answered."""
        for stored in await self.store.pending():
            self._put(_restored(stored))

    async def add(self, local_id: str, request: HubWrite, key: str | None = None) -> int:
        """Persist a write, then hand it to the sender; returns its id."""
        write_id = await self.store.add_write(
            local_id,
            request.method,
            request.path,
            request.body,
            key,
            request.blob,
            call=request.call.value,
            action=request.action.value if request.action else None,
        )
        self._put(Write(write_id, local_id, request, key))
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
            write = await prepare(await self._queue.get())
            try:
                reply = await self.client.send(write.request, key=write.key)
            except HubRefused as exc:
                await refused(write, exc)
            else:
                await answered(write, reply)
            # Only an answer retires a write, after its follow-ups are stored: a stopped agent replays it
            # (a replayed create returns the same case; a repeated action is a 409 the flow ignores).
            await self.store.done(write.id)
            if self._queue.empty():
                self._idle.set()
