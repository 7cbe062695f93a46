"""The officer's audited view of the chip's card face: decrypted, each image re-encoded as PNG off the loop."""

from __future__ import annotations

import base64
import io

from PIL import Image
from sqlalchemy.ext.asyncio import AsyncSession

from service.accounts.roles import Principal
from service.cardproof.cardface import parse_card_face
from service.cardproof.verify import CheckStatus
from service.cases.models import Case
from service.evidence import repository
from service.evidence.exceptions import CardFaceUnbound, EvidenceNotFound, EvidenceUnreadable
from service.evidence.runtime import EvidenceRuntime
from service.evidence.schemas import CardFaceView
from service.evidence.service import open_blob, record_view, require_evidence_reader
from service.kit import images

# The card face's images are small (the face photo is about 300 × 400); anything larger is not a card's.
CARD_FACE_FORMATS = ("PNG", "JPEG", "JPEG2000")
CARD_FACE_MAX_PIXELS = 4_000_000


def _to_png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.convert("RGB" if image.mode not in ("L", "RGB", "RGBA") else image.mode).save(out, format="PNG")
    return out.getvalue()


async def _png(data: bytes) -> str:
    """The card-face image re-encoded as base64 PNG, decoded off the loop after a header check."""
    try:
        png = await images.decoded(
            data, formats=CARD_FACE_FORMATS, max_pixels=CARD_FACE_MAX_PIXELS, use=_to_png
        )
    except images.ImageRefused as exc:
        raise EvidenceUnreadable(f"the stored card face holds an unreadable image: {exc}") from exc
    return base64.b64encode(png).decode()


async def view_card_face(
    session: AsyncSession, *, principal: Principal, case: Case, evidence_id: str, runtime: EvidenceRuntime
) -> CardFaceView:
    """Decrypt and show the chip's card face; every view is an audit row."""
    require_evidence_reader(principal, case)
    item = await repository.item(session, case.id, evidence_id)
    if item is None or item.kind != "card_face":
        raise EvidenceNotFound()
    if item.summary.get("card_face_key") != CheckStatus.PASSED.value:
        # Recorded before faces were bound to their card (docs/card-face-binding.md): it may be anyone's face.
        raise CardFaceUnbound()
    blob = await repository.blob_of(session, item.id, "card_face")
    if blob is None:
        raise EvidenceNotFound()
    raw = open_blob(runtime, blob)
    record = parse_card_face(raw)
    await record_view(session, principal=principal, case=case, item_id=item.id, reason_code="card_face")
    return CardFaceView(
        evidence_id=item.id,
        birth_date=record.birth_date,
        sex=record.sex,
        expiry_unsigned=record.expiry_unsigned,
        name_image_png=await _png(record.name_image),
        address_image_png=await _png(record.address_image),
        photo_png=await _png(record.photo_jp2),
    )
