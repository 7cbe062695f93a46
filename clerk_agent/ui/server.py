"""The local counter UI (Starlette): the clerk screen at `/`, the applicant's screen at `/applicant`, a JSON API.

Served on 127.0.0.1 only. Other Host headers are refused (DNS rebinding), every state-changing request needs
the per-session CSRF token in `X-CSRF-Token` (the session cookie is HttpOnly and SameSite=Strict), and a strict
CSP allows only this origin's own scripts and styles. Nothing is loaded from a CDN, so it works offline.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import secrets
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Final

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from clerk_agent.flows.counter import CounterFlow
from clerk_agent.flows.station import PrintStation
from clerk_agent.ui.idchips_jp_routes import jp_chip_routes
from clerk_agent.ui.ocr_routes import ocr_routes
from clerk_agent.ui.officer import officer_routes
from clerk_agent.ui.station import station_routes
from clerk_agent.ui.views import applicant_view, clerk_view

logger = logging.getLogger(__name__)

STATIC: Final = Path(__file__).parent / "static"
SESSION_COOKIE: Final = "madoguchi_counter"
CSP: Final = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "font-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
_LOCAL_HOSTS: Final = frozenset({"127.0.0.1", "localhost"})
_SECURITY_HEADERS: Final = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cache-control", b"no-store"),
]


class LocalOnly:
    """Refuses any Host but 127.0.0.1/localhost on the served port, and adds the security headers."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """ASGI entry."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        host = dict(scope["headers"]).get(b"host", b"").decode("latin-1")
        name, _, port = host.rpartition(":") if ":" in host else (host, "", "")
        server_port = str(scope["server"][1]) if scope.get("server") else ""
        if name not in _LOCAL_HOSTS or (port and port != server_port):
            await PlainTextResponse("this counter UI answers on 127.0.0.1 only", status_code=421)(
                scope, receive, send
            )
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *_SECURITY_HEADERS]
            await send(message)

        await self.app(scope, receive, with_headers)


class Csrf:
    """Per-session tokens: HMAC of the session id under a key that lives only in this process."""

    def __init__(self) -> None:
        self._key = secrets.token_bytes(32)

    def token(self, session: str) -> str:
        """The token for a session id."""
        return hmac.new(self._key, session.encode(), hashlib.sha256).hexdigest()

    def check(self, request: Request) -> bool:
        """Whether a state-changing request carries its session's token and comes from this origin."""
        session = request.cookies.get(SESSION_COOKIE, "")
        sent = request.headers.get("x-csrf-token", "")
        if not session or not sent or not hmac.compare_digest(sent, self.token(session)):
            return False
        origin = request.headers.get("origin")
        return origin is None or origin == f"http://{request.headers.get('host', '')}"


Handler = Callable[[Request], Awaitable[Response]]


def create_ui(flow: CounterFlow, *, hub_url: str = "", station: PrintStation | None = None) -> Starlette:
    """The counter UI application around one CounterFlow (and the back office's print station, if any)."""
    csrf = Csrf()

    def page(name: str) -> Handler:
        template = (STATIC / name).read_text(encoding="utf-8")

        async def serve(request: Request) -> Response:
            session = request.cookies.get(SESSION_COOKIE) or secrets.token_urlsafe(24)
            html = template.replace("__CSRF_TOKEN__", csrf.token(session))
            response = Response(html, media_type="text/html; charset=utf-8")
            response.set_cookie(SESSION_COOKIE, session, httponly=True, samesite="strict", path="/")
            return response

        return serve

    def action(work: Callable[[Request], Awaitable[None]]) -> Handler:
        async def handle(request: Request) -> Response:
            if not csrf.check(request):
                return JSONResponse({"error": "csrf"}, status_code=403)
            try:
                await work(request)
            except (LookupError, ValueError) as exc:
                return JSONResponse({"error": type(exc).__name__, "detail": str(exc)}, status_code=409)
            return JSONResponse(clerk_view(flow))

        return handle

    async def body(request: Request) -> dict[str, object]:
        try:
            data = json.loads(await request.body() or b"{}")
        except ValueError as exc:
            raise ValueError("body is not JSON") from exc
        if not isinstance(data, dict):
            raise ValueError("body is not an object")
        return data

    async def start(request: Request) -> None:
        data = await body(request)
        form_id = data.get("shinseisho_id")
        await flow.start(
            str(data.get("procedure", "")), str(form_id) if form_id else None, data.get("certificate")
        )
        from clerk_agent.photo.camera import SceneCamera

        if flow.case is not None and isinstance(flow.capture.camera, SceneCamera):
            flow.capture.camera.show(None)  # the demo's form is put down once the case is open

    async def eligibility(request: Request) -> None:
        answers = await body(request)
        await flow.answer_eligibility({k: bool(v) for k, v in answers.items()})

    async def consents(request: Request) -> None:
        await flow.give_consents({k: bool(v) for k, v in (await body(request)).items()})

    async def code_b(request: Request) -> None:
        data = await body(request)
        await flow.card.set_code_b(
            str(data.get("code_b", "")), confirm_last_try=data.get("confirm_last_try") is True
        )

    async def chip_passport(request: Request) -> None:
        """The passport's MRZ fields as the clerk typed them: used for BAC in a worker thread, then dropped."""
        data = await body(request)
        await flow.chips.read_passport(
            str(data.get("document_number", "")), str(data.get("birth", "")), str(data.get("expiry", ""))
        )

    async def document(request: Request) -> None:
        data = await body(request)
        number = data.get("document", 1)
        await flow.capture.capture_document(
            number if isinstance(number, int) else 0, str(data.get("view", ""))
        )

    async def preview_switch(request: Request) -> None:
        if (await body(request)).get("on"):
            flow.require_case()
            await flow.capture.start_preview()
        else:
            await flow.capture.stop_preview()

    async def scene(request: Request) -> None:
        """Synthetic camera only: hold a form's QR code or an ID card up to it (demo and tests)."""
        from clerk_agent.photo import scenes
        from clerk_agent.photo.camera import SceneCamera

        camera = flow.capture.camera
        if not isinstance(camera, SceneCamera):
            raise ValueError("not the synthetic camera")
        data = await body(request)
        shown = str(data.get("scene", "pattern"))
        if shown == "form":
            camera.show(scenes.application_form(str(data.get("shinseisho_id", ""))))
        elif shown in {"document", "document_tilt"}:
            camera.show(scenes.id_card(tilted=shown == "document_tilt"))
        elif shown == "passport_page":  # the demo passport's data page, for the MRZ's OCR
            from clerk_agent.card.virtual.idchips.lds import HOLDERS

            camera.show(scenes.passport_page(HOLDERS[str(data.get("holder", "yamada_hanako"))].mrz()))
        elif shown == "residence_card":  # the demo residence card's face, for the card number's OCR
            from clerk_agent.card.virtual.idchips.jp_people import RESIDENCE_HOLDERS

            camera.show(
                scenes.residence_card_face(
                    RESIDENCE_HOLDERS[str(data.get("holder", "nguyen_lan"))].card_number
                )
            )
        elif shown == "pattern":
            camera.show(None)
        elif shown == "receipt":
            camera.show(scenes.qr_code(str(data.get("receipt_number", ""))))  # a receipt slip's QR code
        elif shown in {"cardholder", "other", "nobody"}:
            camera.show(None)
            camera.seat(shown)  # who sits in front of the camera: the card's person, someone else, or no one
        else:
            raise ValueError(f"unknown scene {shown}")

    def image(latest: Callable[[], bytes | None]) -> Handler:
        """A camera picture for this UI's own pages: only with the session cookie (never cross-site)."""

        async def serve(request: Request) -> Response:
            if not request.cookies.get(SESSION_COOKIE):
                return PlainTextResponse("no session", status_code=403)
            data = latest()
            if data is None:
                return PlainTextResponse("no picture", status_code=404)
            return Response(data, media_type="image/jpeg")

        return serve

    def preview_jpeg() -> bytes | None:
        framing = flow.capture.preview.latest
        return framing.preview_jpeg if framing and flow.capture.preview_running() else None

    async def photo_decision(request: Request) -> Response:
        if not csrf.check(request):
            return JSONResponse({"error": "csrf"}, status_code=403)
        try:
            await flow.capture.decide_photo(bool((await body(request)).get("approved")))
        except (LookupError, ValueError) as exc:
            return JSONResponse({"error": type(exc).__name__, "detail": str(exc)}, status_code=409)
        return JSONResponse(applicant_view(flow))

    async def withdraw(request: Request) -> None:
        reason = (await body(request)).get("reason_code")
        await flow.withdraw(str(reason) if reason else None)

    async def abort_call(request: Request) -> None:
        reason = (await body(request)).get("reason_code")
        await flow.abort_call(str(reason) if reason else "applicant_left")

    async def pin(request: Request) -> Response:
        """The applicant's PIN as a raw body of digits: straight into a bytearray, never parsed as text."""
        if not csrf.check(request):
            return JSONResponse({"error": "csrf"}, status_code=403)
        buffer = bytearray(await request.body())
        try:
            await flow.submit_pin(buffer)
        finally:
            buffer[:] = bytes(len(buffer))
        return JSONResponse(applicant_view(flow))

    async def pin_choice(request: Request) -> Response:
        """The four chosen PINs as one raw body, newline-separated: sealed by the flow and wiped."""
        if not csrf.check(request):
            return JSONResponse({"error": "csrf"}, status_code=403)
        buffer = bytearray(await request.body())
        try:
            await flow.submit_pin_choice(buffer)
        finally:
            buffer[:] = bytes(len(buffer))
        return JSONResponse(applicant_view(flow))

    async def card_work_ecert(request: Request) -> None:
        flow.work.request_ecert(await body(request))

    async def card_work_pin(request: Request) -> None:
        data = await body(request)
        flow.work.request_pin(
            str(data.get("pin", "")), str(data.get("mode", "")), str(data.get("requester", ""))
        )

    async def card_work_cancel(request: Request) -> None:
        del request
        flow.work.cancel()

    async def card_pin(request: Request) -> Response:
        """The card work's PINs as one raw body, newline-separated: checked by the flow, handed to the card, wiped."""
        if not csrf.check(request):
            return JSONResponse({"error": "csrf"}, status_code=403)
        buffer = bytearray(await request.body())
        try:
            await flow.work.submit_pin(buffer)
        finally:
            buffer[:] = bytes(len(buffer))
        return JSONResponse(applicant_view(flow))

    def simple(fn: Callable[[], Awaitable[None]]) -> Callable[[Request], Awaitable[None]]:
        async def run(request: Request) -> None:
            del request
            await fn()

        return run

    async def state(request: Request) -> Response:
        del request
        return JSONResponse(clerk_view(flow))

    async def applicant_state(request: Request) -> Response:
        del request
        return JSONResponse(applicant_view(flow))

    async def receipt(request: Request) -> Response:
        del request
        from clerk_agent.ui.receipt import ReceiptUnavailable, receipt_pdf

        try:
            pdf = await asyncio.to_thread(receipt_pdf, flow, hub_url)
        except ReceiptUnavailable as exc:
            return PlainTextResponse(str(exc), status_code=409)
        return Response(pdf, media_type="application/pdf")

    async def card_simulation(request: Request) -> None:
        """Virtual card only: take the card out or put it back (a clerk trying recovery in the demo)."""
        data = await body(request)
        slot = flow.slot
        remove, insert = getattr(slot, "remove", None), getattr(slot, "insert", None)
        if remove is None or insert is None:
            raise ValueError("not a virtual card")
        (insert if data.get("present") else remove)()

    routes = [
        Route("/", page("clerk.html")),
        Route("/applicant", page("applicant.html")),
        Route("/api/state", state),
        Route("/api/applicant/state", applicant_state),
        Route("/api/cases", action(start), methods=["POST"]),
        Route("/api/eligibility", action(eligibility), methods=["POST"]),
        Route("/api/consents", action(consents), methods=["POST"]),
        Route("/api/card/check", action(simple(flow.card.check)), methods=["POST"]),
        Route("/api/request-verification", action(simple(flow.request_verification)), methods=["POST"]),
        Route("/api/requeue", action(simple(flow.requeue)), methods=["POST"]),
        Route("/api/code-b", action(code_b), methods=["POST"]),
        Route("/api/confirm-last-try", action(simple(flow.card.confirm_last_try)), methods=["POST"]),
        Route("/api/documents-shown", action(simple(flow.capture_evidence)), methods=["POST"]),
        Route("/api/face-auth", action(simple(flow.choose_face_auth)), methods=["POST"]),
        Route("/api/form-id/scan", action(simple(flow.capture.begin_scan)), methods=["POST"]),
        Route("/api/documents/capture", action(document), methods=["POST"]),
        Route("/api/chip/passport", action(chip_passport), methods=["POST"]),
        *jp_chip_routes(flow, action, csrf.check),
        *ocr_routes(lambda: flow.capture.camera, csrf.check),
        Route("/api/photo/preview", action(preview_switch), methods=["POST"]),
        Route("/api/photo/take", action(simple(flow.capture.take_photo)), methods=["POST"]),
        Route("/api/photo/preview.jpg", image(preview_jpeg)),
        Route("/api/photo/candidate.jpg", image(lambda: flow.capture.candidate)),
        Route("/api/synthetic-camera", action(scene), methods=["POST"]),
        Route("/api/applicant/photo", photo_decision, methods=["POST"]),
        Route("/api/close", action(simple(flow.close_case)), methods=["POST"]),
        Route("/api/complete", action(simple(flow.complete_support)), methods=["POST"]),
        Route("/api/withdraw", action(withdraw), methods=["POST"]),
        Route("/api/abort", action(abort_call), methods=["POST"]),
        Route("/api/new", action(simple(flow.new_case)), methods=["POST"]),
        Route("/api/virtual-card", action(card_simulation), methods=["POST"]),
        Route("/api/applicant/pin", pin, methods=["POST"]),
        Route("/api/applicant/pin-request", pin_choice, methods=["POST"]),
        Route("/api/card-work/ecert", action(card_work_ecert), methods=["POST"]),
        Route("/api/card-work/pin", action(card_work_pin), methods=["POST"]),
        Route("/api/card-work/reset-locked", action(simple(flow.work.reset_locked)), methods=["POST"]),
        Route("/api/card-work/cancel", action(card_work_cancel), methods=["POST"]),
        Route("/api/applicant/card-pin", card_pin, methods=["POST"]),
        Route("/receipt.pdf", receipt),
        *officer_routes(lambda: flow.call, lambda: flow.capture.camera, SESSION_COOKIE),
        *(
            station_routes(
                station,
                page_template=STATIC / "station.html",
                csrf_token=csrf.token,
                csrf_ok=csrf.check,
                session_cookie=SESSION_COOKIE,
                camera=lambda: flow.capture.camera,
            )
            if station is not None
            else []
        ),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    app = Starlette(routes=routes)
    app.add_middleware(LocalOnly)
    return app
