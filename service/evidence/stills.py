"""Document stills and the application photo: sniffed (only real JPEG/PNG pass), encrypted, shown with an audit row."""

from __future__ import annotations

import hashlib

from sqlalchemy.ext.asyncio import AsyncSession

from service.accounts.roles import Principal
from service.audit import service as audit
from service.cases.lifecycle import CaseState
from service.cases.models import Case
from service.errors import Unprocessable
from service.evidence import repository
from service.evidence.exceptions import EvidenceClosed, EvidenceNotFound
from service.evidence.models import EvidenceItem
from service.evidence.runtime import EvidenceRuntime
from service.evidence.service import (
    open_blob,
    record_view,
    require_device_of_case,
    require_evidence_reader,
    store_blob,
)
from service.kit import clock, images
from service.kit.ids import random_id
from service.wire.evidence import StillKind

FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png"}
MIN_SIDE, MAX_SIDE = 240, 8000
# 25 MP: a 4K frame or a 12 MP still fits; decoding one takes at most ~100 MB (see service/kit/images.py).
MAX_PIXELS = 25_000_000
# The applicant's photo may be taken at check-in; documents are shown during the live session.
STILL_STATES = frozenset(
    {
        CaseState.checked_in,
        CaseState.eligibility_precheck,
        CaseState.queued_for_officer,
        CaseState.session_live,
        CaseState.evidence_captured,
    }
)


class NotAnImage(Unprocessable):
    code = "not_an_image"
    title = "The upload is not a JPEG or PNG image of a usable size"


class ImageTooLarge(NotAnImage):
    code = "image_too_large"
    title = "The image declares more pixels than the hub decodes"


async def sniff(data: bytes, declared: str) -> tuple[str, int, int]:
    """(content type, width, height) of a real JPEG/PNG matching `declared`; NotAnImage otherwise.

    The size comes from the header first: a decompression bomb is refused before any pixel is decoded, and the
    full decode (which catches truncated or corrupt pixel data) runs in a worker thread, off the event loop.
    """
    try:
        header = images.read_header(data, formats=tuple(FORMATS), max_pixels=MAX_PIXELS)
    except images.ImageTooLarge as exc:
        raise ImageTooLarge(str(exc)) from exc
    except images.ImageRefused as exc:
        raise NotAnImage(str(exc)) from exc
    content_type = FORMATS[header.format]
    if declared.split(";")[0].strip().lower() != content_type:
        raise NotAnImage(f"Content-Type says {declared!r} but the image is {content_type}")
    width, height = header.width, header.height
    if not (min(width, height) >= MIN_SIDE and max(width, height) <= MAX_SIDE):
        raise NotAnImage(f"image is {width}×{height}; sides must be {MIN_SIDE}–{MAX_SIDE} px")
    try:
        await images.decoded(data, formats=tuple(FORMATS), max_pixels=MAX_PIXELS, use=lambda _: None)
    except images.ImageRefused as exc:
        raise NotAnImage(str(exc)) from exc
    return content_type, width, height


async def add_still(
    session: AsyncSession,
    *,
    principal: Principal,
    case: Case,
    kind: StillKind,
    data: bytes,
    content_type: str,
    runtime: EvidenceRuntime,
) -> EvidenceItem:
    """Store one still from the counter's camera."""
    require_device_of_case(principal, case)
    if CaseState(case.state) not in STILL_STATES:
        raise EvidenceClosed(f"no stills in state {case.state}")
    media_type, width, height = await sniff(data, content_type)
    item = EvidenceItem(
        id=random_id("evd"),
        case_id=case.id,
        kind=kind.value,
        device_id=principal.id,
        summary={
            "content_type": media_type,
            "width": width,
            "height": height,
            "bytes": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
        },
        ok=True,
        created_at=clock.now(),
    )
    session.add(item)
    await session.flush()
    await store_blob(session, runtime, item=item, field="image", content_type=media_type, data=data)
    await audit.record(
        session,
        actor=principal,
        action="evidence.still_added",
        municipality_code=case.municipality_code,
        case_id=case.id,
        object_type="evidence",
        object_id=item.id,
        reason_code=kind.value,
    )
    return item


async def view_still(
    session: AsyncSession, *, principal: Principal, case: Case, evidence_id: str, runtime: EvidenceRuntime
) -> tuple[bytes, str]:
    """The image bytes for the officer or a supervisor; each view is an audit row."""
    require_evidence_reader(principal, case)
    item = await repository.item(session, case.id, evidence_id)
    if item is None or item.kind not in {k.value for k in StillKind}:
        raise EvidenceNotFound()
    blob = await repository.blob_of(session, item.id, "image")
    if blob is None:
        raise EvidenceNotFound()
    data = open_blob(runtime, blob)
    await record_view(session, principal=principal, case=case, item_id=item.id, reason_code=item.kind)
    return data, blob.content_type
