"""Rules of outreach booths: scheduling, sessions bound to laptop and officer, one sync per case, the re-check hold.

docs/booths.md describes the flow. Every rule that protects the applicant is checked here, whatever the laptop
showed offline: the officer is the booth's scheduled one, the laptop the session's, the case within the booth's
dates, the decision carries the console's checklist, reason code and attestation, and the resident's municipality
accepts forwarding.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import secrets
from collections.abc import Sequence
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from service.accounts import devices as device_service
from service.accounts import sessions as account_sessions
from service.accounts.models import Account
from service.accounts.roles import SYSTEM, Principal, PrincipalKind, Role
from service.audit import service as audit
from service.booths.exceptions import (
    BoothNotFound,
    BoothOfficeNotDesignated,
    BoothSessionNotFound,
    BoothSessionRevoked,
    ForwardingNotAccepted,
    NotScheduled,
    OutsideBoothDates,
    SlotFull,
    SyncInProgress,
    SyncMismatch,
    WrongBoothDevice,
)
from service.booths.models import Booth, BoothCase, BoothOfficer, BoothPending, BoothSession, BoothSlot
from service.booths.standing import Standing
from service.cases import consents as case_consents
from service.cases import service as case_service
from service.cases.eligibility import EligibilityAnswers
from service.cases.exceptions import ShinseishoIdInUse
from service.cases.lifecycle import Action
from service.cases.models import Case
from service.config import Settings
from service.errors import HubError, PermissionDenied, Unprocessable
from service.evidence import pin_request
from service.evidence import stills as evidence_stills
from service.evidence.runtime import EvidenceRuntime
from service.integrations.models import JlisSubmission
from service.kit import clock
from service.kit.envelope import Keyring, Sealed
from service.kit.hashing import canonical_json, sha256_hex
from service.kit.ids import random_id
from service.outbox import wakeup
from service.review import service as review_service
from service.review.schemas import Checklist
from service.tenancy.models import Designation, Municipality, PostOffice
from service.tenancy.service import PIN_SEALING_POLICY_KEY
from service.wire import booths as wire
from service.wire.device_auth import b64url, b64url_decode
from service.wire.evidence import StillKind
from service.wire.pin_seal import key_id_of

# The residence municipality's policy key: host municipalities whose booths may receive its residents.
FORWARDING_POLICY_KEY = "booth_forwarding_from"
# How soon a held case, or one whose re-check could not be answered, is asked about again.
RECHECK_RETRY = dt.timedelta(minutes=10)
HELD_RECHECK = dt.timedelta(hours=6)


def _aad(session_id: str) -> bytes:
    return f"booth_session:{session_id}:data_key".encode()


def _require_supervisor(principal: Principal) -> str:
    if principal.kind is not PrincipalKind.account or principal.role is not Role.supervisor:
        raise PermissionDenied("only a supervisor schedules booths and revokes their laptops")
    if principal.municipality_code is None:  # pragma: no cover - a supervisor always has one
        raise PermissionDenied("a supervisor belongs to one municipality")
    return principal.municipality_code


# ---- schedule -------------------------------------------------------------------------------------------------


async def schedule(session: AsyncSession, *, principal: Principal, body: wire.BoothCreate) -> Booth:
    """A supervisor schedules a booth of their municipality: office, days, officers, slots."""
    municipality_code = _require_supervisor(principal)
    if body.ends_on < body.starts_on or (body.ends_on - body.starts_on).days > 30:
        raise Unprocessable("a booth runs 1 to 31 consecutive days, ends_on on or after starts_on")
    designation = None
    for row in (
        await session.execute(
            select(Designation).where(
                Designation.municipality_code == municipality_code,
                Designation.post_office_id == body.post_office_id,
            )
        )
    ).scalars():
        if row.valid_from <= body.starts_on and body.ends_on <= row.valid_until:
            designation = row
            break
    if designation is None:
        raise BoothOfficeNotDesignated()
    for officer_id in body.officer_ids:
        account = await session.get(Account, officer_id) if len(officer_id) <= 40 else None
        if account is None or account.municipality_code != municipality_code or account.role != Role.officer:
            raise Unprocessable(f"{officer_id} is not an officer of this municipality")
    for slot in body.slots:
        if not body.starts_on <= slot.day <= body.ends_on:
            raise Unprocessable("every slot falls on one of the booth's days")
    now = clock.now()
    booth = Booth(
        id=random_id("bth"),
        municipality_code=municipality_code,
        post_office_id=body.post_office_id,
        designation_id=designation.id,
        starts_on=body.starts_on,
        ends_on=body.ends_on,
        note=body.note,
        created_by=principal.id,
        created_at=now,
    )
    session.add(booth)
    await session.flush()
    for officer_id in sorted(set(body.officer_ids)):
        session.add(BoothOfficer(booth_id=booth.id, account_id=officer_id))
    for slot in sorted(body.slots, key=lambda s: (s.day, s.starts_at)):
        session.add(
            BoothSlot(
                id=random_id("bsl"),
                booth_id=booth.id,
                day=slot.day,
                starts_at=slot.starts_at,
                capacity=slot.capacity,
                booked=0,
            )
        )
    await session.flush()
    await audit.record(
        session,
        actor=principal,
        action="booth.scheduled",
        municipality_code=municipality_code,
        object_type="booth",
        object_id=booth.id,
    )
    return booth


async def get_for(session: AsyncSession, *, principal: Principal, booth_id: str) -> Booth:
    """The booth if the caller is its municipality's officer or supervisor; foreign or missing is a 404."""
    booth = await session.get(Booth, booth_id) if len(booth_id) <= 40 else None
    if (
        booth is None
        or principal.kind is not PrincipalKind.account
        or principal.role not in (Role.officer, Role.supervisor)
        or principal.municipality_code != booth.municipality_code
    ):
        raise BoothNotFound()
    return booth


async def list_for(session: AsyncSession, *, principal: Principal) -> Sequence[Booth]:
    """Booths of the caller's municipality, latest first."""
    if principal.kind is not PrincipalKind.account or principal.role not in (Role.officer, Role.supervisor):
        raise PermissionDenied("officers and supervisors read their municipality's booths")
    query = (
        select(Booth)
        .where(Booth.municipality_code == principal.municipality_code)
        .order_by(Booth.starts_on.desc(), Booth.id)
    )
    return list((await session.execute(query)).scalars())


async def view(session: AsyncSession, booth: Booth) -> wire.Booth:
    """The booth with its officers and slots."""
    officers = (
        await session.execute(select(BoothOfficer.account_id).where(BoothOfficer.booth_id == booth.id))
    ).scalars()
    slots = (
        await session.execute(
            select(BoothSlot)
            .where(BoothSlot.booth_id == booth.id)
            .order_by(BoothSlot.day, BoothSlot.starts_at)
        )
    ).scalars()
    municipality = await session.get(Municipality, booth.municipality_code)
    office = await session.get(PostOffice, booth.post_office_id)
    return wire.Booth(
        id=booth.id,
        municipality_code=booth.municipality_code,
        municipality_name=municipality.name if municipality else "",
        post_office_id=booth.post_office_id,
        office_name=office.name if office else "",
        starts_on=booth.starts_on,
        ends_on=booth.ends_on,
        officer_ids=sorted(officers),
        slots=[
            wire.Slot(id=s.id, day=s.day, starts_at=s.starts_at, capacity=s.capacity, booked=s.booked)
            for s in slots
        ],
        note=booth.note,
        created_at=booth.created_at,
    )


async def book(
    session: AsyncSession, *, principal: Principal, booth: Booth, slot_id: str, change: int
) -> BoothSlot:
    """Change a slot's booking count (residents book by phone or online elsewhere; only the count comes here)."""
    _require_supervisor(principal)
    slot = await session.get(BoothSlot, slot_id) if len(slot_id) <= 40 else None
    if slot is None or slot.booth_id != booth.id:
        raise BoothNotFound("no such slot at this booth")
    if not 0 <= slot.booked + change <= slot.capacity:
        raise SlotFull()
    slot.booked += change
    await session.flush()
    return slot


# ---- forwarding between municipalities --------------------------------------------------------------------------


async def forwarding_municipalities(session: AsyncSession, *, host: str) -> dict[str, str]:
    """Residence municipalities that accept applications received at booths of `host`: name by code, in code order."""
    rows = (await session.execute(select(Municipality).order_by(Municipality.code))).scalars()
    return {
        m.code: m.name
        for m in rows
        if m.code != host and host in (m.policy or {}).get(FORWARDING_POLICY_KEY, [])
    }


async def forwarding_from(session: AsyncSession, *, host: str) -> list[str]:
    """The codes of `forwarding_municipalities`."""
    return list(await forwarding_municipalities(session, host=host))


async def set_forwarding(
    session: AsyncSession, *, principal: Principal, code: str, accepts_from: list[str]
) -> list[str]:
    """An admin records which host municipalities' booths may receive `code`'s residents."""
    if principal.kind is not PrincipalKind.account or principal.role is not Role.admin:
        raise PermissionDenied("an admin configures forwarding between municipalities")
    municipality = await session.get(Municipality, code) if len(code) == 6 else None
    if municipality is None:
        raise BoothNotFound("no such municipality")
    hosts = sorted(set(accepts_from) - {code})
    for host in hosts:
        if await session.get(Municipality, host) is None:
            raise Unprocessable(f"unknown municipality {host}")
    municipality.policy = {**(municipality.policy or {}), FORWARDING_POLICY_KEY: hosts}
    await audit.record(
        session,
        actor=principal,
        action="booth.forwarding_configured",
        municipality_code=code,
        object_type="municipality",
        object_id=code,
        reason_code=",".join(hosts)[:60] or "none",
    )
    return hosts


# ---- sessions ---------------------------------------------------------------------------------------------------


async def open_session(
    session: AsyncSession, *, principal: Principal, body: wire.SessionOpen, keyring: Keyring
) -> tuple[BoothSession, bytes]:
    """The officer, logged in on the enrolled laptop, opens the booth: the session binds officer, laptop, booth."""
    if principal.kind is not PrincipalKind.device:
        raise PermissionDenied("a booth session is opened from the enrolled booth laptop")
    officer = await account_sessions.authenticate_access_token(session, body.officer_token)
    booth = await session.get(Booth, body.booth_id) if len(body.booth_id) <= 40 else None
    if booth is None or officer.municipality_code != booth.municipality_code:
        raise BoothNotFound()
    if officer.role is not Role.officer:
        # A clerk (or anyone else) can never run a booth: only an officer decides identity.
        raise NotScheduled("only a municipal officer scheduled at the booth opens it")
    if await session.get(BoothOfficer, (booth.id, officer.id)) is None:
        raise NotScheduled()
    if principal.post_office_id != booth.post_office_id:
        raise WrongBoothDevice("this laptop is enrolled for another post office")
    data_key = secrets.token_bytes(wire.DATA_KEY_BYTES)
    session_id = random_id("bss")
    sealed = keyring.seal(data_key, _aad(session_id))
    row = BoothSession(
        id=session_id,
        booth_id=booth.id,
        officer_id=officer.id,
        device_id=principal.id,
        data_key_kek=sealed.kek_id,
        data_key_wrapped=sealed.wrapped_key,
        data_key_ciphertext=sealed.ciphertext,
        opened_at=clock.now(),
    )
    session.add(row)
    await session.flush()
    await audit.record(
        session,
        actor=officer,
        action="booth.session_opened",
        municipality_code=booth.municipality_code,
        object_type="booth_session",
        object_id=row.id,
    )
    return row, data_key


async def session_of_device(session: AsyncSession, *, principal: Principal, session_id: str) -> BoothSession:
    """The booth session of the calling laptop; revoked: refused with the wipe instruction."""
    row = await session.get(BoothSession, session_id) if len(session_id) <= 40 else None
    if row is None or principal.kind is not PrincipalKind.device:
        raise BoothSessionNotFound()
    if row.device_id != principal.id:
        raise BoothSessionNotFound()
    if row.revoked_at is not None:
        raise BoothSessionRevoked(wipe=True)
    return row


def data_key_of(row: BoothSession, keyring: Keyring) -> bytes:
    """Unwrap the laptop's data key (only ever for a session that is not revoked)."""
    return keyring.open(
        Sealed(kek_id=row.data_key_kek, wrapped_key=row.data_key_wrapped, ciphertext=row.data_key_ciphertext),
        _aad(row.id),
    )


async def session_view(session: AsyncSession, row: BoothSession, data_key: bytes) -> wire.SessionRead:
    """What the laptop takes out: the booth, its data key, the sealing key, forwarding."""
    booth = await session.get(Booth, row.booth_id)
    if booth is None:  # pragma: no cover - foreign keys keep the booth
        raise BoothNotFound()
    municipality = await session.get(Municipality, booth.municipality_code)
    text = (municipality.policy or {}).get(PIN_SEALING_POLICY_KEY) if municipality else None
    key = pin_request.sealing_key(municipality) if municipality else None
    forwarding = await forwarding_municipalities(session, host=booth.municipality_code)
    return wire.SessionRead(
        id=row.id,
        booth=await view(session, booth),
        officer_id=row.officer_id,
        device_id=row.device_id,
        data_key=b64url(data_key),
        sealing_key=text if isinstance(text, str) else None,
        sealing_key_id=key_id_of(key) if key is not None else None,
        forwarding_from=list(forwarding),
        forwarding_names=forwarding,
        opened_at=row.opened_at,
    )


async def announce(session: AsyncSession, *, row: BoothSession, body: wire.PendingBody) -> int:
    """Remember the cases the laptop holds unsynced; returns how many are pending now."""
    now = clock.now()
    for item in body.cases:
        if await session.get(BoothCase, item.client_case_id) is not None:
            continue
        if await session.get(BoothPending, (row.id, item.client_case_id)) is None:
            session.add(
                BoothPending(
                    session_id=row.id,
                    client_case_id=item.client_case_id,
                    sequence=item.sequence,
                    announced_at=now,
                )
            )
    await session.flush()
    return len(await _pending(session, row.id))


async def _pending(session: AsyncSession, session_id: str) -> list[BoothPending]:
    synced = select(BoothCase.client_case_id)
    query = (
        select(BoothPending)
        .where(BoothPending.session_id == session_id, BoothPending.client_case_id.not_in(synced))
        .order_by(BoothPending.sequence)
    )
    return list((await session.execute(query)).scalars())


async def _session_for_supervisor(
    session: AsyncSession, *, principal: Principal, session_id: str
) -> BoothSession:
    municipality_code = _require_supervisor(principal)
    row = await session.get(BoothSession, session_id) if len(session_id) <= 40 else None
    booth = await session.get(Booth, row.booth_id) if row is not None else None
    if row is None or booth is None or booth.municipality_code != municipality_code:
        raise BoothSessionNotFound()
    return row


async def pending_list(session: AsyncSession, *, principal: Principal, session_id: str) -> wire.PendingList:
    """Cases the laptop announced and never synced (for the municipality to follow up)."""
    row = await _session_for_supervisor(session, principal=principal, session_id=session_id)
    return wire.PendingList(
        session_id=row.id,
        device_id=row.device_id,
        revoked_at=row.revoked_at,
        pending=[
            wire.PendingCase(client_case_id=p.client_case_id, sequence=p.sequence)
            for p in await _pending(session, row.id)
        ],
    )


async def revoke(
    session: AsyncSession, *, principal: Principal, session_id: str, reason: str
) -> wire.PendingList:
    """Revoke the session and, when the laptop is lost or stolen, the device: refused (and wiped) at next contact."""
    row = await _session_for_supervisor(session, principal=principal, session_id=session_id)
    booth = await session.get(Booth, row.booth_id)
    if booth is None:  # pragma: no cover - foreign keys keep the booth
        raise BoothNotFound()
    if row.revoked_at is None:
        row.revoked_at, row.revoke_reason = clock.now(), reason
        await audit.record(
            session,
            actor=principal,
            action="booth.session_revoked",
            municipality_code=booth.municipality_code,
            object_type="booth_session",
            object_id=row.id,
            reason_code=reason,
        )
    if reason in ("lost", "stolen"):
        await device_service.revoke_device(session, actor=principal, device_id=row.device_id)
    await session.flush()
    return await pending_list(session, principal=principal, session_id=session_id)


# ---- sync -------------------------------------------------------------------------------------------------------


def request_hash(body: wire.CaseSync) -> str:
    """What a replay must repeat exactly."""
    return sha256_hex(canonical_json(body.model_dump(mode="json")))


async def sync_case(
    session: AsyncSession,
    *,
    principal: Principal,
    row: BoothSession,
    body: wire.CaseSync,
    runtime: EvidenceRuntime,
    settings: Settings,
) -> tuple[wire.SyncResult, bool]:
    """Record one booth case once; (answer, replayed). A replay answers what the first sync answered.

    A rule the case breaks is an answer too (`refused`, with its code), and an applicant who applied elsewhere
    meanwhile is a `conflict`: both are stored and listed for the officer, so the laptop never retries them.
    """
    digest = request_hash(body)
    earlier = await session.get(BoothCase, body.client_case_id)
    if earlier is not None:
        if earlier.session_id != row.id or earlier.request_hash != digest:
            raise SyncMismatch()
        return wire.SyncResult.model_validate(earlier.response), True
    taken = await session.execute(
        select(BoothCase.client_case_id).where(
            BoothCase.session_id == row.id, BoothCase.sequence == body.sequence
        )
    )
    if taken.first() is not None:
        raise SyncMismatch("this sequence number was synced before with another case id")
    booth = await session.get(Booth, row.booth_id)
    if booth is None:  # pragma: no cover - foreign keys keep the booth
        raise BoothNotFound()
    tz = ZoneInfo(settings.timezone)
    outcome, case, code, detail = wire.SyncOutcome.accepted, None, None, None
    try:
        async with session.begin_nested():
            case = await _record(
                session,
                principal=principal,
                row=row,
                booth=booth,
                body=body,
                runtime=runtime,
                settings=settings,
                tz=tz,
            )
    except ShinseishoIdInUse as exc:
        outcome, code, detail = wire.SyncOutcome.conflict, exc.code, str(exc) or exc.title
    except HubError as exc:
        outcome, code, detail = wire.SyncOutcome.refused, exc.code, (str(exc) or exc.title)[:200]
    now = clock.now()
    approved = case is not None and case.decision == "approved"
    result = wire.SyncResult(
        client_case_id=body.client_case_id,
        sequence=body.sequence,
        outcome=outcome,
        case_id=case.id if case else None,
        reference=case.reference if case else None,
        state=case.state if case else None,
        code=code,
        detail=detail,
    )
    session.add(
        BoothCase(
            client_case_id=body.client_case_id,
            session_id=row.id,
            booth_id=booth.id,
            sequence=body.sequence,
            request_hash=digest,
            outcome=outcome.value,
            case_id=case.id if case else None,
            code=code,
            residence_municipality_code=body.residence_municipality_code,
            hold=(
                (wire.HoldStatus.awaiting_recheck if approved else wire.HoldStatus.decided).value
                if case is not None
                else None
            ),
            next_check_at=now if approved else None,
            response=result.model_dump(mode="json"),
            recorded_at=body.recorded_at,
            synced_at=now,
        )
    )
    try:
        await session.flush()
    except IntegrityError as exc:
        # The same case sent twice at once (a retry racing the first attempt): the first one's answer wins.
        raise SyncInProgress() from exc
    await audit.record(
        session,
        actor=principal,
        action="booth.case_synced",
        municipality_code=booth.municipality_code,
        case_id=case.id if case else None,
        object_type="booth_session",
        object_id=row.id,
        reason_code=(code or outcome.value)[:60],
    )
    return result, False


async def _record(
    session: AsyncSession,
    *,
    principal: Principal,
    row: BoothSession,
    booth: Booth,
    body: wire.CaseSync,
    runtime: EvidenceRuntime,
    settings: Settings,
    tz: ZoneInfo,
) -> Case:
    """Create the case and walk it to the officer's decision (and the sealed PIN request) in one savepoint."""
    if body.procedure not in wire.BOOTH_PROCEDURES:
        raise Unprocessable("booths receive card applications only")
    for moment in (body.recorded_at, body.decision.decided_at):
        if not booth.starts_on <= moment.astimezone(tz).date() <= booth.ends_on:
            raise OutsideBoothDates()
    forwarding = await forwarding_from(session, host=booth.municipality_code)
    if not wire.forwarding_allowed(
        forwarding, host=booth.municipality_code, residence=body.residence_municipality_code
    ):
        raise ForwardingNotAccepted()
    # The decision is the scheduled officer's, taken on the laptop the session is bound to (checked by the caller).
    officer_account = await session.get(Account, row.officer_id)
    if officer_account is None or officer_account.role != Role.officer:
        raise NotScheduled("the session's officer is no longer an officer")
    if await session.get(BoothOfficer, (booth.id, row.officer_id)) is None:
        raise NotScheduled()
    officer = Principal(
        kind=PrincipalKind.account,
        id=row.officer_id,
        role=Role.officer,
        municipality_code=booth.municipality_code,
    )
    designation = await session.get(Designation, booth.designation_id)
    if designation is None:  # pragma: no cover - foreign keys keep the designation
        raise BoothOfficeNotDesignated()
    case = await case_service.create_at_booth(
        session,
        principal=principal,
        case_id=body.client_case_id,
        municipality_code=booth.municipality_code,
        designation=designation,
        procedure=body.procedure,
        shinseisho_id=body.shinseisho_id,
        tz=tz,
    )

    async def act(who: Principal, action: Action, **extra: object) -> Case:
        return await case_service.act(
            session,
            principal=who,
            case=case,
            action=action,
            reason_code=extra.get("reason_code"),  # type: ignore[arg-type]
            attested=bool(extra.get("attested", False)),
            expected_version=None,
            answers=extra.get("answers"),  # type: ignore[arg-type]
            settings=settings,
            via_booth=True,
        )

    await act(principal, Action.check_in)
    try:
        answers = EligibilityAnswers.model_validate(body.answers)
    except ValueError as exc:
        raise Unprocessable("the eligibility answers do not fit the pre-check") from exc
    await act(principal, Action.precheck, answers=answers)
    if body.consents:
        await case_consents.record(
            session, principal=principal, case=case, given=case_consents.ConsentsGiven(consents=body.consents)
        )
    for still in body.stills:
        try:
            kind = StillKind(still.kind)
            data = base64.b64decode(still.data, validate=True)
        except (ValueError, binascii.Error) as exc:
            raise Unprocessable("a still has an unknown kind or is not base64") from exc
        await evidence_stills.add_still(
            session,
            principal=principal,
            case=case,
            kind=kind,
            data=data,
            content_type=still.content_type,
            runtime=runtime,
        )
    await act(officer, Action.review_in_person)
    try:
        checklist = Checklist.model_validate(body.decision.checklist.model_dump())
    except ValueError as exc:
        raise Unprocessable("the checklist does not fit the console's") from exc
    await review_service.set_checklist(session, principal=officer, case=case, checklist=checklist)
    decision = body.decision
    await act(
        officer,
        Action(decision.action.value),
        reason_code=decision.reason_code,
        attested=decision.attested,
    )
    if decision.action is wire.DecisionAction.approve:
        await pin_request.finalize(
            session,
            principal=principal,
            case=case,
            sealed=body.sealed,
            face_auth=body.face_auth,
            runtime=runtime,
            settings=settings,
        )
    return case


async def cases_of(session: AsyncSession, *, row: BoothSession) -> wire.BoothCases:
    """The session's synced cases, in sequence, with their hold: what the officer sees at the booth."""
    query = select(BoothCase).where(BoothCase.session_id == row.id).order_by(BoothCase.sequence)
    out = []
    for item in (await session.execute(query)).scalars():
        case = await session.get(Case, item.case_id) if item.case_id else None
        out.append(
            wire.BoothCase(
                client_case_id=item.client_case_id,
                sequence=item.sequence,
                outcome=wire.SyncOutcome(item.outcome),
                case_id=item.case_id,
                reference=case.reference if case else None,
                state=case.state if case else None,
                hold=wire.HoldStatus(item.hold) if item.hold else None,
                hold_reason=item.hold_reason,
                code=item.code,
                residence_municipality_code=item.residence_municipality_code,
                synced_at=item.synced_at,
            )
        )
    return wire.BoothCases(cases=out)


# ---- the re-check before J-LIS ----------------------------------------------------------------------------------


async def due_rechecks(session: AsyncSession, *, now: dt.datetime, limit: int) -> list[tuple[str, str, str]]:
    """(client case id, residence municipality, 申請書ID) of approved booth cases whose re-check is due."""
    query = (
        select(BoothCase.client_case_id, BoothCase.residence_municipality_code, Case.shinseisho_id)
        .join(Case, Case.id == BoothCase.case_id)
        .where(
            BoothCase.hold.in_((wire.HoldStatus.awaiting_recheck.value, wire.HoldStatus.held.value)),
            BoothCase.next_check_at <= now,
        )
        .order_by(BoothCase.next_check_at)
        .limit(limit)
    )
    return [(a, b, c or "") for a, b, c in (await session.execute(query)).all()]


async def apply_standing(
    session: AsyncSession, *, client_case_id: str, standing: Standing | None
) -> wire.HoldStatus | None:
    """Store the re-check's answer: clear releases the J-LIS submission, anything else holds the case."""
    item = await session.get(BoothCase, client_case_id)
    if item is None or item.hold not in (wire.HoldStatus.awaiting_recheck.value, wire.HoldStatus.held.value):
        return None
    now = clock.now()
    if standing is None:  # the record system did not answer: ask again soon
        item.next_check_at = now + RECHECK_RETRY
        return wire.HoldStatus(item.hold)
    reason = standing.hold_reason
    item.checked_at = now
    booth = await session.get(Booth, item.booth_id)
    if booth is None:  # pragma: no cover - foreign keys keep the booth
        raise BoothNotFound()
    if item.case_id is None:  # pragma: no cover - only accepted cases are held
        return None
    if reason is None:
        item.hold, item.hold_reason, item.next_check_at = wire.HoldStatus.cleared.value, None, None
        submission = await session.get(JlisSubmission, item.case_id)
        if submission is not None and submission.status == "held":
            submission.status, submission.next_attempt_at, submission.updated_at = "pending", now, now
            wakeup.after_commit(session)  # the outbox worker runs the J-LIS job: no wait for its next look
    else:
        item.hold, item.hold_reason, item.next_check_at = (
            wire.HoldStatus.held.value,
            reason,
            now + HELD_RECHECK,
        )
    await audit.record(
        session,
        actor=SYSTEM,
        action="booth.recheck",
        municipality_code=booth.municipality_code,
        case_id=item.case_id,
        object_type="booth_case",
        object_id=item.client_case_id,
        reason_code=reason or "clear",
    )
    await session.flush()
    return wire.HoldStatus(item.hold)


async def submission_status_for(session: AsyncSession, case_id: str) -> str:
    """The status a new J-LIS submission of `case_id` starts in: `held` until a booth case's re-check clears it."""
    item = (await session.execute(select(BoothCase).where(BoothCase.case_id == case_id))).scalar_one_or_none()
    if item is None or item.hold == wire.HoldStatus.cleared.value:
        return "pending"
    return "held"


def decode_data_key(text: str) -> bytes:
    """The laptop's data key from its base64url form (used by tests and the agent alike)."""
    return b64url_decode(text)
