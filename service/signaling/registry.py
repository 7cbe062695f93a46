"""This node's rooms of the signaling hub: slots, resume sessions, presence across replicas, revocation.

`RoomRegistry` holds what the sockets share — each room's local participants, the sessions in their resume
grace, the sessions other replicas announced — and applies the bus's presence news (`hello` / `here` /
`gone`). A hub-wide control channel on the same bus carries revocations: when a device (or account) is
revoked, every replica closes that principal's sockets at once and refuses its resume tokens.
`SignalingHub` (rooms.py) adds the sockets themselves.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Coroutine
from functools import partial
from typing import Final

from service.signaling.bus import MemoryBus, Subscription
from service.signaling.participants import (
    FRAME_ENVELOPE,
    HubConfig,
    HubCounts,
    Participant,
    RoomState,
    make_envelope,
)
from service.signaling.tickets import RESUME_MAX_AGE_S, NonceBook, ParticipantRole
from service.wire.signaling import ByeMessage, ByeReason, CloseCode, ErrorMessage, JoinedMessage

logger = logging.getLogger(__name__)

CONTROL_ROOM: Final = "hub:control"
"""The bus room of hub-wide news; no case id has a colon, so no ticket can name it."""


class RoomRegistry:
    """Rooms, sessions and presence on this node, kept in step with the other replicas through the bus."""

    def __init__(self, config: HubConfig, *, bus: MemoryBus) -> None:
        self.config = config
        self.nonces = NonceBook()
        self._bus = bus
        self._rooms: dict[str, RoomState] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._closing = False
        self._control: Subscription | None = None
        # Revoked principals until their last resume token could have expired: no resume on any replica.
        self._revoked: dict[str, float] = {}

    async def start(self) -> None:
        """Listen to the hub-wide control channel (idempotent)."""
        if self._control is None:
            self._control = await self._bus.subscribe(CONTROL_ROOM, self._on_control)

    async def stop(self) -> None:
        """Stop listening to the control channel."""
        control, self._control = self._control, None
        if control is not None:
            with contextlib.suppress(Exception):
                await self._bus.unsubscribe(control)

    async def revoke(self, principal_id: str) -> None:
        """Close `principal_id`'s sockets on every replica now (close code 4003, error `revoked`)."""
        await self.start()
        await self._bus.publish(
            CONTROL_ROOM,
            json.dumps({"n": self._bus.node_id, "k": "revoke", "p": principal_id}, separators=(",", ":")),
        )

    def is_revoked(self, principal_id: str) -> bool:
        """Whether `principal_id` was revoked recently enough that a resume token of it may still be live."""
        now = time.time()
        for expired in [p for p, until in self._revoked.items() if until < now]:
            del self._revoked[expired]
        return principal_id in self._revoked

    def _on_control(self, message: str) -> None:
        try:
            event = json.loads(message)
            if event.get("k") != "revoke":
                return
            principal_id = str(event["p"])
        except (ValueError, KeyError, TypeError):
            logger.exception("signaling: bad control message")
            return
        self._revoked[principal_id] = time.time() + RESUME_MAX_AGE_S
        for room in list(self._rooms.values()):
            for participant in list(room.local.values()):
                if participant.principal_id != principal_id or participant.closing:
                    continue
                participant.revoked = True
                participant.emit(
                    ErrorMessage(
                        seq=0, room=room.name, code="revoked", detail="this device or account was revoked"
                    )
                )
                participant.request_close(CloseCode.FORBIDDEN, "revoked")

    def counts(self) -> HubCounts:
        """Rooms, joined participants and participants in their resume grace period on this node."""
        rooms = self._rooms.values()
        return HubCounts(
            rooms=len(self._rooms),
            participants=sum(len(r.local) for r in rooms),
            in_grace=sum(len(r.dropped) for r in rooms),
        )

    def _room(self, name: str) -> RoomState:
        room = self._rooms.get(name)
        if room is None:
            room = RoomState(name)
            self._rooms[name] = room
            room.listener = self._spawn(self._listen(room), f"signaling-listen-{name}")
        return room

    def _spawn(self, coro: Coroutine[object, object, None], name: str) -> asyncio.Task[None]:
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def _burn(self, session: str) -> None:
        self.nonces.burn(session, time.time() + RESUME_MAX_AGE_S)

    def _vacate(self, room: RoomState, role: ParticipantRole, *, keep: str) -> None:
        """Free a role's slot for a newer session: close the older local socket, end its grace, forget it."""
        old = room.local.pop(role, None)
        if old is not None and old.session != keep:
            old.replaced = True
            old.request_close(CloseCode.REPLACED, "replaced by a newer join")
            self._burn(old.session)
        dropped = room.dropped.pop(role, None)
        if dropped is not None and dropped[0] != keep:
            dropped[1].cancel()
            self._burn(dropped[0])
        remote = room.remote.pop(role, None)
        if remote is not None and remote != keep:
            self._burn(remote)
        previous = room.current.get(role)
        if previous is not None and previous != keep:
            self._burn(previous)

    def _depart(self, participant: Participant) -> None:
        room = self._rooms.get(participant.room)
        if room is None:
            return
        if room.local.get(participant.role) is participant:
            del room.local[participant.role]
            # While the hub shuts down the session stays valid: the client resumes on another replica.
            if self._closing:
                self._maybe_retire(room)
                return
            if participant.left or participant.revoked:
                self._end_session(room, participant.role, participant.session)
                why: ByeReason | None = "revoked" if participant.revoked else None
                if why:
                    for other in room.local.values():
                        other.emit(ByeMessage(seq=0, room=room.name, reason=why))
                self._spawn(
                    self._publish_gone(
                        room.name, participant.role, participant.session, bye=participant.left, why=why
                    ),
                    f"signaling-gone-{room.name}",
                )
            else:
                grace = self._spawn(
                    self._grace(room, participant.role, participant.session), f"signaling-grace-{room.name}"
                )
                room.dropped[participant.role] = (participant.session, grace)
        self._maybe_retire(room)

    def _end_session(self, room: RoomState, role: ParticipantRole, session: str) -> None:
        if room.current.get(role) == session:
            del room.current[role]
        self._burn(session)
        for other in room.local.values():
            other.known_peers = frozenset(room.present() - {other.role})

    async def _grace(self, room: RoomState, role: ParticipantRole, session: str) -> None:
        await asyncio.sleep(self.config.resume_grace_s)
        if room.dropped.get(role, ("",))[0] != session:
            return
        del room.dropped[role]
        self._end_session(room, role, session)
        for other in room.local.values():
            other.emit(ByeMessage(seq=0, room=room.name, reason="timeout"))
        await self._publish_gone(room.name, role, session, bye=False)
        self._maybe_retire(room)

    async def _publish_gone(
        self, room: str, role: ParticipantRole, session: str, *, bye: bool, why: ByeReason | None = None
    ) -> None:
        await self._bus.publish(
            room, make_envelope(self._bus.node_id, "gone", role, session=session, bye=bye, why=why)
        )

    def _maybe_retire(self, room: RoomState) -> None:
        if room.idle() and self._rooms.get(room.name) is room:
            del self._rooms[room.name]
            if room.listener is not None:
                room.listener.cancel()

    def _refresh_presence(self, room: RoomState) -> None:
        """Tell each local participant about a peer that arrived since its last joined frame."""
        for participant in room.local.values():
            peers = frozenset(room.present() - {participant.role})
            arrived = bool(peers - participant.known_peers)
            participant.known_peers = peers
            if arrived:
                participant.emit(self._joined(participant))

    def _joined(self, participant: Participant) -> JoinedMessage:
        return JoinedMessage(
            seq=0,
            room=participant.room,
            role=participant.role,
            peers_present=sorted(participant.known_peers),
            resume_token=participant.resume_token,
            ice_servers=participant.ice_servers,
            relay_only=self.config.relay_only,
            heartbeat_s=self.config.heartbeat_s,
        )

    async def _listen(self, room: RoomState) -> None:
        """Hold the room's bus subscription until the room retires; messages go straight to `_on_bus_message`."""
        try:
            subscription = await self._bus.subscribe(room.name, partial(self._on_bus_message, room))
        except Exception:
            logger.exception("signaling: cannot subscribe to room %s", room.name)
            room.broken = True
            return
        finally:
            room.ready.set()
        try:
            await asyncio.get_running_loop().create_future()  # until cancelled by _maybe_retire or close
        finally:
            with contextlib.suppress(Exception):
                await self._bus.unsubscribe(subscription)

    def _on_bus_message(self, room: RoomState, message: str) -> None:
        try:
            if message.startswith(FRAME_ENVELOPE):
                # A relayed frame, the relay's hot path: handled here rather than one call further (#18).
                end = message.index("\n")
                sender, frame = message[1:end], message[end + 1 :]
                for participant in room.local.values():
                    if participant.role != sender:
                        participant.relay(frame)
                return
            self._dispatch(room, message)
        except Exception:
            # One unreadable envelope (another replica's bug) must not stop the room.
            logger.exception("signaling: bad bus envelope in room %s", room.name)

    def _dispatch(self, room: RoomState, text: str) -> None:
        """Apply one bus message other than a relayed frame (those `_on_bus_message` relays itself)."""
        event = json.loads(text)
        kind: str = event["k"]
        role: ParticipantRole = event["r"]
        if kind == "frame":  # a replica from before frame_envelope
            for participant in room.local.values():
                if participant.role != role:
                    participant.relay(event["f"])
            return
        if event["n"] == self._bus.node_id:
            return  # this node's own presence news, applied when it happened
        session: str = event["s"]
        if kind == "hello":
            if event["b"]:
                self._burn(event["b"])  # a resume token used on another replica is spent here too
            self._vacate(room, role, keep=session)
            room.remote[role] = session
            room.current[role] = session
            for participant in room.local.values():
                self._spawn(
                    self._bus.publish(
                        room.name,
                        make_envelope(
                            self._bus.node_id, "here", participant.role, session=participant.session
                        ),
                    ),
                    f"signaling-here-{room.name}",
                )
            self._refresh_presence(room)
        elif kind == "here":
            if room.current.get(role) in (None, session) and role not in room.local:
                room.remote[role] = session
                room.current[role] = session
                self._refresh_presence(room)
        elif kind == "gone" and room.remote.get(role) == session:
            del room.remote[role]
            self._end_session(room, role, session)
            if not event["bye"]:
                reason: ByeReason = event.get("why") or "timeout"
                for participant in room.local.values():
                    participant.emit(ByeMessage(seq=0, room=room.name, reason=reason))
        self._maybe_retire(room)
