"""The clerk's print station page in the counter UI: `/station` and its JSON API (clerk_agent/flows/station.py).

Same guards as the rest of the counter UI (server.py passes its CSRF checker and session cookie). The receipt is
read with the counter camera (the QR code on the slip) or typed.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Awaitable, Callable
from pathlib import Path

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from clerk_agent.flows.station import PrintStation
from clerk_agent.photo.camera import CounterCamera
from clerk_agent.wording.station import station_notice
from service.wire.certificates import JOB_STATE_LABELS, KIND_LABELS, JobState

JsonObject = dict[str, object]
Handler = Callable[[Request], Awaitable[Response]]

_PRINTABLE = frozenset({JobState.accepted_by_clerk, JobState.print_queued, JobState.print_failed})


def _pair(text: tuple[str, str] | None) -> dict[str, str] | None:
    return {"ja": text[0], "en": text[1]} if text else None


def _grouped(number: str) -> str:
    """A 10-digit receipt number as the slip prints it, 5-5."""
    return f"{number[:5]}-{number[5:]}" if len(number) == 10 and number.isdigit() else number


def station_view(station: PrintStation) -> JsonObject:
    """The station's screen: the scanned receipt's job (no personal data), the message, what may be done next."""
    view: JsonObject = {
        "notice": _pair(station_notice(station.notice)),
        "notice_code": station.notice,
        "printer": station.printer.uri if station.printer else None,
        "job": None,
        "actions": [],
    }
    if station.current is not None:
        job = station.current.job
        view["job"] = {
            "receipt_number": _grouped(job.receipt_number),
            "state": job.state.value,
            "state_label": _pair(JOB_STATE_LABELS[job.state]),
            "kind": _pair(KIND_LABELS[job.kind]),
            "count": job.count,
            "fee_yen": job.fee_yen,
            "fee_paid_yen": job.fee_paid_yen,
            "reprints": job.reprints,
            "expires_at": job.expires_at.isoformat(),
        }
        actions: list[str] = []
        if job.state in _PRINTABLE:
            actions.append("reprint" if job.state is JobState.print_failed else "print")
        if job.state is JobState.printed:
            actions += ["fee", "reprint"]  # a copy spoiled at the printer is reprinted without a second fee
        if job.state is JobState.fee_collected:
            actions.append("hand_over")
        actions.append("next")
        view["actions"] = actions
    return view


def station_routes(
    station: PrintStation,
    *,
    page_template: Path,
    csrf_token: Callable[[str], str],
    csrf_ok: Callable[[Request], bool],
    session_cookie: str,
    camera: Callable[[], CounterCamera | None],
) -> list[Route]:
    """The routes of the print station page."""
    template = page_template.read_text(encoding="utf-8")

    async def page(request: Request) -> Response:
        session = request.cookies.get(session_cookie) or secrets.token_urlsafe(24)
        response = Response(template.replace("__CSRF_TOKEN__", csrf_token(session)), media_type="text/html")
        response.set_cookie(session_cookie, session, httponly=True, samesite="strict", path="/")
        return response

    def action(work: Callable[[Request], Awaitable[None]]) -> Handler:
        async def handle(request: Request) -> Response:
            if not csrf_ok(request):
                return JSONResponse({"error": "csrf"}, status_code=403)
            try:
                await work(request)
            except (LookupError, ValueError) as exc:
                return JSONResponse({"error": type(exc).__name__, "detail": str(exc)}, status_code=409)
            return JSONResponse(station_view(station))

        return handle

    async def state(request: Request) -> Response:
        del request
        return JSONResponse(station_view(station))

    async def scan(request: Request) -> None:
        data = json.loads(await request.body() or b"{}")
        await station.scan(str(data.get("receipt_number", "")) if isinstance(data, dict) else "")

    async def scan_camera(request: Request) -> None:
        del request
        from clerk_agent.photo.qr import scan_receipt_number

        counter_camera = camera()
        if counter_camera is None:
            raise ValueError("no counter camera")
        found = await scan_receipt_number(counter_camera, timeout_s=5.0)
        if found is None:
            station.notice = "qr_not_found"
            return
        await station.scan(found)

    def simple(step: Callable[[], Awaitable[None]]) -> Callable[[Request], Awaitable[None]]:
        async def run(request: Request) -> None:
            del request
            await step()

        return run

    async def next_receipt(request: Request) -> None:
        del request
        station.clear()

    return [
        Route("/station", page),
        Route("/api/station/state", state),
        Route("/api/station/scan", action(scan), methods=["POST"]),
        Route("/api/station/scan-camera", action(scan_camera), methods=["POST"]),
        Route("/api/station/print", action(simple(station.print_certificate)), methods=["POST"]),
        Route("/api/station/fee", action(simple(station.collect_fee)), methods=["POST"]),
        Route("/api/station/hand-over", action(simple(station.hand_over)), methods=["POST"]),
        Route("/api/station/next", action(next_receipt), methods=["POST"]),
    ]
