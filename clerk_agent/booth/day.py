"""A booth day on the officer's laptop: log in before leaving, record cases offline, sync when the network returns.

docs/booths.md. The store (store.py) is unlocked only by the data key the hub hands out with the session; each
case is synced on its own by its id and sequence, and the hub's answer is kept so that nothing is sent twice.
"""

from __future__ import annotations

import base64
import datetime as dt
import logging
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey

from clerk_agent.booth.hub import BoothHub, wipe_ordered
from clerk_agent.booth.store import BoothStore
from clerk_agent.errors import AgentError
from clerk_agent.link.hub import HubRefused, HubUnavailable
from service.wire import booths as wire
from service.wire.device_auth import b64url_decode
from service.wire.pin_seal import seal

log = logging.getLogger(__name__)
T = TypeVar("T")
TOKYO = dt.timezone(dt.timedelta(hours=9))
# Consecutive unreachable answers after which a sync round stops (the network is down again).
OFFLINE_AFTER = 3


class BoothWiped(AgentError):
    """The hub said this laptop or its session is revoked: the store is wiped, the booth is over."""

    retriable = False
    code = "booth_wiped"


class NotReceivable(AgentError):
    """The applicant's municipality does not accept forwarding from this booth: say so before capturing."""

    retriable = False
    code = "booth_forwarding_not_accepted"


class NotLoggedIn(AgentError):
    retriable = False
    code = "booth_not_logged_in"


def new_case_id() -> str:
    """A booth case id, made offline; it becomes the hub's case id."""
    return "case_bth" + secrets.token_urlsafe(18)


@dataclass
class Capture:
    """What the officer collected at the desk for one applicant (the store encrypts all of it)."""

    residence_municipality_code: str
    shinseisho_id: str
    answers: dict[str, bool]
    decision: wire.Decision
    consents: dict[str, str] = field(default_factory=dict)
    stills: list[tuple[str, str, bytes]] = field(default_factory=list)  # kind, content type, bytes
    pins: dict[str, bytearray] | None = None
    face_auth: bool = False


@dataclass
class SyncReport:
    """One sync round: what the hub answered, and whether the round ended because the network was gone."""

    synced: int = 0
    conflicts: int = 0
    refused: int = 0
    failed: int = 0
    offline: bool = False


class BoothDay:
    """The booth session on this laptop."""

    def __init__(
        self,
        store: BoothStore,
        hub: BoothHub,
        *,
        now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self.store = store
        self.hub = hub
        self.now = now
        self.session: wire.SessionRead | None = None
        self.wiped = False

    # ---- before leaving, and on restart --------------------------------------------------------------------

    async def login(
        self, *, username: str, password: str, totp: str | None, booth_id: str
    ) -> wire.SessionRead:
        """The officer logs in and opens the booth session; the store is unlocked with the session's key."""
        token = await self.hub.login(username, password, totp)
        session = await self._guard(self.hub.open_session(booth_id, token))
        self._take(session)
        return session

    async def resume(self) -> wire.SessionRead:
        """After a restart: ask the hub for the session (and its key) again. Needs the network."""
        session_id = self.store.meta("session_id")
        if not session_id:
            raise NotLoggedIn("no booth session on this laptop: log in first")
        session = await self._guard(self.hub.session(str(session_id)))
        self._take(session)
        return session

    def _take(self, session: wire.SessionRead) -> None:
        self.session = session
        self.store.unlock(b64url_decode(session.data_key))
        self.store.set_meta("session_id", session.id)
        # The booth and the keys are no personal data: kept in the clear for the day's list and sealing offline.
        self.store.set_meta("session", session.model_dump(mode="json", exclude={"data_key"}))

    async def _guard(self, call: Awaitable[T]) -> T:
        try:
            return await call
        except HubRefused as exc:
            if wipe_ordered(exc):
                self.wipe()
                raise BoothWiped("this laptop's booth session was revoked; its store is wiped") from exc
            raise

    def _session(self) -> wire.SessionRead:
        if self.session is None:
            raise NotLoggedIn("log in to the booth first")
        return self.session

    # ---- at the desk ---------------------------------------------------------------------------------------

    def can_receive(self, residence_municipality_code: str) -> bool:
        """Whether this booth may receive an applicant living there (asked before anything is captured)."""
        session = self._session()
        return wire.forwarding_allowed(
            session.forwarding_from,
            host=session.booth.municipality_code,
            residence=residence_municipality_code,
        )

    def record(self, capture: Capture) -> str:
        """Seal the PINs to the municipality, encrypt the case into the store; returns the case id."""
        session = self._session()
        if not self.can_receive(capture.residence_municipality_code):
            raise NotReceivable(
                "この市区町村の方の申請はこのブースでは受け付けられません / not receivable here"
            )
        case_id = new_case_id()
        sealed = None
        if capture.pins is not None:
            if session.sealing_key is None:
                raise AgentError("the municipality has no PIN-sealing key registered")
            key = X25519PublicKey.from_public_bytes(b64url_decode(session.sealing_key))
            sealed = seal(key, case_id=case_id, pins=capture.pins)
        sequence = self.store.next_sequence()
        body = wire.CaseSync(
            client_case_id=case_id,
            sequence=sequence,
            recorded_at=self.now(),
            residence_municipality_code=capture.residence_municipality_code,
            shinseisho_id=capture.shinseisho_id,
            answers=capture.answers,
            consents=capture.consents,
            stills=[
                wire.Still(kind=kind, content_type=media, data=base64.b64encode(data).decode())
                for kind, media, data in capture.stills
            ],
            decision=capture.decision,
            sealed=sealed,
            face_auth=capture.face_auth,
        )
        self.store.add(case_id, sequence, body.model_dump(mode="json"))
        return case_id

    # ---- when the network returns ----------------------------------------------------------------------

    async def sync(self) -> SyncReport:
        """Announce what is held, then sync each unanswered case once, in sequence; one failure stalls no other."""
        session = self._session()
        report = SyncReport()
        waiting = self.store.cases(status="recorded")
        if not waiting:
            return report
        try:
            await self._guard(
                self.hub.announce(
                    session.id,
                    [wire.PendingCase(client_case_id=c.case_id, sequence=c.sequence) for c in waiting],
                )
            )
        except HubUnavailable:
            report.offline = True
            return report
        unreachable = 0
        for stored in waiting:
            body = wire.CaseSync.model_validate(self.store.content(stored.case_id))
            self.store.attempted(stored.case_id)
            try:
                result = await self._guard(self.hub.sync(session.id, body))
            except HubUnavailable:
                report.failed += 1
                unreachable += 1
                if unreachable >= OFFLINE_AFTER:
                    report.offline = True
                    break
                continue
            except HubRefused as exc:
                if exc.status >= 500 or exc.problem_code in wire.RETRY_CODES:
                    # This case only: tried again next round, the others go on.
                    report.failed += 1
                    log.warning(
                        "booth case %s failed at the hub (%s); retried later", stored.sequence, exc.status
                    )
                    continue
                self.store.answered(
                    stored.case_id,
                    "refused",
                    {"outcome": "refused", "code": exc.problem_code, "detail": exc.detail},
                )
                report.refused += 1
                continue
            unreachable = 0
            self.store.answered(stored.case_id, result.outcome.value, result.model_dump(mode="json"))
            if result.outcome is wire.SyncOutcome.accepted:
                report.synced += 1
            elif result.outcome is wire.SyncOutcome.conflict:
                report.conflicts += 1
            else:
                report.refused += 1
        return report

    async def hub_cases(self) -> list[wire.BoothCase]:
        """The hub's list of this session's cases (holds, conflicts), kept for when the network is gone."""
        session = self._session()
        try:
            listed = await self._guard(self.hub.cases(session.id))
        except HubUnavailable:
            cached = self.store.meta("hub_cases") or []
            return [wire.BoothCase.model_validate(c) for c in cached]
        self.store.set_meta("hub_cases", [c.model_dump(mode="json") for c in listed.cases])
        return list(listed.cases)

    def progress(self, hub_cases: list[wire.BoothCase] | None = None) -> dict[str, Any]:
        """The day so far: bookings of today's slots, cases recorded, synced, waiting, held, in conflict."""
        session = self._session()
        today = self.now().astimezone(TOKYO).date()
        slots = [s for s in session.booth.slots if s.day == today]
        stored = self.store.cases()
        listed = hub_cases or []
        return {
            "booked": sum(s.booked for s in slots),
            "capacity": sum(s.capacity for s in slots),
            "recorded": len(stored),
            "waiting": sum(1 for c in stored if c.status == "recorded"),
            "synced": sum(1 for c in stored if c.status == "accepted"),
            "conflicts": sum(1 for c in stored if c.status == "conflict"),
            "refused": sum(1 for c in stored if c.status == "refused"),
            "held": sum(1 for c in listed if c.hold is wire.HoldStatus.held),
            "submitted": sum(1 for c in listed if c.hold is wire.HoldStatus.cleared),
        }

    def wipe(self) -> None:
        """Destroy the local store (ordered by the hub)."""
        self.store.wipe()
        self.session = None
        self.wiped = True
