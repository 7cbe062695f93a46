"""The sealed PIN request (暗証番号設定依頼) or the 顔認証 choice, recorded at the counter when a card application is finalized."""

from __future__ import annotations

from enum import StrEnum

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey
from sqlalchemy.ext.asyncio import AsyncSession

from service.accounts.roles import Principal
from service.audit import service as audit
from service.cases import service as case_service
from service.cases.lifecycle import Action
from service.cases.models import Case
from service.config import Settings
from service.errors import Conflict, Unprocessable
from service.evidence import repository
from service.evidence.models import EvidenceItem
from service.evidence.runtime import EvidenceRuntime
from service.evidence.service import require_device_of_case, store_blob
from service.kit import clock
from service.kit.ids import random_id
from service.tenancy.codes import Procedure
from service.tenancy.models import Municipality
from service.tenancy.service import PIN_SEALING_POLICY_KEY
from service.wire.device_auth import b64url_decode
from service.wire.pin_seal import SealedPinRequest, key_id_of


class OldCard(StrEnum):
    """What happens to the current card on a renewal (docs/domain.md §A2.11: the old card is returned)."""

    returned = (
        "returned"  # 返納: surrendered at the counter, the clerk invalidates it (穴あけ) and sends it on
    )
    kept_until_delivery = (
        "kept_until_delivery"  # kept by the holder, to be returned when the new card arrives
    )
    invalidated = (
        "invalidated"  # already void (lost, reported, or expired before the visit): nothing to hand over
    )


# The municipality may set its own default in its policy; the domain's default is that the old card is returned.
OLD_CARD_POLICY_KEY = "old_card_on_renewal"


class NoSealingKey(Conflict):
    code = "pin_sealing_key_missing"
    title = "The municipality has not registered its PIN-sealing key"


class WrongSealingKey(Unprocessable):
    code = "pin_sealing_key_mismatch"
    title = "The PIN request is sealed to a key that is not the municipality's current one"


class ApplicationPhotoMissing(Conflict):
    code = "application_photo_missing"
    title = "A card application needs the application photo (申請用顔写真) before it is finalized"


def sealing_key(municipality: Municipality) -> X25519PublicKey | None:
    """The municipality's registered X25519 key, if any."""
    text = (municipality.policy or {}).get(PIN_SEALING_POLICY_KEY)
    return X25519PublicKey.from_public_bytes(b64url_decode(text)) if isinstance(text, str) else None


async def finalize(
    session: AsyncSession,
    *,
    principal: Principal,
    case: Case,
    sealed: SealedPinRequest | None,
    face_auth: bool,
    runtime: EvidenceRuntime,
    settings: Settings,
    old_card: OldCard | None = None,
) -> Case:
    """Record the sealed PIN request (or the PIN-less 顔認証 choice) and move the case to pin_request_sealed."""
    require_device_of_case(principal, case)
    if (sealed is None) == (not face_auth):
        raise Unprocessable(
            "send either the sealed PIN request or face_auth: true (顔認証マイナンバーカード), not both"
        )
    municipality = await session.get(Municipality, case.municipality_code)
    if case.procedure == Procedure.card_renewal.value:
        if old_card is None:
            configured = (municipality.policy or {}).get(OLD_CARD_POLICY_KEY) if municipality else None
            old_card = OldCard(configured) if configured in set(OldCard) else OldCard.returned
    elif old_card is not None:
        raise Unprocessable("old_card is recorded for card renewals only")
    if case.procedure == Procedure.card_application.value:
        photos = await repository.items(session, case.id, ("application_photo",))
        if not any(p.voided_at is None for p in photos):
            raise ApplicationPhotoMissing()
    if sealed is not None:
        key = sealing_key(municipality) if municipality is not None else None
        if key is None:
            raise NoSealingKey()
        if sealed.key_id != key_id_of(key):
            raise WrongSealingKey()
    item = EvidenceItem(
        id=random_id("evd"),
        case_id=case.id,
        kind="pin_request",
        device_id=principal.id,
        summary={
            "face_auth": face_auth,
            "key_id": sealed.key_id if sealed else None,
            **({"old_card": old_card.value} if old_card is not None else {}),
        },
        ok=True,
        created_at=clock.now(),
    )
    session.add(item)
    await session.flush()
    if sealed is not None:
        # Sealed to the municipality already; encrypted again at rest like all evidence.
        await store_blob(
            session,
            runtime,
            item=item,
            field="sealed_pins",
            content_type="application/json",
            data=sealed.model_dump_json().encode(),
        )
    await audit.record(
        session,
        actor=principal,
        action="evidence.pin_request_recorded",
        municipality_code=case.municipality_code,
        case_id=case.id,
        object_type="evidence",
        object_id=item.id,
        reason_code="face_auth" if face_auth else "sealed",
    )
    if old_card is not None:
        await audit.record(
            session,
            actor=principal,
            action="evidence.old_card_recorded",
            municipality_code=case.municipality_code,
            case_id=case.id,
            object_type="evidence",
            object_id=item.id,
            reason_code=old_card.value,
        )
    return await case_service.act(
        session,
        principal=principal,
        case=case,
        action=Action.seal_pin_request,
        reason_code=None,
        attested=False,
        expected_version=None,
        answers=None,
        settings=settings,
        via_pin_request=True,
    )
