"""Rooms of the signaling socket: one per case, a clerk slot and an officer slot, relayed through the bus.

Framework-free: the router hands each accepted socket to `SignalingHub.serve` behind the small `Transport`
protocol. Every frame a participant sends is validated, re-encoded and published on the bus; every node with a
participant of the room delivers it to its local participant of the other role. Presence crosses replicas as
`hello` / `here` / `gone` envelopes on the same bus, so a clerk on one hub process and an officer on another
see each other, and a resume on another replica replaces the stale socket of this one. The rooms' state and
presence live in `RoomRegistry` (registry.py); this module serves the sockets.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from service.signaling.bus import MemoryBus
from service.signaling.limits import TokenBucket
from service.signaling.participants import (
    Authorize,
    CloseRequest,
    Disconnected,
    HubConfig,
    IceFor,
    Participant,
    Refusal,
    SpendTicket,
    Transport,
    decode_checked,
    frame_envelope,
    make_envelope,
)
from service.signaling.registry import RoomRegistry
from service.signaling.tickets import (
    RESUME_MAX_AGE_S,
    CredentialRejected,
    ResumeClaims,
    TicketClaims,
    issue_resume_token,
    new_nonce,
    verify_resume_token,
    verify_ticket,
)
from service.wire.signaling import (
    MAX_JOIN_FRAME_BYTES,
    SENDABLE_BY,
    ByeMessage,
    CloseCode,
    ErrorMessage,
    HeartbeatMessage,
    JoinedMessage,
    JoinMessage,
    SeqGuard,
    SignalingMessage,
    WireError,
    decode,
    encode,
)

logger = logging.getLogger(__name__)


class SignalingHub(RoomRegistry):
    """Admits sockets to rooms, relays their frames over the bus and keeps presence across replicas."""

    def __init__(
        self,
        config: HubConfig,
        *,
        bus: MemoryBus,
        authorize: Authorize,
        ice_for: IceFor,
        spend_ticket: SpendTicket | None = None,
    ) -> None:
        super().__init__(config, bus=bus)
        self._authorize = authorize
        self._spend_ticket = spend_ticket
        self._ice_for = ice_for
        self._serving = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._watchdog: asyncio.Task[None] | None = None

    async def serve(self, transport: Transport, *, ticket: str | None) -> None:
        """Run one accepted socket until it closes; every refusal is an error frame and a close code."""
        if self._closing:
            await _quiet_close(transport, CloseCode.GOING_AWAY, "hub shutting down")
            return
        if self._watchdog is None:
            self._watchdog = self._spawn(self._watch(), "signaling-watchdog")
        await self.start()
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
        await self.stop()

    async def _serve(self, transport: Transport, ticket: str | None) -> None:
        guard = SeqGuard()
        try:
            participant = await self._admit(transport, ticket, guard)
        except Refusal as refusal:
            frame = ErrorMessage(
                seq=0, code=refusal.code, detail=refusal.detail[:500], ref_seq=refusal.ref_seq
            )
            with contextlib.suppress(Exception):
                await transport.send(encode(frame))
            await _quiet_close(transport, refusal.close_code, refusal.code)
            return
        except Disconnected:
            return
        transport.admitted()
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
                    if isinstance(failure, Refusal)
                    else Refusal(CloseCode.INTERNAL_ERROR, "internal_error", "the hub failed on this frame")
                )
                if not isinstance(failure, Refusal):
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
            raise Refusal(CloseCode.PROTOCOL_ERROR, "join_timeout", "no join frame in time") from exc
        if raw is None:
            raise Disconnected()
        # Nobody is admitted yet: a join is a few hundred bytes, so more is refused before it is even parsed.
        if len(raw) > MAX_JOIN_FRAME_BYTES or (
            isinstance(raw, str) and len(raw.encode("utf-8", "surrogatepass")) > MAX_JOIN_FRAME_BYTES
        ):
            raise Refusal(
                CloseCode.MESSAGE_TOO_BIG,
                "oversize",
                f"more than {MAX_JOIN_FRAME_BYTES} bytes before joining",
            )
        join = decode_checked(raw, guard)
        if not isinstance(join, JoinMessage):
            raise Refusal(
                CloseCode.PROTOCOL_ERROR, "join_required", "the first frame must be a join", join.seq
            )
        if join.resume_token is not None:
            return self._resume(transport, join, join.resume_token)
        return await self._join_with_ticket(transport, join, ticket)

    async def _join_with_ticket(
        self, transport: Transport, join: JoinMessage, ticket: str | None
    ) -> Participant:
        if not ticket:
            raise Refusal(CloseCode.UNAUTHENTICATED, "ticket_required", "connect with ?ticket=…")
        try:
            claims = verify_ticket(self.config.secret, ticket)
        except CredentialRejected as exc:
            raise Refusal(CloseCode.UNAUTHENTICATED, "ticket_rejected", str(exc)) from exc
        # This replica's own book first (no database round trip for a replay here), then the shared one.
        if not self.nonces.spend(claims.nonce, claims.expires_at):
            raise Refusal(CloseCode.UNAUTHENTICATED, "ticket_used", "a ticket admits once")
        # The shared book and the membership check are two independent database round trips: both run at
        # once and both finish before any verdict (#18); the verdicts keep their order below.
        spent, member = await asyncio.gather(
            self._spend_shared(claims), self._authorize(claims), return_exceptions=True
        )
        for failure in (spent, member):
            if isinstance(failure, BaseException):
                raise failure
        if not spent:
            raise Refusal(CloseCode.UNAUTHENTICATED, "ticket_used", "a ticket admits once")
        if claims.room != join.room:
            # The socket's 404: whether that room exists is none of this participant's business.
            raise Refusal(CloseCode.ROOM_NOT_FOUND, "room_not_found", "no such room")
        if claims.role != join.role:
            raise Refusal(CloseCode.FORBIDDEN, "wrong_role", "the ticket is for the other role")
        if not member or self.is_revoked(claims.principal_id):
            raise Refusal(CloseCode.ROOM_NOT_FOUND, "room_not_found", "no such room")
        return self._enter(transport, join, principal_id=claims.principal_id, burned=None)

    async def _spend_shared(self, claims: TicketClaims) -> bool:
        """The ticket's nonce in the book every replica shares; False when one already spent it."""
        return self._spend_ticket is None or await self._spend_ticket(claims.nonce, claims.expires_at)

    def _resume(self, transport: Transport, join: JoinMessage, token: str) -> Participant:
        try:
            claims = verify_resume_token(self.config.secret, token, room=join.room, role=join.role)
        except CredentialRejected as exc:
            raise Refusal(CloseCode.RESUME_REJECTED, "resume_rejected", str(exc)) from exc
        if self.is_revoked(claims.principal_id):
            # A resume token skips the database check of a fresh join: revocation is checked here instead.
            raise Refusal(CloseCode.FORBIDDEN, "revoked", "this device or account was revoked")
        room = self._rooms.get(join.room)
        current = room.current.get(join.role) if room else None
        if not self.nonces.spend(claims.nonce, claims.expires_at) or current not in (None, claims.nonce):
            raise Refusal(
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
        participant.resumed_from = burned
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
            make_envelope(
                self._bus.node_id,
                "hello",
                participant.role,
                session=participant.session,
                burned=participant.resumed_from,
            ),
        )

    async def _write(self, participant: Participant) -> None:
        while True:
            item = await participant.outbox.get()
            participant.last_sent = time.monotonic()
            if isinstance(item, CloseRequest):
                await _quiet_close(participant.transport, item.code, item.reason)
                return
            try:
                await participant.transport.send(item)
            except Exception:
                return  # the socket is gone; the reader sees the same and the room keeps the slot in grace

    async def _read(self, participant: Participant, guard: SeqGuard) -> None:
        bucket = TokenBucket(self.config.rate_per_s, self.config.rate_burst)
        may_send = SENDABLE_BY[participant.role]
        transport = participant.transport
        reading = False

        def inspect(raw: str | bytes) -> tuple[SignalingMessage, str | None]:
            """Every check of one frame but the rate, changing nothing: the frame, and the bus message to publish
            (None for a heartbeat, which ends here). Raises the Refusal that closes the socket."""
            try:
                msg = decode(raw)
                guard.verify(msg)
            except WireError as exc:
                raise Refusal.from_wire(exc) from exc
            if isinstance(msg, HeartbeatMessage):
                return msg, None
            if msg.type not in may_send:  # one set lookup per frame: the relay's hot path
                raise _not_sendable(participant.role, msg)
            if msg.room is not None and msg.room != participant.room:
                raise Refusal(
                    CloseCode.ROOM_NOT_FOUND, "room_not_found", "frames must name the joined room", msg.seq
                )
            return msg, frame_envelope(participant.role, encode(msg))

        def accept(msg: SignalingMessage, now: float) -> None:
            """What a frame that passed every check changes."""
            guard.last = msg.seq
            participant.last_received = now
            if isinstance(msg, ByeMessage):
                participant.left = True

        def take(raw: str) -> bool:
            """The relay's hot path, run by the socket's protocol as a frame arrives (see `Transport.take_frames`).

            The same checks as the loop below. A frame they refuse is not taken, and nothing has changed: the loop
            receives it next and refuses it there, with its error frame and close code.
            """
            if not reading or participant.closing:
                return False  # the loop is busy with an earlier frame: this one waits its turn
            try:
                msg, envelope = inspect(raw)
            except Exception:
                return False
            now = time.monotonic()
            if not bucket.take(now):
                return False  # no token spent: the loop's own take refuses it the same way
            accept(msg, now)
            if envelope is not None:
                self._bus.publish_now(participant.room, envelope)
            return True

        fast = self._bus.at_once and transport.take_frames(take)
        try:
            while True:
                # No timeout per frame (a timer per frame is most of the relay's cost): the watchdog checks silence.
                reading = True
                raw = await transport.receive()
                reading = False
                if raw is None:
                    return
                now = time.monotonic()
                if not bucket.take(now):
                    raise Refusal(CloseCode.RATE_LIMITED, "rate_limited", "too many frames")
                msg, envelope = inspect(raw)
                accept(msg, now)
                if envelope is not None:
                    await self._bus.publish(participant.room, envelope)
        finally:
            if fast:
                transport.take_frames(None)

    async def _watch(self) -> None:
        """Heartbeats both ways for every socket, from one task (a timer per frame would cost more than the relay)."""
        period = min(1.0, self.config.heartbeat_s / 4)
        silent_after = 2 * self.config.heartbeat_s
        while True:
            await asyncio.sleep(period)
            now = time.monotonic()
            for room in list(self._rooms.values()):
                for participant in list(room.local.values()):
                    if participant.closing:
                        continue
                    if now - participant.last_received > silent_after:
                        participant.emit(
                            ErrorMessage(
                                seq=0,
                                room=participant.room,
                                code="heartbeat_timeout",
                                detail=f"nothing received for {silent_after:g} s",
                            )
                        )
                        participant.request_close(CloseCode.HEARTBEAT_TIMEOUT, "heartbeat_timeout")
                    elif now - participant.last_sent >= self.config.heartbeat_s:
                        # The server's side of the heartbeat: an idle socket still carries a frame.
                        participant.emit(HeartbeatMessage(seq=0))


def _not_sendable(role: str, msg: SignalingMessage) -> Refusal:
    """The refusal of a frame this role may not send: the hub's own types, or the other role's."""
    if isinstance(msg, JoinMessage | JoinedMessage | ErrorMessage):
        return Refusal(CloseCode.PROTOCOL_ERROR, "unexpected_type", f"{msg.type} after joining", msg.seq)
    return Refusal(CloseCode.FORBIDDEN, "wrong_role", f"a {role} does not send {msg.type}", msg.seq)


async def _quiet_close(transport: Transport, code: int, reason: str) -> None:
    with contextlib.suppress(Exception):
        await transport.close(code, reason[:120])
