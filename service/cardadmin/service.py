"""The rules of remote card management: who may relay, when, and what each relayed turn changes on the case.

Only the device of the case's own office relays, only after the officer approved the case, only for
`ecert_issue_renew` (a renewal, or a PIN reset found needed in the same visit) and `pin_reset`. Each turn is one
transaction: the job row records what the card holds before the next commands leave the hub, so a killed relay or a
second replica continues from the record (docs/card-admin.md §Fail safe). Audit rows carry codes only.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict, dataclass, field

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.exc import StaleDataError

from service.accounts.roles import Principal, PrincipalKind
from service.audit import service as audit
from service.cardadmin.driver import Driver, Progress, RunRefused
from service.cardadmin.exceptions import (
    AlreadyDone,
    CardAdminJobNotFound,
    CardAdminNotAllowed,
    NotACounterDevice,
    StaleRun,
)
from service.cardadmin.issuer import IssuerError, JpkiIssuer, JpkiIssuerSimulator
from service.cardadmin.models import CardAdminJob
from service.cardproof.revocation import CrlRevocationChecker, NotConfiguredChecker, RevocationChecker
from service.cardproof.verify import TrustAnchors, verify_card_proof
from service.cases.models import Case
from service.evidence import repository as evidence_repository
from service.kit import clock
from service.kit.envelope import Keyring, Sealed, aad_for
from service.kit.ids import random_id
from service.wire.cardadmin import (
    CardAdminRead,
    CardState,
    Operation,
    PinName,
    RelayStart,
    RelayTurn,
    RunState,
    Slot,
)
from service.wire.cases import CaseState, Procedure

ALLOWED: dict[Operation, frozenset[Procedure]] = {
    Operation.renew_certificates: frozenset({Procedure.ecert_issue_renew}),
    Operation.authorise_pin_reset: frozenset({Procedure.pin_reset, Procedure.ecert_issue_renew}),
    Operation.confirm_pin_reset: frozenset({Procedure.pin_reset, Procedure.ecert_issue_renew}),
}


@dataclass
class CardAdminRuntime:
    """The issuer and the hub's keys and trust, built once per app (service/cardadmin/router.py)."""

    issuer: JpkiIssuer
    keyring: Keyring
    trust: TrustAnchors
    allow_test_roots: bool
    revocation: RevocationChecker = field(default_factory=NotConfiguredChecker)

    def checker(self) -> RevocationChecker:
        """The simulator's current CRLs when the issuer is the simulator, else the configured checker."""
        if isinstance(self.issuer, JpkiIssuerSimulator):
            return CrlRevocationChecker(self.issuer.crls())
        return self.revocation


def planned_slots(case: Case, body: RelayStart) -> list[Slot]:
    """What the case's card-work plan allows this run to do (docs/card-admin.md §Plan); refuses anything else.

    The counter asks the hub for a plan first (service/cardwork: `precheck.card_work.planned`, codes such as
    `renew_auth` or `reset_sign`); the issuer's channel only does planned work: the planned certificates, the
    planned PIN. The slots to renew are returned (empty for a PIN run).
    """
    planned = set(((case.precheck or {}).get("card_work") or {}).get("planned") or [])
    if body.operation is Operation.renew_certificates:
        slots = [slot for slot in Slot if {f"issue_{slot.value}", f"renew_{slot.value}"} & planned]
        if not slots:
            raise CardAdminNotAllowed("no certificate was planned for this case")
        return slots
    if body.pin is None or f"reset_{body.pin.value}" not in planned:
        raise CardAdminNotAllowed("no reset of this PIN was planned for this case")
    return []


def _device(principal: Principal, case: Case) -> None:
    if principal.kind is not PrincipalKind.device or principal.post_office_id != case.post_office_id:
        raise NotACounterDevice()


def _aad(job: CardAdminJob) -> bytes:
    return aad_for(case_id=job.case_id, field="card_admin_channel", object_id=job.run_id or "")


def _seal(runtime: CardAdminRuntime, job: CardAdminJob, driver: Driver | None) -> None:
    if driver is None:
        job.channel_kek_id = job.channel_wrapped_key = job.channel_ciphertext = None
        return
    sealed = runtime.keyring.seal(driver.to_bytes(), _aad(job))
    job.channel_kek_id, job.channel_wrapped_key, job.channel_ciphertext = (
        sealed.kek_id,
        sealed.wrapped_key,
        sealed.ciphertext,
    )


@dataclass
class Serials:
    """The case's certificate serials (hex), sealed in the job row: old (on the card before), new (issued for it),
    revoked (at the issuer)."""

    old: list[str] = field(default_factory=list)
    new: list[str] = field(default_factory=list)
    revoked: list[str] = field(default_factory=list)


def _serials_aad(job: CardAdminJob) -> bytes:
    return aad_for(case_id=job.case_id, field="card_admin_serials", object_id=job.case_id)


def serials_of(runtime: CardAdminRuntime, job: CardAdminJob) -> Serials:
    """Open the job's sealed serials."""
    if job.serials_kek_id is None or job.serials_wrapped_key is None or job.serials_ciphertext is None:
        return Serials()
    raw = runtime.keyring.open(
        Sealed(job.serials_kek_id, job.serials_wrapped_key, job.serials_ciphertext), _serials_aad(job)
    )
    return Serials(**json.loads(raw))


def _store_serials(runtime: CardAdminRuntime, job: CardAdminJob, serials: Serials) -> None:
    sealed = runtime.keyring.seal(json.dumps(asdict(serials)).encode(), _serials_aad(job))
    job.serials_kek_id, job.serials_wrapped_key, job.serials_ciphertext = (
        sealed.kek_id,
        sealed.wrapped_key,
        sealed.ciphertext,
    )
    job.issued, job.revoked = (
        len(set(serials.new) | set(serials.revoked) - set(serials.old)),
        len(serials.revoked),
    )


def _open(runtime: CardAdminRuntime, job: CardAdminJob) -> Driver:
    if job.channel_kek_id is None or job.channel_wrapped_key is None or job.channel_ciphertext is None:
        raise StaleRun()
    raw = runtime.keyring.open(
        Sealed(job.channel_kek_id, job.channel_wrapped_key, job.channel_ciphertext), _aad(job)
    )
    return Driver.from_bytes(raw, runtime.issuer)


async def _job(session: AsyncSession, case_id: str) -> CardAdminJob | None:
    # Locked: two relays (or two replicas) answering one turn take turns, and the second finds the run moved on.
    query = select(CardAdminJob).where(CardAdminJob.case_id == case_id).with_for_update()
    return (await session.execute(query)).scalar_one_or_none()


def read(job: CardAdminJob) -> CardAdminRead:
    """The job as the counter and console see it."""
    return CardAdminRead(
        case_id=job.case_id,
        operation=Operation(job.operation),
        pin=PinName(job.pin) if job.pin else None,
        state=RunState(job.state),
        card_state=CardState(job.card_state),
        outcome=job.outcome,
        runs=job.runs,
        refusals=job.refusals,
        certificates_issued=job.issued,
        certificates_revoked=job.revoked,
        updated_at=job.updated_at,
    )


async def get(session: AsyncSession, *, principal: Principal, case: Case) -> CardAdminRead:
    """The case's job (the case was tenant-checked by the caller)."""
    del principal
    job = await _job(session, case.id)
    if job is None:
        raise CardAdminJobNotFound()
    return read(job)


def _turn(job: CardAdminJob, commands: list[bytes]) -> RelayTurn:
    return RelayTurn(
        run_id=job.run_id or "",
        commands=[command.hex() for command in commands],
        done=not commands,
        outcome=job.outcome if not commands else None,
        card_state=CardState(job.card_state),
    )


async def start(
    session: AsyncSession, *, principal: Principal, case: Case, body: RelayStart, runtime: CardAdminRuntime
) -> RelayTurn:
    """Open a run (a new one replaces any interrupted run: the card lost its channel with the connection)."""
    _device(principal, case)
    if case.state != CaseState.approved.value or Procedure(case.procedure) not in ALLOWED[body.operation]:
        raise CardAdminNotAllowed()
    if body.operation is not Operation.renew_certificates and body.pin is None:
        raise CardAdminNotAllowed("a PIN operation names the PIN")
    slots = planned_slots(case, body)
    now = clock.now()
    job = await _job(session, case.id)
    if job is None:
        job = CardAdminJob(
            case_id=case.id,
            municipality_code=case.municipality_code,
            post_office_id=case.post_office_id,
            operation=body.operation.value,
            pin=body.pin.value if body.pin else None,
            state=RunState.running.value,
            card_state=CardState.old.value,
            runs=0,
            refusals=0,
            new_digests=[],
            issued=0,
            revoked=0,
            created_at=now,
        )
        session.add(job)
    elif (
        job.operation == Operation.renew_certificates.value
        and job.state == RunState.done.value
        and body.operation is Operation.renew_certificates
    ):
        raise AlreadyDone()
    same = job.operation == body.operation.value and job.pin == (body.pin.value if body.pin else None)
    if not same:
        # Another operation on the same case (a PIN reset after a renewal): a new job in the same row.
        if job.state == RunState.running.value and job.card_state == CardState.unknown.value:
            raise CardAdminNotAllowed("finish the renewal first: its commit's answer is still out")
        job.operation, job.pin = body.operation.value, body.pin.value if body.pin else None
        job.outcome = None
    elif job.state == RunState.done.value and body.operation is not Operation.authorise_pin_reset:
        raise AlreadyDone()
    job.state = RunState.running.value
    job.runs += 1
    job.run_id = random_id("car")
    job.updated_at = now
    # The card the officer's decision rests on (the case's card binding, from the verified possession proof):
    # the run goes to that card or, once renewed by this job, to what it became — to no other.
    binding = await evidence_repository.binding(session, case.id)
    driver = Driver.new(
        runtime.issuer,
        operation=body.operation,
        pin=body.pin,
        committed_digests=list(job.new_digests) if job.card_state != CardState.old.value else [],
        pin_changes=job.pin_changes,
        bound_certificate=binding.certificate_sha256 if binding is not None else None,
        renewed_certificates=list(job.new_digests) if job.card_state == CardState.new.value else [],
        slots=slots,
    )
    commands = driver.start()
    _seal(runtime, job, driver)
    await session.flush()
    await audit.record(
        session,
        actor=principal,
        action="card_admin.run_started",
        municipality_code=job.municipality_code,
        case_id=case.id,
        object_type="card_admin_job",
        object_id=job.run_id,
        to_state=job.card_state,
        reason_code=job.operation,
    )
    return _turn(job, commands)


async def answer(
    session: AsyncSession,
    *,
    principal: Principal,
    case: Case,
    run_id: str,
    responses: list[str],
    runtime: CardAdminRuntime,
) -> RelayTurn:
    """The card's answers to the last turn: check them, record progress, and give the next commands."""
    _device(principal, case)
    job = await _job(session, case.id)
    if job is None:
        raise CardAdminJobNotFound()
    if job.run_id != run_id or job.state != RunState.running.value:
        raise StaleRun()
    driver = _open(runtime, job)
    progress = Progress(card_state=CardState(job.card_state))
    try:
        raw = [bytes.fromhex(response) for response in responses]
    except ValueError:
        raw = []
    try:
        if not raw:
            raise RunRefused("answers_missing")
        commands = driver.answer(raw, progress)
    except RunRefused as refused:
        serials = serials_of(runtime, job)
        _record(job, progress, serials)
        if job.card_state == CardState.old.value and serials.new:
            # Nothing was activated and the card dropped its pending pairs: what was issued for them is revoked now.
            await _revoke_unused(session, principal=principal, job=job, runtime=runtime, serials=serials)
        _store_serials(runtime, job, serials)
        await _refused(session, principal=principal, job=job, code=refused.code)
        return _turn(job, [])
    serials = serials_of(runtime, job)
    _record(job, progress, serials)
    if progress.status_read and progress.card_state is CardState.old and serials.new:
        await _revoke_unused(session, principal=principal, job=job, runtime=runtime, serials=serials)
    if not commands:
        await _finish(
            session,
            principal=principal,
            job=job,
            driver=driver,
            progress=progress,
            runtime=runtime,
            serials=serials,
        )
        _seal(runtime, job, None)
    else:
        _seal(runtime, job, driver)
    _store_serials(runtime, job, serials)
    job.updated_at = clock.now()
    try:
        await session.flush()
    except StaleDataError as exc:
        raise StaleRun("another relay answered this turn at the same moment") from exc
    return _turn(job, commands)


def _record(job: CardAdminJob, progress: Progress, serials: Serials) -> None:
    if progress.old_serials and not serials.old:
        serials.old = [f"{serial:x}" for serial in progress.old_serials]
    if progress.new_serials:
        serials.new = [*serials.new, *(f"{serial:x}" for serial in progress.new_serials)]
    if progress.new_digests:
        job.new_digests = list(progress.new_digests)
    job.card_state = progress.card_state.value
    if progress.outcome is not None:
        job.outcome = progress.outcome


async def _revoke_unused(
    session: AsyncSession,
    *,
    principal: Principal,
    job: CardAdminJob,
    runtime: CardAdminRuntime,
    serials: Serials,
) -> None:
    """An earlier run's certificates that never became active: revoke them so no card or copy can use them."""
    unused = [serial for serial in serials.new if serial not in serials.revoked]
    if unused:
        runtime.issuer.revoke([int(serial, 16) for serial in unused])
        serials.revoked = [*serials.revoked, *unused]
        await audit.record(
            session,
            actor=principal,
            action="card_admin.unused_revoked",
            municipality_code=job.municipality_code,
            case_id=job.case_id,
            object_type="card_admin_job",
            object_id=job.run_id,
            reason_code=str(len(unused)),
        )
    serials.new, job.new_digests = [], []


async def _refused(session: AsyncSession, *, principal: Principal, job: CardAdminJob, code: str) -> None:
    job.refusals += 1
    job.state = RunState.refused.value
    job.outcome = f"refused:{code}"
    job.channel_kek_id = job.channel_wrapped_key = job.channel_ciphertext = None
    job.updated_at = clock.now()
    await session.flush()
    await audit.record(
        session,
        actor=principal,
        action="card_admin.refused",
        municipality_code=job.municipality_code,
        case_id=job.case_id,
        object_type="card_admin_job",
        object_id=job.run_id,
        to_state=job.card_state,
        reason_code=code[:60],
    )


def _verify_issued(runtime: CardAdminRuntime, driver: Driver) -> str | None:
    """The hub's own check of what the card now holds: None when sound, else a reason code."""
    checker = runtime.checker()
    at = dt.datetime.now(dt.UTC)
    for name, (certificate, info, signature) in driver.proofs().items():
        if Slot(name) is Slot.auth:
            # The card-proof verifier, with the CSR as the signed bytes: the new key signed it on the card.
            result = verify_card_proof(
                certificate_der=certificate,
                signature=signature,
                signed_bytes=info,
                trust=runtime.trust,
                at=at,
                allow_test_roots=runtime.allow_test_roots,
                revocation=checker,
            )
            if not result.ok:
                return f"auth_{result.reasons[0].value}"
        else:
            public = x509.load_der_x509_certificate(certificate).public_key()
            if not isinstance(public, rsa.RSAPublicKey):
                return "sign_key_not_rsa"
            try:
                public.verify(signature, info, padding.PKCS1v15(), hashes.SHA256())
            except InvalidSignature:
                return "sign_possession"
    return None


async def _finish(
    session: AsyncSession,
    *,
    principal: Principal,
    job: CardAdminJob,
    driver: Driver,
    progress: Progress,
    runtime: CardAdminRuntime,
    serials: Serials,
) -> None:
    if Operation(job.operation) is Operation.renew_certificates and job.card_state == CardState.new.value:
        problem = _verify_issued(runtime, driver) if progress.issued else None
        old = [serial for serial in serials.old if serial not in serials.revoked]
        try:
            runtime.issuer.revoke([int(serial, 16) for serial in old])
        except IssuerError:
            # The card is new either way; the revocation is retried by the next run (old serials stay listed).
            job.outcome = "renewed_revocation_pending"
            job.state = RunState.running.value
            return
        serials.revoked = [*serials.revoked, *old]
        if problem is not None:
            job.outcome = f"renewed_unverified:{problem}"
    job.state = RunState.done.value if job.outcome != "pin_authorised" else RunState.running.value
    if job.outcome == "pin_authorised":
        job.pin_changes = int(driver.state.get("pin_changes") or 0)
    await audit.record(
        session,
        actor=principal,
        action="card_admin.completed" if job.state == RunState.done.value else "card_admin.pin_authorised",
        municipality_code=job.municipality_code,
        case_id=job.case_id,
        object_type="card_admin_job",
        object_id=job.run_id,
        to_state=job.card_state,
        reason_code=(job.outcome or "")[:60],
    )
