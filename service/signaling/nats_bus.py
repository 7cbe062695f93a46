"""The NATS signaling bus (HUB_SIGNALING_BUS=nats): room fan-out across replicas through a NATS server.

Chosen over PostgreSQL LISTEN/NOTIFY where the national peak needs it (docs/capacity.md §Bus): a NOTIFY is a
database transaction, serialised on one connection per replica, and every listening backend matches every
notification of the database against its list of channels, so the PostgreSQL bus slows as rooms grow. NATS
routes by subject in the server, and a publish is a buffered write.

One subject per room with a local subscriber; NATS keeps the order of one connection's messages on a subject,
which is the order the relay needs. A message carries the publishing node's id so that a node drops its own
copy (delivered locally at publish, as the PostgreSQL bus does). nats-py reconnects by itself and subscribes
again; messages published meanwhile are not replayed (core NATS keeps none), as with PostgreSQL, so the peers of
a call in that window rely on their own renegotiation.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Final

import nats
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription as NatsSubscription

from service.signaling.bus import Handler, MemoryBus, Subscription

logger = logging.getLogger(__name__)

SUBJECT_PREFIX: Final = "madoguchi.sig."
_RECONNECT_WAIT_S: Final = 0.5


def subject_of(room: str) -> str:
    """The NATS subject of a room: a hash, since room ids may hold characters subjects may not (`.`, `*`, `>`)."""
    return SUBJECT_PREFIX + hashlib.sha256(room.encode()).hexdigest()[:32]


class NatsBus(MemoryBus):
    """MemoryBus for this node's subscribers, plus a NATS subject per room to and from the other replicas."""

    def __init__(self, url: str) -> None:
        super().__init__()
        self._url = url
        self._nc: Client | None = None
        self._subjects: dict[str, NatsSubscription] = {}
        self._prefix = f"{self.node_id}:"
        self._closing = False

    async def start(self) -> None:
        """Connect; retry for ever once connected (the hub keeps serving local rooms meanwhile)."""

        async def disconnected() -> None:
            if self._closing:
                return
            logger.error("signaling bus: the NATS connection was lost; reconnecting")

        async def reconnected() -> None:
            logger.warning("signaling bus: NATS connection restored (%d subjects)", len(self._subjects))

        async def error(exc: Exception) -> None:
            logger.warning("signaling bus: NATS error: %s", exc)

        self._nc = await nats.connect(
            [u.strip() for u in self._url.split(",") if u.strip()],
            name=f"madoguchi-hub-{self.node_id}",
            max_reconnect_attempts=-1,
            reconnect_time_wait=_RECONNECT_WAIT_S,
            disconnected_cb=disconnected,
            reconnected_cb=reconnected,
            error_cb=error,
        )

    async def close(self) -> None:
        """Drop the subscriptions and close the connection."""
        self._closing = True
        await super().close()
        self._subjects.clear()
        if self._nc is not None and not self._nc.is_closed:
            await self._nc.close()
        self._nc = None

    @property
    def connected(self) -> bool:
        """Whether the NATS connection is up (False while nats-py reconnects)."""
        return self._nc is not None and self._nc.is_connected

    async def publish(self, room: str, frame: str) -> None:
        """Deliver here at once, and publish to the other replicas (buffered; nats-py flushes it)."""
        self._deliver_local(room, frame)
        if self._nc is None:
            raise RuntimeError("NatsBus is not started")
        await self._nc.publish(subject_of(room), (self._prefix + frame).encode())

    async def subscribe(self, room: str, handler: Handler | None = None) -> Subscription:
        """A local subscription; a NATS subscription of the room's subject when it is the first here."""
        first = room not in self._subscribers
        subscription = await super().subscribe(room, handler)
        if first and self._nc is not None:

            async def on_message(msg: Msg) -> None:
                node, _, frame = msg.data.decode().partition(":")
                if node != self.node_id:
                    self._deliver_local(room, frame)

            self._subjects[room] = await self._nc.subscribe(subject_of(room), cb=on_message)
            # Like LISTEN's round trip: the server has the subscription before the room announces itself.
            await self._flush_subscriptions(self._nc)
        return subscription

    @staticmethod
    async def _flush_subscriptions(nc: Client) -> None:
        """Return once the server has every SUB this connection sent so far.

        One `flush()` is not enough with nats-py (2.16): `subscribe()` leaves its SUB in the client's pending
        buffer for the flusher task, but `flush()` writes its PING to the socket at once, ahead of it. The PONG
        can then come back before the server has read the SUB, and a frame another replica publishes in that
        moment finds no subscriber and is dropped (core NATS keeps nothing). While the first round trip waits,
        the flusher writes the SUB (it was woken before the PING was written); the second PING goes out behind
        it, and the server answers one connection's commands in order.
        """
        await nc.flush()
        await nc.flush()

    async def unsubscribe(self, subscription: Subscription) -> None:
        """Drop the subscription; unsubscribe the subject when it was the room's last one here."""
        if self._drop_local(subscription) and (nats_sub := self._subjects.pop(subscription.room, None)):
            await nats_sub.unsubscribe()
