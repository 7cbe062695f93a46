"""The lobby terminal's local touch UI (Starlette) on 127.0.0.1: `/` and a small JSON API for kiosk.js.

The same guards as the counter UI (clerk_agent/ui/server.py): loopback Host only, a per-session CSRF token on
every POST, a strict CSP and no CDN. The PIN arrives as a raw body of digits, goes into a bytearray and is wiped.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Awaitable, Callable

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from clerk_agent.kiosk.flow import KioskFlow
from clerk_agent.kiosk.view import kiosk_view
from clerk_agent.ui.server import SESSION_COOKIE, STATIC, Csrf, LocalOnly
from service.wire.certificates import CertificateKind, CertificateOption, Scope

Handler = Callable[[Request], Awaitable[Response]]


def create_kiosk_ui(flow: KioskFlow) -> Starlette:
    """The terminal's UI around one KioskFlow."""
    csrf = Csrf()
    template = (STATIC / "kiosk.html").read_text(encoding="utf-8")

    async def page(request: Request) -> Response:
        session = request.cookies.get(SESSION_COOKIE) or secrets.token_urlsafe(24)
        response = Response(
            template.replace("__CSRF_TOKEN__", csrf.token(session)), media_type="text/html; charset=utf-8"
        )
        response.set_cookie(SESSION_COOKIE, session, httponly=True, samesite="strict", path="/")
        return response

    def action(work: Callable[[Request], Awaitable[None]]) -> Handler:
        async def handle(request: Request) -> Response:
            if not csrf.check(request):
                return JSONResponse({"error": "csrf"}, status_code=403)
            try:
                await work(request)
            except (LookupError, ValueError) as exc:
                return JSONResponse({"error": type(exc).__name__, "detail": str(exc)}, status_code=409)
            return JSONResponse(kiosk_view(flow))

        return handle

    async def body(request: Request) -> dict[str, object]:
        data = json.loads(await request.body() or b"{}")
        if not isinstance(data, dict):
            raise ValueError("body is not an object")
        return data

    async def state(request: Request) -> Response:
        del request
        await flow.tick()
        return JSONResponse(kiosk_view(flow))

    async def choose(request: Request) -> None:
        data = await body(request)
        scope = data.get("scope")
        options = data.get("options") or []
        count = data.get("count", 1)
        await flow.choose(
            CertificateKind(str(data.get("kind", ""))),
            count=count if isinstance(count, int) else 0,
            scope=Scope(str(scope)) if scope else None,
            options=[CertificateOption(str(o)) for o in options] if isinstance(options, list) else [],
        )

    async def pin(request: Request) -> None:
        buffer = bytearray(await request.body())
        try:
            await flow.submit_pin(buffer)
        finally:
            buffer[:] = bytes(len(buffer))

    async def touch(request: Request) -> None:
        del request
        flow.touch()

    async def cancel(request: Request) -> None:
        del request
        await flow.cancel()

    async def card_simulation(request: Request) -> None:
        """Virtual card only: take the card out or put it back (demo and tests)."""
        data = await body(request)
        remove, insert = getattr(flow.slot, "remove", None), getattr(flow.slot, "insert", None)
        if remove is None or insert is None:
            raise ValueError("not a virtual card")
        (insert if data.get("present") else remove)()
        await flow.tick()

    routes = [
        Route("/", page),
        Route("/api/kiosk/state", state),
        Route("/api/kiosk/choose", action(choose), methods=["POST"]),
        Route("/api/kiosk/pin", action(pin), methods=["POST"]),
        Route("/api/kiosk/touch", action(touch), methods=["POST"]),
        Route("/api/kiosk/cancel", action(cancel), methods=["POST"]),
        Route("/api/virtual-card", action(card_simulation), methods=["POST"]),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    app = Starlette(routes=routes)
    app.add_middleware(LocalOnly)
    return app
