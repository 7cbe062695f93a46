"""Retention: crypto-shredding of evidence past its municipality's retention period, legal holds, key rotation.

Deleting a blob's wrapped data key makes its ciphertext unreadable for good (crypto-shredding); the audit row
written with it is the deletion record (PPC guideline 別添1: delete irrecoverably and record the deletion).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from service.accounts.roles import SYSTEM, Principal, PrincipalKind, Role
from service.audit import service as audit
from service.cases.models import Case
from service.errors import PermissionDenied
from service.evidence.models import EvidenceBlob, EvidenceItem, LegalHold
from service.kit import clock
from service.kit.envelope import Keyring, Sealed, aad_for
from service.tenancy.models import Municipality
from service.wire.evidence import DOCUMENT_STILL_KINDS, HOLD_ON_DECISION, HOLD_REASONS, OFFICER_FLAGS

# Defaults when the municipality's policy (Municipality.policy["retention_days"]) names none.
DEFAULT_RETENTION_DAYS: dict[str, int] = {
    "card_face": 90,
    "card_proof": 90,
    "document_still": 90,
    "application_photo": 90,
    "officer_note": 90,
    "chip_document": 90,
}


def retention_days(policy: dict[str, object], kind: str) -> int:
    """Days an evidence kind is kept for this municipality (its own entry, else its artefact type's)."""
    configured = policy.get("retention_days")
    keys = (kind, "document_still") if kind in DOCUMENT_STILL_KINDS else (kind,)
    if isinstance(configured, dict):
        for key in keys:
            if isinstance(configured.get(key), int):
                return int(configured[key])
    return DEFAULT_RETENTION_DAYS.get(keys[-1], 90)


async def purge_due(session: AsyncSession, *, now: dt.datetime | None = None) -> int:
    """Shred every blob past its retention unless its case is on legal hold; one audit row per blob."""
    now = now or clock.now()
    held = select(LegalHold.case_id)
    query = (
        select(EvidenceBlob, EvidenceItem.kind, Case.municipality_code, Municipality.policy)
        .join(EvidenceItem, EvidenceItem.id == EvidenceBlob.evidence_id)
        .join(Case, Case.id == EvidenceBlob.case_id)
        .join(Municipality, Municipality.code == Case.municipality_code)
        .where(EvidenceBlob.purged_at.is_(None), EvidenceBlob.case_id.not_in(held))
        .with_for_update(of=EvidenceBlob, skip_locked=True)
    )
    purged = 0
    for blob, kind, municipality_code, policy in (await session.execute(query)).all():
        if blob.created_at + dt.timedelta(days=retention_days(policy or {}, kind)) > now:
            continue
        blob.wrapped_key, blob.ciphertext, blob.purged_at = None, None, now
        purged += 1
        await audit.record(
            session,
            actor=SYSTEM,
            action="evidence.purged",
            municipality_code=municipality_code,
            case_id=blob.case_id,
            object_type="evidence_blob",
            object_id=blob.id,
            reason_code="retention_expired",
        )
    await session.flush()
    return purged


async def set_hold(session: AsyncSession, *, principal: Principal, case: Case, reason_code: str) -> LegalHold:
    """A supervisor, or the officer assigned to the case flagging it, puts its evidence on hold (no purging)."""
    if _is_assigned_officer(principal, case):
        if reason_code not in OFFICER_FLAGS:
            raise PermissionDenied(f"an officer flags with one of {', '.join(sorted(OFFICER_FLAGS))}")
    else:
        _require_supervisor(principal, case)
    if reason_code not in HOLD_REASONS:
        raise PermissionDenied(f"reason_code must be one of {', '.join(sorted(HOLD_REASONS))}")
    hold = await session.get(LegalHold, case.id)
    if hold is None:
        hold = await _add_hold(session, principal=principal, case=case, reason_code=reason_code)
    await session.flush()
    return hold


async def hold_on_decision(
    session: AsyncSession, *, principal: Principal, case: Case, reason_code: str
) -> None:
    """A decision whose reason is a hold reason (a rejection for suspected impersonation) holds the evidence.

    Called by the decision itself, in its transaction, whoever sent it: the hold cannot be skipped by a client
    that rejects without flagging first, and cannot outlive a decision that rolled back.
    """
    if reason_code not in HOLD_ON_DECISION or await session.get(LegalHold, case.id) is not None:
        return
    await _add_hold(session, principal=principal, case=case, reason_code=reason_code)
    await session.flush()


async def _add_hold(
    session: AsyncSession, *, principal: Principal, case: Case, reason_code: str
) -> LegalHold:
    """Put the case's evidence on hold and write the audit row of it (the caller knows there is none yet)."""
    hold = LegalHold(case_id=case.id, reason_code=reason_code, set_by=principal.id, set_at=clock.now())
    session.add(hold)
    await audit.record(
        session,
        actor=principal,
        action="evidence.hold_set",
        municipality_code=case.municipality_code,
        case_id=case.id,
        reason_code=reason_code,
    )
    return hold


async def release_hold(session: AsyncSession, *, principal: Principal, case: Case) -> None:
    """Lift the hold; retention applies again."""
    _require_supervisor(principal, case)
    hold = await session.get(LegalHold, case.id)
    if hold is not None:
        await session.delete(hold)
        await audit.record(
            session,
            actor=principal,
            action="evidence.hold_released",
            municipality_code=case.municipality_code,
            case_id=case.id,
        )


def _is_assigned_officer(principal: Principal, case: Case) -> bool:
    return (
        principal.kind is PrincipalKind.account
        and principal.role is Role.officer
        and principal.municipality_code == case.municipality_code
        and case.officer_id == principal.id
    )


def _require_supervisor(principal: Principal, case: Case) -> None:
    if (
        principal.kind is not PrincipalKind.account
        or principal.role is not Role.supervisor
        or principal.municipality_code != case.municipality_code
    ):
        raise PermissionDenied("only a supervisor of the case's municipality sets or lifts a legal hold")


async def rewrap_all(session: AsyncSession, *, keyring: Keyring) -> int:
    """Re-wrap every live blob's data key under the keyring's active KEK (after `Keyring.add_key`)."""
    rows = (
        await session.execute(
            select(EvidenceBlob)
            .where(EvidenceBlob.purged_at.is_(None), EvidenceBlob.kek_id != keyring.active)
            .with_for_update()
        )
    ).scalars()
    count = 0
    for blob in rows:
        if blob.wrapped_key is None or blob.ciphertext is None:
            continue
        fresh = keyring.rewrap(
            Sealed(blob.kek_id, blob.wrapped_key, blob.ciphertext),
            aad_for(case_id=blob.case_id, field=blob.field, object_id=blob.id),
        )
        blob.kek_id, blob.wrapped_key = fresh.kek_id, fresh.wrapped_key
        count += 1
    await session.flush()
    return count
