"""The people at the counter, on the local screens: the officer on the applicant's screen, the camera on the clerk's.

- `/api/officer`: who verifies the case — the officer's display name and municipality as the hub names them
  (never as the officer's browser would), and whether their camera picture is coming.
- `/api/officer/video.jpg`: the officer's latest camera frame, relayed from the call (clerk_agent/rtc/officer_video.py).
- `/api/camera/preview.jpg`: what the counter camera sees now, for the clerk's preview during the call and the
  申請書ID scan.

Pictures are for this UI's own pages only: a request without the session cookie is refused, as for the photo.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Final

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from clerk_agent.flows.call import CallStatus
from clerk_agent.photo.camera import CounterCamera, Image
from clerk_agent.rtc.errors import CaptureError

IN_CALL: Final = frozenset({"offering", "connected"})
PREVIEW_WIDTH: Final = 480


def officer_view(status: CallStatus) -> dict[str, object]:
    """What the applicant's screen shows of the officer (nothing outside a call)."""
    officer = status.officer
    present = status.phase in IN_CALL and bool(officer.get("display_name"))
    return {
        "present": present,
        "name": officer.get("display_name") if present else None,
        "municipality": officer.get("municipality_name") if present else None,
        "video": present and status.officer_video.live,
    }


def _preview_jpeg(image: Image) -> bytes:
    import cv2

    height, width = image.shape[:2]
    small = (
        cv2.resize(image, (PREVIEW_WIDTH, round(height * PREVIEW_WIDTH / width)))
        if width > PREVIEW_WIDTH
        else image
    )
    ok, data = cv2.imencode(".jpg", small, [cv2.IMWRITE_JPEG_QUALITY, 70])
    if not ok:
        raise CaptureError("the preview could not be encoded")
    return bytes(data.tobytes())


def officer_routes(
    status: Callable[[], CallStatus], camera: Callable[[], CounterCamera], session_cookie: str
) -> list[Route]:
    """The routes above, reading the flow's current call status and camera through the two callables."""

    def refused(request: Request) -> Response | None:
        if not request.cookies.get(session_cookie):
            return PlainTextResponse("no session", status_code=403)
        return None

    async def officer(request: Request) -> Response:
        del request
        return JSONResponse(officer_view(status()))

    async def officer_jpeg(request: Request) -> Response:
        if (no := refused(request)) is not None:
            return no
        data = await asyncio.to_thread(status().officer_video.jpeg)
        if data is None:
            return PlainTextResponse("no picture", status_code=404)
        return Response(data, media_type="image/jpeg")

    async def camera_jpeg(request: Request) -> Response:
        if (no := refused(request)) is not None:
            return no
        try:
            async with asyncio.timeout(2.0):
                image = await camera().frame()
            data = await asyncio.to_thread(_preview_jpeg, image)
        except (CaptureError, TimeoutError):
            return PlainTextResponse("no picture", status_code=404)
        return Response(data, media_type="image/jpeg")

    return [
        Route("/api/officer", officer),
        Route("/api/officer/video.jpg", officer_jpeg),
        Route("/api/camera/preview.jpg", camera_jpeg),
    ]
