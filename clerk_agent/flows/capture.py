"""The counter steps that use the camera: the 申請書ID QR code, document stills, the application photo.

Stills are taken from the counter camera's full-resolution frames and queued with the other hub writes, so a
still taken while the hub is down is kept (clerk_agent/link/store.py) and sent when it is back, in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from typing import Final

from clerk_agent.flows.case import DocumentStill
from clerk_agent.flows.desk import Desk
from clerk_agent.photo.camera import CounterCamera
from clerk_agent.photo.guidance import Advice
from clerk_agent.photo.preview import Detector, PhotoPreview
from clerk_agent.photo.qr import scan_form_id
from clerk_agent.rtc.errors import CaptureError
from service.wire.cases import CaseState
from service.wire.evidence import StillKind

VIEWS: Final = {
    "front": StillKind.document_front,
    "tilt": StillKind.document_tilt,
}  # 表面 / ホログラム確認用の傾き
# The officer sees document stills only while the live session is open.
_STILL_STATES: Final = frozenset({CaseState.session_live, CaseState.evidence_captured})
MAX_DOCUMENTS: Final = 3  # A×1, A×2, or A+B plus one: more is never needed (docs/domain.md §A2.12)
STILL_JPEG_QUALITY: Final = 92


class CaptureSteps:
    """QR scan, document stills and the application photo of the flow's current case."""

    def __init__(self, desk: Desk, camera: CounterCamera, detector: Detector | None = None) -> None:
        self.desk = desk
        self.camera = camera
        self.preview = PhotoPreview(camera, detector=detector) if detector else PhotoPreview(camera)
        self.scanned_form_id: str | None = None
        self.scanning = False
        self.candidate: bytes | None = None  # the cropped photo waiting for the applicant's approval
        self.candidate_advice: tuple[Advice, ...] = ()
        self._preview_task: asyncio.Task[None] | None = None

    # --- 申請書ID -----------------------------------------------------------------------------------

    async def begin_scan(self) -> None:
        """Start looking for the form's QR code without holding the clerk's request; `scanning` shows it."""
        if not self.scanning:
            self.scanning = True
            self.scanned_form_id = None
            self.desk.spawn(self.scan_form_id())

    async def scan_form_id(self, timeout_s: float = 5.0) -> None:
        """Look for the form's QR code for a few seconds; the ID fills the form-ID field (the clerk then starts)."""
        self.scanning = True
        try:
            found = await scan_form_id(self.camera, timeout_s=timeout_s)
        except CaptureError:
            found = None
        finally:
            self.scanning = False
        self.scanned_form_id = found
        self.desk.notice = None if found else "qr_not_found"

    # --- document stills ----------------------------------------------------------------------------

    async def capture_document(self, document: int, view: str) -> None:
        """One still of ID document `document` (1-based), `view` front or tilt, queued for the hub."""
        case = self.desk.require_case()
        if view not in VIEWS or not 1 <= document <= MAX_DOCUMENTS:
            raise ValueError("document is 1–3 and view is front or tilt")
        if case.hub_state not in _STILL_STATES or case.evidence_sent:
            self.desk.notice = "documents_closed"
            return
        try:
            image = await self.camera.frame()
        except CaptureError:
            self.desk.notice = "camera_unavailable"
            return
        data = await asyncio.to_thread(_jpeg, image, STILL_JPEG_QUALITY)
        height, width = image.shape[:2]
        case.documents.append(dataclasses.asdict(DocumentStill(document, view, width, height)))
        self.desk.notice = None
        await self.desk.save()
        await self._upload(VIEWS[view], data)

    def still_answered(self, kind: str) -> None:  # the hub's StillStored.kind
        """The hub stored a still of `kind`: the oldest unsent one of that view is now sent (the queue is ordered)."""
        case = self.desk.case
        if case is None:
            return
        for still in case.documents:
            if not still["sent"] and VIEWS.get(str(still["view"])) == kind:
                still["sent"] = True
                return

    # --- application photo --------------------------------------------------------------------------

    def preview_running(self) -> bool:
        """Whether the live framing preview is on."""
        return self._preview_task is not None

    async def start_preview(self) -> None:
        """Turn on the live framing guidance (owned here; stopped on take, on leaving the step and on stop)."""
        if self._preview_task is None:
            self.candidate = None
            self._preview_task = asyncio.create_task(self.preview.run(), name="photo-preview")

    async def stop_preview(self) -> None:
        """Turn the live preview off."""
        task, self._preview_task = self._preview_task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, CaptureError):
                await task

    async def take_photo(self) -> None:
        """Crop the photo from a fresh full-resolution frame and show it to the applicant for approval."""
        self.desk.require_case()
        try:
            self.candidate, self.candidate_advice = await self.preview.take()
        except CaptureError:
            self.desk.notice = "camera_unavailable"
            return
        await self.stop_preview()
        self.desk.notice = None

    async def decide_photo(self, approved: bool) -> None:
        """The applicant's answer on their screen: approved → queued for the hub; otherwise back to the preview."""
        case = self.desk.require_case()
        photo, self.candidate = self.candidate, None
        if photo is None:
            return
        if not approved:
            await self.start_preview()
            return
        case.photo_sent = True
        await self.desk.save()
        await self._upload(StillKind.application_photo, photo)

    async def _upload(self, kind: StillKind, data: bytes) -> None:
        """Queue a still (JPEG) of `kind` for the current case, after the writes already queued."""
        case_id = await self.desk.case_id(settled=False)
        if case_id is None:
            return
        # Keyed like every other write: a still whose answer was lost is not stored twice on replay.
        await self.desk.enqueue(self.desk.client.upload_still(case_id, kind, data))

    def reset(self) -> None:
        """Forget the previous case's scan and photo."""
        self.scanned_form_id = None
        self.candidate = None
        self.candidate_advice = ()


def _jpeg(image: object, quality: int) -> bytes:
    import cv2

    ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])  # type: ignore[call-overload]
    if not ok:
        raise CaptureError("the still could not be encoded")
    return bytes(encoded.tobytes())
