"""Chip evidence: verify the objects a counter read from an ID document's chip, record the result, show it.

The hub keeps the verification (each check named), the holder's fields and the photo, encrypted like other
evidence. The raw objects are not kept: a passport's DG1 is its MRZ, the very data its chip's access key is derived
from. The document number is stored only as a keyed hash (the same document recognisable across cases) and
masked (docs/id-documents.md §Evidence).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import io
import json

from PIL import Image
from sqlalchemy.ext.asyncio import AsyncSession

from service.accounts.roles import Principal
from service.audit import service as audit
from service.cases.lifecycle import CaseState
from service.cases.models import Case
from service.evidence import repository
from service.evidence.exceptions import EvidenceClosed, EvidenceNotFound, EvidenceUnreadable
from service.evidence.models import EvidenceItem
from service.evidence.runtime import EvidenceRuntime
from service.evidence.service import (
    CARD_READ_STATES,
    open_blob,
    record_view,
    require_device_of_case,
    require_evidence_reader,
    store_blob,
)
from service.idchips.exceptions import ChipKindUnsupported, MalformedReadout
from service.idchips.passport import mask_document_number
from service.idchips.schemas import ChipDocumentView
from service.idchips.verifiers import VERIFIERS, ChipCheckResult, ChipVerification
from service.kit import clock, images
from service.kit.ids import random_id
from service.wire.idchips import (
    ACCEPTED_CHIP_KINDS,
    ChipCheck,
    ChipKind,
    ChipReadout,
    ChipRefusal,
    ChipVerdict,
    ChipVerificationRead,
)

EVIDENCE_KIND = "chip_document"
# A passport's DG2 with a large photo stays well under 100 kB; licences and residence cards likewise.
MAX_OBJECT_BYTES = 200_000
PHOTO_FORMATS = ("JPEG", "JPEG2000", "PNG")
PHOTO_MAX_PIXELS = 4_000_000
CARD_FACE_FORMATS = ("TIFF", "PNG", "JPEG")  # the residence card's 券面(表)イメージ is TIFF


def document_number_key(secret: str, kind: ChipKind, number: str) -> str:
    """A keyed hash of a document number: the same document recognisable, the number not recoverable."""
    key = hmac.new(secret.encode(), b"chip-document-number", hashlib.sha256).digest()
    return hmac.new(key, f"{kind.value}:{number}".encode(), hashlib.sha256).hexdigest()[:32]


def _decode(readout: ChipReadout) -> dict[str, bytes]:
    objects: dict[str, bytes] = {}
    for name, text in readout.objects.items():
        if len(text) > MAX_OBJECT_BYTES * 4 // 3 + 4:
            raise MalformedReadout(f"{name} is larger than {MAX_OBJECT_BYTES} bytes")
        try:
            objects[name] = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise MalformedReadout(f"{name} is not valid base64") from exc
    return objects


def _check_entry(check: ChipCheckResult) -> dict[str, object]:
    return {
        "name": check.name,
        "ok": check.ok,
        "reason_code": check.reason_code.value if check.reason_code else None,
        "detail": check.detail,
    }


async def submit_readout(
    session: AsyncSession,
    *,
    principal: Principal,
    case: Case,
    readout: ChipReadout,
    runtime: EvidenceRuntime,
    secret: str,
) -> tuple[EvidenceItem, ChipVerification]:
    """Verify a chip readout with its kind's verifier and record it, verified or refused, as evidence."""
    require_device_of_case(principal, case)
    if CaseState(case.state) not in CARD_READ_STATES:
        raise EvidenceClosed(f"no document reads in state {case.state}")
    verifier = VERIFIERS.get(readout.kind)
    if verifier is None:
        raise ChipKindUnsupported(f"no verifier for {readout.kind.value}")
    objects = _decode(readout)
    now = clock.now()
    # Signature checks on a few kilobytes, but a 4096-bit RSA chain and a photo parse stay off the loop.
    result = await asyncio.to_thread(verifier, objects, runtime.chip_anchors, now)
    if readout.kind in ACCEPTED_CHIP_KINDS.get(case.procedure, frozenset()):
        result.checks.insert(0, ChipCheckResult("accepted_kind", True))
    else:
        result.checks.insert(0, ChipCheckResult("accepted_kind", False, ChipRefusal.kind_not_accepted))
    number = result.fields.document_number
    summary: dict[str, object] = {
        "document_kind": readout.kind.value,
        "verdict": result.verdict.value,
        "refusal_reason": result.refusal.value if result.refusal else None,
        "checks": [_check_entry(c) for c in result.checks],
        "document_number_key": document_number_key(secret, readout.kind, number) if number else None,
        "photo_available": result.photo is not None,
        "card_face_available": result.card_face is not None,
    }
    item = EvidenceItem(
        id=random_id("evd"),
        case_id=case.id,
        kind=EVIDENCE_KIND,
        device_id=principal.id,
        summary=summary,
        ok=result.ok,
        created_at=now,
    )
    session.add(item)
    await session.flush()
    fields = result.fields
    holder = {
        "name": fields.name,
        "birth_date": fields.birth_date.isoformat() if fields.birth_date else None,
        "address": fields.address,
        "valid_until": fields.valid_until.isoformat() if fields.valid_until else None,
        "document_number_masked": mask_document_number(number) if number else None,
        "nationality": fields.nationality,
    }
    await store_blob(
        session,
        runtime,
        item=item,
        field="chip_fields",
        content_type="application/json",
        data=json.dumps(holder, ensure_ascii=False).encode(),
    )
    if result.photo is not None:
        await store_blob(
            session,
            runtime,
            item=item,
            field="chip_photo",
            content_type=result.photo_content_type or "application/octet-stream",
            data=result.photo,
        )
    if result.card_face is not None:
        await store_blob(
            session,
            runtime,
            item=item,
            field="chip_card_face",
            content_type="image/tiff",
            data=result.card_face,
        )
    await audit.record(
        session,
        actor=principal,
        action="evidence.chip_document_recorded",
        municipality_code=case.municipality_code,
        case_id=case.id,
        object_type="evidence",
        object_id=item.id,
        reason_code=result.refusal.value if result.refusal else readout.kind.value,
    )
    await session.flush()
    return item, result


def _to_png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.convert("RGB").save(out, format="PNG")
    return out.getvalue()


async def _card_face_png(data: bytes) -> str:
    """A signed card-face image as base64 PNG for the browser (decoded off the loop after a header check)."""
    try:
        png = await images.decoded(data, formats=CARD_FACE_FORMATS, max_pixels=PHOTO_MAX_PIXELS, use=_to_png)
    except images.ImageRefused as exc:
        raise EvidenceUnreadable(f"the card-face image is not a readable image: {exc}") from exc
    return base64.b64encode(png).decode()


async def _photo_png(data: bytes) -> str:
    """The chip photo (JPEG or JPEG 2000) as base64 PNG for the browser, decoded off the loop after a header check."""
    try:
        png = await images.decoded(data, formats=PHOTO_FORMATS, max_pixels=PHOTO_MAX_PIXELS, use=_to_png)
    except images.ImageRefused as exc:
        raise EvidenceUnreadable(f"the chip photo is not a readable image: {exc}") from exc
    return base64.b64encode(png).decode()


def verification_read(item: EvidenceItem) -> ChipVerificationRead:
    """The recorded verification without the holder's fields (what the counter gets back)."""
    summary = item.summary
    refusal = summary.get("refusal_reason")
    return ChipVerificationRead(
        evidence_id=item.id,
        kind=ChipKind(summary["document_kind"]),
        checks=[
            ChipCheck(name=c["name"], ok=c["ok"], reason_code=c.get("reason_code")) for c in summary["checks"]
        ],
        verdict=ChipVerdict(summary["verdict"]),
        refusal_reason=ChipRefusal(refusal) if refusal else None,
        photo_available=bool(summary.get("photo_available")),
    )


async def view_document(
    session: AsyncSession,
    *,
    principal: Principal,
    case: Case,
    evidence_id: str,
    runtime: EvidenceRuntime,
    photo_png: bool = True,
) -> ChipDocumentView:
    """The officer's view of a chip document: checks, holder fields and photo; every view is an audit row."""
    require_evidence_reader(principal, case)
    item = await repository.item(session, case.id, evidence_id)
    if item is None or item.kind != EVIDENCE_KIND:
        raise EvidenceNotFound()
    fields_blob = await repository.blob_of(session, item.id, "chip_fields")
    holder = json.loads(open_blob(runtime, fields_blob)) if fields_blob is not None else {}
    photo = None
    if photo_png and (photo_blob := await repository.blob_of(session, item.id, "chip_photo")) is not None:
        photo = await _photo_png(open_blob(runtime, photo_blob))
    card_face = None
    if photo_png and (face_blob := await repository.blob_of(session, item.id, "chip_card_face")) is not None:
        card_face = await _card_face_png(open_blob(runtime, face_blob))
    await record_view(session, principal=principal, case=case, item_id=item.id, reason_code=EVIDENCE_KIND)
    base = verification_read(item)
    return ChipDocumentView(**{**base.model_dump(), **holder}, photo_png=photo, card_face_png=card_face)
