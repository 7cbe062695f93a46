"""Room fan-out across hub replicas: publish(room, frame) reaches every subscriber of the room on every node.

`MemoryBus` serves the embedded single node. `PostgresBus` adds PostgreSQL LISTEN/NOTIFY (no new service):
one LISTEN channel per room with a local subscriber, one connection that listens and one that notifies, both
owned by the app's lifespan. A NOTIFY payload is limited to 8000 bytes, so a message (an SDP may be 60 KiB) is
split into chunks sent in one transaction, which PostgreSQL delivers together and in order.

A lost LISTEN connection (a database restart, a failover, a killed backend) is reopened with backoff and
every room's channel is listened to again; NOTIFYs sent meanwhile are not replayed (PostgreSQL keeps none),
so the peers of a call in that window rely on their own renegotiation. A lost NOTIFY connection is reopened
on the next publish.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import itertools
import logging
import secrets
import time
from collections.abc import AsyncIterator, Callable
from typing import Final, Protocol

import asyncpg  # type: ignore[import-untyped]

from service.config import Settings

logger = logging.getLogger(__name__)

NOTIFY_CHUNK_BYTES: Final = 7000
"""Payload bytes per NOTIFY, below PostgreSQL's 8000 with room for the chunk header."""
_REASSEMBLY_TIMEOUT_S: Final = 10.0
_MAX_PENDING: Final = 1024
_RECONNECT_FIRST_S: Final = 0.1
_RECONNECT_MAX_S: Final = 5.0


Handler = Callable[[str], None]
"""Takes one message synchronously, in publication order."""


class Subscription:
    """One subscriber's stream of a room's messages, in publication order: queued, or handed to `handler`."""

    def __init__(self, room: str, handler: Handler | None = None) -> None:
        self.room = room
        # A handler spares the hop through a queue and a task per message (the hub's relay path).
        self._handler = handler
        self._queue: asyncio.Queue[str] = asyncio.Queue()

    def deliver(self, message: str) -> None:
        """Queue one message, or hand it to the handler (called by the bus)."""
        if self._handler is not None:
            self._handler(message)
        else:
            self._queue.put_nowait(message)

    async def get(self) -> str:
        """The next message of the room."""
        return await self._queue.get()

    def pending(self) -> int:
        """Messages delivered and not yet taken."""
        return self._queue.qsize()

    async def __aiter__(self) -> AsyncIterator[str]:
        while True:
            yield await self._queue.get()


class Bus(Protocol):
    """Fan-out of a room's messages to every node that has a participant of the room."""

    node_id: str

    async def start(self) -> None:
        """Open connections, if any."""

    async def close(self) -> None:
        """Release connections; subscriptions stop receiving."""

    async def publish(self, room: str, frame: str) -> None:
        """Send `frame` to every subscription of `room`, on this node and on every other."""

    @property
    def at_once(self) -> bool:
        """Whether `publish_now` may be used."""

    def publish_now(self, room: str, frame: str) -> None:
        """`publish` without waiting (only where `at_once`)."""

    async def subscribe(self, room: str, handler: Handler | None = None) -> Subscription:
        """Start receiving the room's messages (queued, or handed to `handler`)."""

    async def unsubscribe(self, subscription: Subscription) -> None:
        """Stop receiving."""


class MemoryBus:
    """The in-process bus of the embedded single node."""

    def __init__(self) -> None:
        self.node_id = secrets.token_hex(6)
        self._subscribers: dict[str, set[Subscription]] = {}

    async def start(self) -> None:
        """Nothing to open."""

    async def close(self) -> None:
        """Forget every subscription."""
        self._subscribers.clear()

    async def publish(self, room: str, frame: str) -> None:
        """Deliver to this process's subscribers of `room`."""
        self._deliver_local(room, frame)

    @property
    def at_once(self) -> bool:
        """Whether `publish_now` may be used: only in process (a bus to other replicas waits for the network)."""
        return type(self).publish is MemoryBus.publish

    def publish_now(self, room: str, frame: str) -> None:
        """`publish` without a coroutine: only on a bus whose `at_once` holds (the caller checks, once)."""
        self._deliver_local(room, frame)

    def _deliver_local(self, room: str, frame: str) -> None:
        for subscription in self._subscribers.get(room, ()):
            subscription.deliver(frame)

    async def subscribe(self, room: str, handler: Handler | None = None) -> Subscription:
        """A new subscription of `room`."""
        subscription = Subscription(room, handler)
        self._subscribers.setdefault(room, set()).add(subscription)
        return subscription

    async def unsubscribe(self, subscription: Subscription) -> None:
        """Drop `subscription`."""
        self._drop_local(subscription)

    def _drop_local(self, subscription: Subscription) -> bool:
        """Drop `subscription`; True when it was the room's last one here."""
        subscribers = self._subscribers.get(subscription.room)
        if subscribers is None:
            return False
        subscribers.discard(subscription)
        if subscribers:
            return False
        del self._subscribers[subscription.room]
        return True


def channel_of(room: str) -> str:
    """The LISTEN channel of a room: a hash, since room ids may hold characters and lengths identifiers may not."""
    return "madoguchi_sig_" + hashlib.sha256(room.encode()).hexdigest()[:32]


def split_utf8(data: bytes, limit: int) -> list[bytes]:
    """`data` in pieces of at most `limit` bytes, never cutting a UTF-8 character (each piece decodes)."""
    pieces: list[bytes] = []
    start = 0
    while start < len(data):
        end = min(start + limit, len(data))
        # Back off continuation bytes (10xxxxxx) so the cut lands on a character boundary.
        while end < len(data) and end > start and (data[end] & 0xC0) == 0x80:
            end -= 1
        pieces.append(data[start:end])
        start = end
    return pieces or [b""]


class PostgresBus(MemoryBus):
    """MemoryBus for this node's subscribers, plus LISTEN/NOTIFY to and from the other replicas."""

    def __init__(self, dsn: str) -> None:
        super().__init__()
        self._dsn = dsn
        self._listen: asyncpg.Connection | None = None
        self._notify: asyncpg.Connection | None = None
        # asyncpg runs one operation at a time per connection.
        self._listen_lock = asyncio.Lock()
        self._notify_lock = asyncio.Lock()
        self._rooms_by_channel: dict[str, str] = {}
        self._ids = itertools.count()
        self._pending: dict[str, tuple[float, list[str | None]]] = {}
        self._closing = False
        self._reconnecting: asyncio.Task[None] | None = None
        self.reconnects = 0

    async def start(self) -> None:
        """Open the listening and the notifying connection."""
        self._closing = False
        self._listen = await self._open_listen()
        self._notify = await asyncpg.connect(self._dsn)

    async def close(self) -> None:
        """Close both connections and stop reconnecting."""
        self._closing = True
        if self._reconnecting is not None:
            self._reconnecting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reconnecting
            self._reconnecting = None
        await super().close()
        for conn in (self._listen, self._notify):
            if conn is not None and not conn.is_closed():
                await conn.close(timeout=2)
        self._listen = self._notify = None

    @property
    def listening(self) -> bool:
        """Whether the LISTEN connection is up (False while it is being reopened)."""
        return self._listen is not None and not self._listen.is_closed()

    async def _open_listen(self) -> asyncpg.Connection:
        conn = await asyncpg.connect(self._dsn)
        conn.add_termination_listener(self._on_lost)
        return conn

    async def publish(self, room: str, frame: str) -> None:
        """Deliver here at once, and NOTIFY the other replicas (chunked, in one transaction)."""
        self._deliver_local(room, frame)
        if self._notify is None:
            raise RuntimeError("PostgresBus is not started")
        message_id = f"{self.node_id}:{next(self._ids)}"
        pieces = split_utf8(frame.encode(), NOTIFY_CHUNK_BYTES)
        payloads = [f"{message_id}:{i}:{len(pieces)}:{piece.decode()}" for i, piece in enumerate(pieces)]
        channel = channel_of(room)
        async with self._notify_lock:
            for attempt in range(2):
                try:
                    await self._notify_all(self._notify, channel, payloads)
                    return
                except (asyncpg.InterfaceError, asyncpg.PostgresConnectionError, OSError):
                    if attempt or self._closing:
                        raise
                    # The NOTIFY connection died since the last publish: reopen it once and resend.
                    logger.warning("signaling bus: reopening the NOTIFY connection")
                    with contextlib.suppress(Exception):
                        self._notify.terminate()
                    self._notify = await asyncpg.connect(self._dsn)

    @staticmethod
    async def _notify_all(conn: asyncpg.Connection, channel: str, payloads: list[str]) -> None:
        if len(payloads) == 1:
            await conn.execute("SELECT pg_notify($1, $2)", channel, payloads[0])
            return
        async with conn.transaction():
            for payload in payloads:
                await conn.execute("SELECT pg_notify($1, $2)", channel, payload)

    async def subscribe(self, room: str, handler: Handler | None = None) -> Subscription:
        """A local subscription; LISTEN on the room's channel when it is the first here."""
        first = room not in self._subscribers
        subscription = await super().subscribe(room, handler)
        if first:
            channel = channel_of(room)
            # Recorded even while reconnecting: the reopened connection listens to every recorded channel.
            self._rooms_by_channel[channel] = room
            listen = self._listen
            if listen is not None and not listen.is_closed():
                async with self._listen_lock:
                    await listen.add_listener(channel, self._on_notify)
        return subscription

    async def unsubscribe(self, subscription: Subscription) -> None:
        """Drop the subscription; UNLISTEN when it was the room's last one here."""
        if self._drop_local(subscription):
            channel = channel_of(subscription.room)
            self._rooms_by_channel.pop(channel, None)
            listen = self._listen
            if listen is not None and not listen.is_closed():
                async with self._listen_lock:
                    await listen.remove_listener(channel, self._on_notify)

    def _on_notify(self, _conn: object, _pid: int, channel: str, payload: str) -> None:
        node, _, rest = payload.partition(":")
        if node == self.node_id:
            return  # already delivered locally by publish
        counter, index_text, count_text, body = rest.split(":", 3)
        room = self._rooms_by_channel.get(channel)
        if room is None:
            return
        index, count = int(index_text), int(count_text)
        if count == 1:
            self._deliver_local(room, body)
            return
        key = f"{node}:{counter}"
        now = time.monotonic()
        if key not in self._pending:
            self._expire_pending(now)
            self._pending[key] = (now, [None] * count)
        parts = self._pending[key][1]
        if index < len(parts):
            parts[index] = body
        if all(part is not None for part in parts):
            del self._pending[key]
            self._deliver_local(room, "".join(part or "" for part in parts))

    def _expire_pending(self, now: float) -> None:
        # Chunks of one transaction arrive together; a message still incomplete after this is never completed.
        for key in [k for k, (t, _) in self._pending.items() if now - t > _REASSEMBLY_TIMEOUT_S]:
            del self._pending[key]
        while len(self._pending) >= _MAX_PENDING:
            del self._pending[next(iter(self._pending))]

    def _on_lost(self, conn: object) -> None:
        if self._closing or conn is not self._listen:
            return
        logger.error("signaling bus: the LISTEN connection to PostgreSQL was lost; reconnecting")
        self._listen = None
        if self._reconnecting is None or self._reconnecting.done():
            # Owned here: cancelled and awaited by close().
            self._reconnecting = asyncio.get_running_loop().create_task(
                self._reconnect(), name="signaling-bus-reconnect"
            )

    async def _reconnect(self) -> None:
        """Reopen the LISTEN connection with backoff and listen to every room's channel again."""
        delay = _RECONNECT_FIRST_S
        while not self._closing:
            try:
                conn = await self._open_listen()
                async with self._listen_lock:
                    for channel in list(self._rooms_by_channel):
                        await conn.add_listener(channel, self._on_notify)
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                logger.warning("signaling bus: reconnect failed (%s); retrying in %.1f s", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, _RECONNECT_MAX_S)
                continue
            self._listen = conn
            self.reconnects += 1
            # Rooms subscribed while the connection was being reopened were added above or will be now.
            async with self._listen_lock:
                for channel in list(self._rooms_by_channel):
                    await conn.add_listener(channel, self._on_notify)
            logger.warning(
                "signaling bus: LISTEN connection restored (%d channels)", len(self._rooms_by_channel)
            )
            return


def asyncpg_dsn(sqlalchemy_url: str) -> str:
    """A SQLAlchemy `postgresql+asyncpg://` URL as asyncpg's DSN."""
    scheme, sep, rest = sqlalchemy_url.partition("://")
    return f"{scheme.split('+', 1)[0]}{sep}{rest}"


def make_bus(settings: Settings) -> MemoryBus:
    """The bus HUB_SIGNALING_BUS selects ("auto": NATS when a URL is set, else PostgreSQL on PostgreSQL)."""
    url = settings.effective_database_url
    choice = settings.effective_signaling_bus
    if choice == "nats":
        from service.signaling.nats_bus import NatsBus  # only deployments with a NATS server load the client

        return NatsBus(settings.signaling_nats_url.get_secret_value())
    if choice == "postgres":
        if not url.startswith("postgresql"):
            raise ValueError("HUB_SIGNALING_BUS=postgres needs a PostgreSQL HUB_DATABASE_URL")
        return PostgresBus(asyncpg_dsn(url))
    return MemoryBus()
