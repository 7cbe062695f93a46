"""Rooms of the signaling socket: one per case, a clerk slot and an officer slot, relayed through the bus.

Framework-free: the router hands each accepted socket to `SignalingHub.serve` behind the small `Transport`
protocol. Every frame a participant sends is validated, re-encoded and published on the bus; every node with a
participant of the room delivers it to its local participant of the other role. Presence crosses replicas as
`hello` / `here` / `gone` envelopes on the same bus, so a clerk on one hub process and an officer on another
see each other, and a resume on another replica replaces the stale socket of this one.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Final, Protocol

from service.signaling.bus import MemoryBus, Subscription
from service.signaling.limits import TokenBucket
from service.signaling.tickets import (
    RESUME_MAX_AGE_S,
    CredentialRejected,
    NonceBook,
    ParticipantRole,
    ResumeClaims,
    TicketClaims,
    issue_resume_token,
    new_nonce,
    verify_resume_token,
    verify_ticket,
)
from service.wire.signaling import (
    ByeMessage,
    CloseCode,
    ErrorMessage,
    HeartbeatMessage,
    IceServer,
    JoinedMessage,
    JoinMessage,
    SeqCounter,
    SeqGuard,
    SignalingMessage,
    WireError,
    decode,
    encode,
)

logger = logging.getLogger(__name__)

ROLES: Final[tuple[ParticipantRole, ParticipantRole]] = ("clerk", "officer")


class Transport(Protocol):
    """One accepted WebSocket, as the hub needs it."""

    async def receive(self) -> str | bytes | None:
        """The next message; None once the client has gone."""

    async def send(self, text: str) -> None:
        """Send one text message."""

    async def close(self, code: int, reason: str) -> None:
        """Close with a WebSocket close code."""


Authorize = Callable[[TicketClaims], Awaitable[bool]]
"""Whether the ticket's principal still belongs in the room (a short database check at join)."""
IceFor = Callable[[str], list[IceServer]]
"""The ICE servers, with freshly minted TURN credentials, of one principal."""


@dataclass(frozen=True)
class HubConfig:
    """Limits and timings of the signaling hub."""

    secret: bytes
    resume_grace_s: float = 20.0
    heartbeat_s: float = 15.0
    rate_per_s: float = 20.0
    rate_burst: int = 60
    relay_only: bool = False
    join_timeout_s: float = 10.0
    outbox_limit: int = 256


@dataclass(frozen=True)
class HubCounts:
    """What the hub holds right now (for tests and the load bench)."""

    rooms: int
    participants: int
    in_grace: int


class _Refusal(Exception):
    """A frame or a join the hub refuses: an error frame, then a close with `close_code`."""

    def __init__(self, close_code: CloseCode, code: str, detail: str, ref_seq: int | None = None) -> None:
        super().__init__(f"{code}: {detail}")
        self.close_code = close_code
        self.code = code
        self.detail = detail
        self.ref_seq = ref_seq

    @classmethod
    def from_wire(cls, exc: WireError) -> _Refusal:
        return cls(exc.close_code, exc.code.value, exc.detail)


class _Disconnected(Exception):
    """The client went away before joining."""


@dataclass(frozen=True)
class _Close:
    code: int
    reason: str


class Participant:
    """One joined socket: its slot in the room, its outgoing queue and its own outgoing numbering."""

    def __init__(
        self,
        *,
        room: str,
        role: ParticipantRole,
        principal_id: str,
        session: str,
        resume_token: str,
        ice_servers: list[IceServer],
        transport: Transport,
        outbox_limit: int,
    ) -> None:
        self.room = room
        self.role = role
        self.principal_id = principal_id
        self.session = session
        self.resume_token = resume_token
        self.ice_servers = ice_servers
        self.transport = transport
        self.outbox: asyncio.Queue[str | _Close] = asyncio.Queue()
        self.known_peers: frozenset[ParticipantRole] = frozenset()
        self.left = False
        self.replaced = False
        self.closing = False
        # The hub is this socket's only sender, so it numbers every frame it sends, relayed ones included.
        self._seq = SeqCounter()
        self._limit = outbox_limit

    def emit(self, msg: SignalingMessage) -> None:
        """Queue a frame of the hub's own."""
        self._put(encode(msg.model_copy(update={"seq": self._seq.next()})))

    def relay(self, canonical: str) -> None:
        """Queue a relayed frame, renumbered (the text is the hub's own encoding, so `seq` is its first key)."""
        _, _, rest = canonical.partition(",")
        self._put(f'{{"seq":{self._seq.next()},{rest}')

    def next_seq(self) -> int:
        """The seq of a frame the writer makes itself (heartbeats)."""
        return self._seq.next()

    def request_close(self, code: CloseCode, reason: str) -> None:
        """Close after the frames already queued (an error frame goes out before the close)."""
        if self.closing:
            return
        self.closing = True
        self.outbox.put_nowait(_Close(int(code), reason))

    def _put(self, text: str) -> None:
        if self.closing:
            return
        if self.outbox.qsize() >= self._limit:
            # A client that stops reading must not grow the hub's memory without bound.
            while not self.outbox.empty():
                self.outbox.get_nowait()
            self.request_close(CloseCode.POLICY_VIOLATION, "not reading its frames")
            return
        self.outbox.put_nowait(text)


class _Room:
    """This node's view of one room."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.local: dict[ParticipantRole, Participant] = {}
        self.dropped: dict[ParticipantRole, tuple[str, asyncio.Task[None]]] = {}
        self.remote: dict[ParticipantRole, str] = {}
        # The session each role holds now, wherever it is: a resume token of an older session is refused.
        self.current: dict[ParticipantRole, str] = {}
        self.ready = asyncio.Event()
        self.broken = False
        self.pump: asyncio.Task[None] | None = None

    def present(self) -> set[ParticipantRole]:
        return set(self.local) | set(self.dropped) | set(self.remote)

    def idle(self) -> bool:
        return not self.local and not self.dropped


def _envelope(
    node: str,
    kind: str,
    role: ParticipantRole,
    *,
    session: str | None = None,
    burned: str | None = None,
    frame: str | None = None,
    bye: bool = False,
) -> str:
    return json.dumps(
        {"n": node, "k": kind, "r": role, "s": session, "b": burned, "f": frame, "bye": bye},
        separators=(",", ":"),
    )


class SignalingHub:
    """Admits sockets to rooms, relays their frames over the bus and keeps presence across replicas."""

    def __init__(self, config: HubConfig, *, bus: MemoryBus, authorize: Authorize, ice_for: IceFor) -> None:
        self.config = config
        self.nonces = NonceBook()
        self._bus = bus
        self._authorize = authorize
        self._ice_for = ice_for
        self._rooms: dict[str, _Room] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._serving = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._closing = False

    def counts(self) -> HubCounts:
        """Rooms, joined participants and participants in their resume grace period on this node."""
        rooms = self._rooms.values()
        return HubCounts(
            rooms=len(self._rooms),
            participants=sum(len(r.local) for r in rooms),
            in_grace=sum(len(r.dropped) for r in rooms),
        )

    async def serve(self, transport: Transport, *, ticket: str | None) -> None:
        """Run one accepted socket until it closes; every refusal is an error frame and a close code."""
        if self._closing:
            await _quiet_close(transport, CloseCode.GOING_AWAY, "hub shutting down")
            return
        self._serving += 1
        self._idle.clear()
        try:
            await self._serve(transport, ticket)
        finally:
            self._serving -= 1
            if self._serving == 0:
                self._idle.set()

    async def close(self) -> None:
        """Close every socket (GOING_AWAY, so clients resume on another replica) and stop every task."""
        self._closing = True
        for room in list(self._rooms.values()):
            for participant in list(room.local.values()):
                participant.request_close(CloseCode.GOING_AWAY, "hub shutting down")
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(2.0):
                await self._idle.wait()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        self._rooms.clear()

    # --- one socket -----------------------------------------------------------------------------------

    async def _serve(self, transport: Transport, ticket: str | None) -> None:
        guard = SeqGuard()
        try:
            participant = await self._admit(transport, ticket, guard)
        except _Refusal as refusal:
            frame = ErrorMessage(
                seq=0, code=refusal.code, detail=refusal.detail[:500], ref_seq=refusal.ref_seq
            )
            with contextlib.suppress(Exception):
                await transport.send(encode(frame))
            await _quiet_close(transport, refusal.close_code, refusal.code)
            return
        except _Disconnected:
            return
        writer = asyncio.create_task(self._write(participant), name=f"signaling-write-{participant.room}")
        reader: asyncio.Task[None] | None = None
        try:
            # Frames are read only once the room's subscription is up, so none is published into the void.
            await self._announce(participant)
            reader = asyncio.create_task(
                self._read(participant, guard), name=f"signaling-read-{participant.room}"
            )
            await asyncio.wait({writer, reader}, return_when=asyncio.FIRST_COMPLETED)
            if reader.done() and not reader.cancelled() and reader.exception() is not None:
                failure = reader.exception()
                failed_with = (
                    failure
                    if isinstance(failure, _Refusal)
                    else _Refusal(CloseCode.INTERNAL_ERROR, "internal_error", "the hub failed on this frame")
                )
                if not isinstance(failure, _Refusal):
                    logger.error("signaling: reader failed", exc_info=failure)
                participant.emit(
                    ErrorMessage(
                        seq=0,
                        room=participant.room,
                        code=failed_with.code,
                        detail=failed_with.detail[:500],
                        ref_seq=failed_with.ref_seq,
                    )
                )
                participant.request_close(failed_with.close_code, failed_with.code)
                # Let the writer flush the error frame and close; a client that stopped reading gets 2 s.
                await asyncio.wait({writer}, timeout=2.0)
        finally:
            tasks = [task for task in (reader, writer) if task is not None]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            self._depart(participant)

    async def _admit(self, transport: Transport, ticket: str | None, guard: SeqGuard) -> Participant:
        try:
            async with asyncio.timeout(self.config.join_timeout_s):
                raw = await transport.receive()
        except TimeoutError as exc:
            raise _Refusal(CloseCode.PROTOCOL_ERROR, "join_timeout", "no join frame in time") from exc
        if raw is None:
            raise _Disconnected()
        join = _decode(raw, guard)
        if not isinstance(join, JoinMessage):
            raise _Refusal(
                CloseCode.PROTOCOL_ERROR, "join_required", "the first frame must be a join", join.seq
            )
        if join.resume_token is not None:
            return self._resume(transport, join, join.resume_token)
        return await self._join_with_ticket(transport, join, ticket)

    async def _join_with_ticket(
        self, transport: Transport, join: JoinMessage, ticket: str | None
    ) -> Participant:
        if not ticket:
            raise _Refusal(CloseCode.UNAUTHENTICATED, "ticket_required", "connect with ?ticket=…")
        try:
            claims = verify_ticket(self.config.secret, ticket)
        except CredentialRejected as exc:
            raise _Refusal(CloseCode.UNAUTHENTICATED, "ticket_rejected", str(exc)) from exc
        if not self.nonces.spend(claims.nonce, claims.expires_at):
            raise _Refusal(CloseCode.UNAUTHENTICATED, "ticket_used", "a ticket admits once")
        if claims.room != join.room:
            # The socket's 404: whether that room exists is none of this participant's business.
            raise _Refusal(CloseCode.ROOM_NOT_FOUND, "room_not_found", "no such room")
        if claims.role != join.role:
            raise _Refusal(CloseCode.FORBIDDEN, "wrong_role", "the ticket is for the other role")
        if not await self._authorize(claims):
            raise _Refusal(CloseCode.ROOM_NOT_FOUND, "room_not_found", "no such room")
        return self._enter(transport, join, principal_id=claims.principal_id, burned=None)

    def _resume(self, transport: Transport, join: JoinMessage, token: str) -> Participant:
        try:
            claims = verify_resume_token(self.config.secret, token, room=join.room, role=join.role)
        except CredentialRejected as exc:
            raise _Refusal(CloseCode.RESUME_REJECTED, "resume_rejected", str(exc)) from exc
        room = self._rooms.get(join.room)
        current = room.current.get(join.role) if room else None
        if not self.nonces.spend(claims.nonce, claims.expires_at) or current not in (None, claims.nonce):
            raise _Refusal(
                CloseCode.RESUME_REJECTED, "resume_rejected", "this resume token was used or superseded"
            )
        return self._enter(transport, join, principal_id=claims.principal_id, burned=claims.nonce)

    def _enter(
        self, transport: Transport, join: JoinMessage, *, principal_id: str, burned: str | None
    ) -> Participant:
        # Synchronous on purpose: the resume check above and taking the slot happen with no await between.
        room = self._room(join.room)
        session = new_nonce()
        expires_at = int(time.time()) + RESUME_MAX_AGE_S
        token = issue_resume_token(
            self.config.secret, ResumeClaims(room.name, join.role, principal_id, expires_at, session)
        )
        participant = Participant(
            room=room.name,
            role=join.role,
            principal_id=principal_id,
            session=session,
            resume_token=token,
            ice_servers=self._ice_for(principal_id),
            transport=transport,
            outbox_limit=self.config.outbox_limit,
        )
        self._vacate(room, join.role, keep=session)
        if burned is not None:
            self._burn(burned)
        room.local[join.role] = participant
        room.current[join.role] = session
        return participant

    async def _announce(self, participant: Participant) -> None:
        room = self._rooms[participant.room]
        participant.known_peers = frozenset(room.present() - {participant.role})
        participant.emit(self._joined(participant))
        self._refresh_presence(room)
        await room.ready.wait()
        if room.broken:
            participant.request_close(CloseCode.INTERNAL_ERROR, "signaling bus unavailable")
            return
        await self._bus.publish(
            room.name,
            _envelope(self._bus.node_id, "hello", participant.role, session=participant.session),
        )

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

    async def _write(self, participant: Participant) -> None:
        while True:
            try:
                async with asyncio.timeout(self.config.heartbeat_s):
                    item = await participant.outbox.get()
            except TimeoutError:
                # The server's side of the heartbeat: an idle socket still carries a frame every heartbeat_s.
                item = encode(HeartbeatMessage(seq=participant.next_seq()))
            if isinstance(item, _Close):
                await _quiet_close(participant.transport, item.code, item.reason)
                return
            try:
                await participant.transport.send(item)
            except Exception:
                return  # the socket is gone; the reader sees the same and the room keeps the slot in grace

    async def _read(self, participant: Participant, guard: SeqGuard) -> None:
        bucket = TokenBucket(self.config.rate_per_s, self.config.rate_burst)
        deadline = 2 * self.config.heartbeat_s
        while True:
            try:
                async with asyncio.timeout(deadline):
                    raw = await participant.transport.receive()
            except TimeoutError as exc:
                raise _Refusal(
                    CloseCode.HEARTBEAT_TIMEOUT, "heartbeat_timeout", f"nothing received for {deadline:g} s"
                ) from exc
            if raw is None:
                return
            if not bucket.take():
                raise _Refusal(CloseCode.RATE_LIMITED, "rate_limited", "too many frames")
            msg = _decode(raw, guard)
            if isinstance(msg, HeartbeatMessage):
                continue
            if isinstance(msg, JoinMessage | JoinedMessage):
                raise _Refusal(
                    CloseCode.PROTOCOL_ERROR, "unexpected_type", f"{msg.type} after joining", msg.seq
                )
            if msg.room is not None and msg.room != participant.room:
                raise _Refusal(
                    CloseCode.ROOM_NOT_FOUND, "room_not_found", "frames must name the joined room", msg.seq
                )
            if isinstance(msg, ByeMessage):
                participant.left = True
            await self._bus.publish(
                participant.room, _envelope(self._bus.node_id, "frame", participant.role, frame=encode(msg))
            )

    # --- room state -------------------------------------------------------------------------------------

    def _room(self, name: str) -> _Room:
        room = self._rooms.get(name)
        if room is None:
            room = _Room(name)
            self._rooms[name] = room
            room.pump = self._spawn(self._pump(room), f"signaling-pump-{name}")
        return room

    def _spawn(self, coro: Coroutine[object, object, None], name: str) -> asyncio.Task[None]:
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def _burn(self, session: str) -> None:
        self.nonces.burn(session, time.time() + RESUME_MAX_AGE_S)

    def _vacate(self, room: _Room, role: ParticipantRole, *, keep: str) -> None:
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
            if participant.left:
                self._end_session(room, participant.role, participant.session)
                self._spawn(
                    self._publish_gone(room.name, participant.role, participant.session, bye=True),
                    f"signaling-gone-{room.name}",
                )
            else:
                grace = self._spawn(
                    self._grace(room, participant.role, participant.session), f"signaling-grace-{room.name}"
                )
                room.dropped[participant.role] = (participant.session, grace)
        self._maybe_retire(room)

    def _end_session(self, room: _Room, role: ParticipantRole, session: str) -> None:
        if room.current.get(role) == session:
            del room.current[role]
        self._burn(session)
        for other in room.local.values():
            other.known_peers = frozenset(room.present() - {other.role})

    async def _grace(self, room: _Room, role: ParticipantRole, session: str) -> None:
        await asyncio.sleep(self.config.resume_grace_s)
        if room.dropped.get(role, ("",))[0] != session:
            return
        del room.dropped[role]
        self._end_session(room, role, session)
        for other in room.local.values():
            other.emit(ByeMessage(seq=0, room=room.name, reason="timeout"))
        await self._publish_gone(room.name, role, session, bye=False)
        self._maybe_retire(room)

    async def _publish_gone(self, room: str, role: ParticipantRole, session: str, *, bye: bool) -> None:
        await self._bus.publish(room, _envelope(self._bus.node_id, "gone", role, session=session, bye=bye))

    def _maybe_retire(self, room: _Room) -> None:
        if room.idle() and self._rooms.get(room.name) is room:
            del self._rooms[room.name]
            if room.pump is not None:
                room.pump.cancel()

    def _refresh_presence(self, room: _Room) -> None:
        """Tell each local participant about a peer that arrived since its last joined frame."""
        for participant in room.local.values():
            peers = frozenset(room.present() - {participant.role})
            arrived = bool(peers - participant.known_peers)
            participant.known_peers = peers
            if arrived:
                participant.emit(self._joined(participant))

    async def _pump(self, room: _Room) -> None:
        subscription: Subscription | None = None
        try:
            subscription = await self._bus.subscribe(room.name)
        except Exception:
            logger.exception("signaling: cannot subscribe to room %s", room.name)
            room.broken = True
        finally:
            room.ready.set()
        if subscription is None:
            return
        try:
            while True:
                envelope = await subscription.get()
                try:
                    self._dispatch(room, envelope)
                except Exception:
                    # One unreadable envelope (another replica's bug) must not stop the room.
                    logger.exception("signaling: bad bus envelope in room %s", room.name)
        finally:
            with contextlib.suppress(Exception):
                await self._bus.unsubscribe(subscription)

    def _dispatch(self, room: _Room, text: str) -> None:
        envelope = json.loads(text)
        kind: str = envelope["k"]
        role: ParticipantRole = envelope["r"]
        if kind == "frame":
            for participant in room.local.values():
                if participant.role != role:
                    participant.relay(envelope["f"])
            return
        if envelope["n"] == self._bus.node_id:
            return  # this node's own presence news, applied when it happened
        session: str = envelope["s"]
        if kind == "hello":
            self._vacate(room, role, keep=session)
            room.remote[role] = session
            room.current[role] = session
            for participant in room.local.values():
                self._spawn(
                    self._bus.publish(
                        room.name,
                        _envelope(self._bus.node_id, "here", participant.role, session=participant.session),
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
            if not envelope["bye"]:
                for participant in room.local.values():
                    participant.emit(ByeMessage(seq=0, room=room.name, reason="timeout"))
        self._maybe_retire(room)


def _decode(raw: str | bytes, guard: SeqGuard) -> SignalingMessage:
    try:
        msg = decode(raw)
        guard.check(msg)
    except WireError as exc:
        raise _Refusal.from_wire(exc) from exc
    return msg


async def _quiet_close(transport: Transport, code: int, reason: str) -> None:
    with contextlib.suppress(Exception):
        await transport.close(code, reason[:120])
