"""The signaling channel a call runs over: the hub's WebSocket in production, an in-memory pair in tests.

The in-memory pair passes every frame through the wire codec (`encode` → text → `decode`), so a test or
bench call exercises exactly what crosses the hub.
"""

from __future__ import annotations

import asyncio
from typing import Protocol

from service.wire.signaling import SeqGuard, SignalingMessage, decode, encode


class SignalingChannel(Protocol):
    """Sends and receives typed signaling messages for one room."""

    async def send(self, msg: SignalingMessage) -> None:
        """Send one message to the other participant."""

    async def recv(self) -> SignalingMessage:
        """The next message from the other participant (cancel-safe)."""


class MemoryChannel:
    """One end of an in-memory channel; frames travel as encoded text and are checked for seq order."""

    def __init__(self, inbox: asyncio.Queue[str], outbox: asyncio.Queue[str]) -> None:
        self._inbox = inbox
        self._outbox = outbox
        self._guard = SeqGuard()
        self.sent: list[str] = []

    async def send(self, msg: SignalingMessage) -> None:
        """Encode and post one frame."""
        text = encode(msg)
        self.sent.append(text)
        await self._outbox.put(text)

    async def recv(self) -> SignalingMessage:
        """Take and decode one frame; WireError if it is malformed or out of order."""
        msg = decode(await self._inbox.get())
        self._guard.check(msg)
        return msg


def memory_channel_pair() -> tuple[MemoryChannel, MemoryChannel]:
    """Two connected ends: what one sends, the other receives."""
    a_to_b: asyncio.Queue[str] = asyncio.Queue()
    b_to_a: asyncio.Queue[str] = asyncio.Queue()
    return MemoryChannel(b_to_a, a_to_b), MemoryChannel(a_to_b, b_to_a)
