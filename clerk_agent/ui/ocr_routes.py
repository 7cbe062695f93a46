"""The clerk screen's OCR of a document's access data (docs/id-documents.md §OCR), mounted by create_ui.

`POST /api/chip/ocr?kind=passport|residence_card` takes the counter camera's current frame, reads the passport's
MRZ or the residence card's number from it, and answers the fields for the clerk's form to prefill (the clerk checks
them against the document and sends them on as typed ones). The answer is the only place the fields go: nothing is
logged, nothing goes to the hub, and the fields' buffers are wiped once the answer is encoded.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from clerk_agent.card.idchips.ocr import OcrError, OcrKind, read_still_async
from clerk_agent.photo.camera import CounterCamera
from clerk_agent.rtc.errors import CaptureError


def ocr_routes(camera: Callable[[], CounterCamera], csrf_ok: Callable[[Request], bool]) -> list[Route]:
    """The one OCR route; `camera` is the counter camera of the moment (the flow may replace it)."""

    async def ocr(request: Request) -> Response:
        if not csrf_ok(request):
            return JSONResponse({"error": "csrf"}, status_code=403)
        try:
            kind = OcrKind(request.query_params.get("kind", ""))
        except ValueError:
            return JSONResponse(
                {"error": "kind", "detail": "kind is passport or residence_card"}, status_code=400
            )
        try:
            frame = await camera().frame()
        except CaptureError:
            return JSONResponse(
                {"kind": kind.value, "found": False, "reason": "camera_unavailable"}, status_code=409
            )
        try:
            fields = await read_still_async(frame, kind)
        except OcrError as exc:
            return JSONResponse({"kind": kind.value, "found": False, "reason": exc.failure.value})
        finally:
            frame.fill(0)  # this frame is ours alone (the camera gives each caller a fresh array)
        try:
            body = json.dumps({"kind": kind.value, "found": True, "fields": fields.text()})
        finally:
            fields.wipe()
        return Response(body, media_type="application/json")

    return [Route("/api/chip/ocr", ocr, methods=["POST"])]
