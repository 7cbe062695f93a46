"""Rules of evidence: card challenges, verifying card proofs from hub state, the card-swap guard, the evidence list.

The audited view of the card face is in cardface_view.py.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import secrets

from sqlalchemy.ext.asyncio import AsyncSession

from service.accounts.roles import Principal, PrincipalKind, Role
from service.audit import service as audit
from service.cardproof.verify import CheckName, CheckStatus, ProofResult, signed_bytes_for, verify_card_proof
from service.cases.exceptions import NotAssigned
from service.cases.lifecycle import CaseState
from service.cases.models import Case
from service.errors import PermissionDenied
from service.evidence import repository
from service.evidence.exceptions import (
    ChallengeExpired,
    ChallengeNotFound,
    ChallengeUsed,
    EvidenceClosed,
    EvidenceIntegrity,
    EvidencePurged,
    MalformedProof,
)
from service.evidence.models import CardChallenge, CaseCardBinding, EvidenceBlob, EvidenceItem
from service.evidence.runtime import EvidenceRuntime
from service.evidence.schemas import CardProofSubmit
from service.kit import clock
from service.kit.envelope import EnvelopeError, Sealed, aad_for
from service.kit.ids import random_id
from service.observability.metrics import count_card_proof_failures

# The counter may read the card from check-in until the decision; during the review too, because a video drop
# there voids earlier chip evidence and the proof must be redone under observation.
CARD_READ_STATES = frozenset(
    {
        CaseState.checked_in,
        CaseState.eligibility_precheck,
        CaseState.queued_for_officer,
        CaseState.session_live,
        CaseState.evidence_captured,
        CaseState.officer_review,
    }
)
CARD_KINDS = ("card_proof", "card_face")


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _b64(field: str, text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise MalformedProof(f"{field} is not valid base64") from exc


def require_device_of_case(principal: Principal, case: Case) -> None:
    """Only the clerk-agent device of the case's post office adds evidence."""
    if principal.kind is not PrincipalKind.device or principal.post_office_id != case.post_office_id:
        raise PermissionDenied("only the counter device of this case adds evidence")


def require_evidence_reader(
    principal: Principal,
    case: Case,
    refusal: str = "evidence is shown only to the assigned officer or a supervisor",
) -> None:
    """The officer assigned to the case, or a supervisor of its municipality (reads evidence, writes notes)."""
    if principal.kind is PrincipalKind.account and principal.municipality_code == case.municipality_code:
        if principal.role is Role.supervisor:
            return
        if principal.role is Role.officer:
            if case.officer_id != principal.id:
                raise NotAssigned()
            return
    raise PermissionDenied(refusal)


async def issue_challenge(
    session: AsyncSession, *, principal: Principal, case: Case, origin: str, ttl_seconds: int
) -> CardChallenge:
    """A fresh 256-bit nonce for one card-possession proof of this case."""
    require_device_of_case(principal, case)
    if CaseState(case.state) not in CARD_READ_STATES:
        raise EvidenceClosed(f"no card reads in state {case.state}")
    now = clock.now()
    challenge = CardChallenge(
        id=random_id("chal"),
        case_id=case.id,
        nonce=secrets.token_urlsafe(32),
        origin=origin,
        expires_at=now + dt.timedelta(seconds=ttl_seconds),
        created_at=now,
    )
    session.add(challenge)
    await session.flush()
    await audit.record(
        session,
        actor=principal,
        action="evidence.card_challenge_issued",
        municipality_code=case.municipality_code,
        case_id=case.id,
        object_type="card_challenge",
        object_id=challenge.id,
    )
    return challenge


def _summary(result: ProofResult) -> dict[str, object]:
    return {
        "checks": [
            {
                "check": c.check.value,
                "status": c.status.value,
                "reason": c.reason.value if c.reason else None,
                "detail": c.detail,
            }
            for c in result.checks
        ],
        "reasons": [r.value for r in result.reasons],
        "revocation": result.revocation.status.value,
        "revocation_label": result.revocation_label,
        "certificate_sha256": result.certificate_sha256,
        "trust_anchor_sha256": result.trust_anchor_sha256,
        "trust_anchor_is_test": result.trust_anchor_is_test,
        "card_face": result.check(CheckName.CARD_FACE).status.value,
        "card_face_key": result.check(CheckName.CARD_FACE_KEY).status.value,
        # Which card was read, as its certificate says (docs/card.md §3): the console names it.
        "card_generation": result.card_generation,
    }


async def record_view(
    session: AsyncSession, *, principal: Principal, case: Case, item_id: str, reason_code: str
) -> None:
    """Every view of evidence lands in the audit trail: who, which item, which kind — never its content."""
    await audit.record(
        session,
        actor=principal,
        action="evidence.viewed",
        municipality_code=case.municipality_code,
        case_id=case.id,
        object_type="evidence",
        object_id=item_id,
        reason_code=reason_code,
    )


def open_blob(runtime: EvidenceRuntime, blob: EvidenceBlob) -> bytes:
    """Decrypt a blob bound to its own case and field; purged and tampered blobs are refused distinctly."""
    if blob.ciphertext is None or blob.wrapped_key is None:
        raise EvidencePurged()
    try:
        return runtime.keyring.open(
            Sealed(blob.kek_id, blob.wrapped_key, blob.ciphertext),
            aad_for(case_id=blob.case_id, field=blob.field, object_id=blob.id),
        )
    except EnvelopeError as exc:
        raise EvidenceIntegrity() from exc


async def store_blob(
    session: AsyncSession,
    runtime: EvidenceRuntime,
    *,
    item: EvidenceItem,
    field: str,
    content_type: str,
    data: bytes,
) -> None:
    blob_id = random_id("blob")
    sealed = runtime.keyring.seal(data, aad_for(case_id=item.case_id, field=field, object_id=blob_id))
    session.add(
        EvidenceBlob(
            id=blob_id,
            evidence_id=item.id,
            case_id=item.case_id,
            field=field,
            content_type=content_type,
            size=len(data),
            kek_id=sealed.kek_id,
            wrapped_key=sealed.wrapped_key,
            ciphertext=sealed.ciphertext,
            created_at=clock.now(),
        )
    )


async def submit_card_proof(
    session: AsyncSession,
    *,
    principal: Principal,
    case: Case,
    body: CardProofSubmit,
    runtime: EvidenceRuntime,
) -> tuple[EvidenceItem, bool]:
    """Verify a proof against bytes rebuilt from the hub's own challenge; record it whatever the outcome."""
    require_device_of_case(principal, case)
    if CaseState(case.state) not in CARD_READ_STATES:
        raise EvidenceClosed(f"no card reads in state {case.state}")
    challenge = await repository.challenge_for_update(session, body.challenge_id)
    # A challenge of another case is as good as none: the proof is bound to this case.
    if challenge is None or challenge.case_id != case.id:
        raise ChallengeNotFound()
    now = clock.now()
    if challenge.used_at is not None:
        raise ChallengeUsed()
    if challenge.expires_at <= now:
        raise ChallengeExpired()
    challenge.used_at = now
    certificate, signature = _b64("certificate", body.certificate), _b64("signature", body.signature)
    card_face = _b64("card_face", body.card_face) if body.card_face is not None else None
    card_face_signature = (
        _b64("card_face_signature", body.card_face_signature)
        if body.card_face_signature is not None
        else None
    )
    if card_face_signature is not None and card_face is None:
        raise MalformedProof("card_face_signature without card_face")
    result = verify_card_proof(
        certificate_der=certificate,
        signature=signature,
        signed_bytes=signed_bytes_for(challenge.origin, challenge.nonce, case.id),
        trust=runtime.trust,
        at=now,
        allow_test_roots=runtime.allow_test_roots,
        revocation=runtime.revocation,
        card_face=card_face,
        card_face_signature=card_face_signature,
        reported_generation=body.card_generation,
    )
    count_card_proof_failures(result.reasons)
    atr_sha = _sha256(bytes.fromhex(body.atr))
    swap = False
    binding = await repository.binding_for_update(session, case.id)
    if result.ok and result.certificate_sha256 is not None:
        face_sha = result.card_face.sha256 if result.card_face else None
        if binding is None:
            session.add(
                CaseCardBinding(
                    case_id=case.id,
                    atr_sha256=atr_sha,
                    certificate_sha256=result.certificate_sha256,
                    card_face_sha256=face_sha,
                    bound_at=now,
                )
            )
        else:
            # The binding is fixed at the first verified read. A face arriving after a read without one is a
            # swap too: nothing ties it to the card first read (docs/card-face-binding.md).
            swap = (
                binding.atr_sha256 != atr_sha
                or binding.certificate_sha256 != result.certificate_sha256
                or (face_sha is not None and binding.card_face_sha256 != face_sha)
            )
    if swap and binding is not None:
        binding.swap_detected_at = now
        for old in await repository.items(session, case.id, CARD_KINDS):
            if old.voided_at is None:
                old.voided_at, old.void_reason = now, "card_swap"
        await audit.record(
            session,
            actor=principal,
            action="evidence.card_swap_detected",
            municipality_code=case.municipality_code,
            case_id=case.id,
            reason_code="card_swap",
        )
    summary = _summary(result)
    item = EvidenceItem(
        id=random_id("evd"),
        case_id=case.id,
        kind="card_proof",
        device_id=principal.id,
        summary=summary,
        ok=result.ok and not swap,
        voided_at=now if swap else None,
        void_reason="card_swap" if swap else None,
        created_at=now,
    )
    session.add(item)
    await session.flush()
    # Only a face whose issuer signature holds and whose own key answered this challenge becomes viewable
    # evidence; any other face stays in the proof's checks, with its reason, and is never shown as this card's.
    if card_face is not None and result.card_face is not None and _face_passed(result):
        face_item = EvidenceItem(
            id=random_id("evd"),
            case_id=case.id,
            kind="card_face",
            device_id=principal.id,
            summary={
                "card_face": summary["card_face"],
                "card_face_key": summary["card_face_key"],
                "proof_evidence_id": item.id,
                # DF29/DF2A lie outside the issuer's signature; the view names the expiry `expiry_unsigned`.
                "unsigned_fields": ["expiry"],
            },
            ok=result.ok and not swap,
            voided_at=item.voided_at,
            void_reason=item.void_reason,
            created_at=now,
        )
        session.add(face_item)
        await session.flush()
        # The signed original is kept, so the card face can be re-verified later; parsed only when viewed.
        await store_blob(
            session,
            runtime,
            item=face_item,
            field="card_face",
            content_type="application/x-mynumber-card-face",
            data=card_face,
        )
    await audit.record(
        session,
        actor=principal,
        action="evidence.card_proof_recorded",
        municipality_code=case.municipality_code,
        case_id=case.id,
        object_type="evidence",
        object_id=item.id,
        reason_code=(result.reasons[0].value if result.reasons else ("card_swap" if swap else None)),
    )
    await session.flush()
    return item, swap


def _face_passed(result: ProofResult) -> bool:
    return all(
        result.check(name).status is CheckStatus.PASSED
        for name in (CheckName.CARD_FACE, CheckName.CARD_FACE_KEY)
    )


async def list_evidence(
    session: AsyncSession, *, principal: Principal, case: Case
) -> tuple[list[EvidenceItem], CaseCardBinding | None]:
    """The case's evidence summaries (no content) for its officer or a supervisor; the view is audited."""
    require_evidence_reader(principal, case)
    found = list(await repository.items(session, case.id))
    await audit.record(
        session,
        actor=principal,
        action="evidence.listed",
        municipality_code=case.municipality_code,
        case_id=case.id,
    )
    return found, await repository.binding(session, case.id)
