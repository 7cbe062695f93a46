"""The booth's local UI (Starlette) on 127.0.0.1: `/` and a small JSON API for booth.js (docs/booths.md).

The same guards as the counter UI (clerk_agent/ui/server.py): loopback Host only, a per-session CSRF token on
every POST, a strict CSP and no CDN — the booth works with no network at all.
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

from clerk_agent.booth.desk import Desk, worded
from clerk_agent.errors import AgentError
from clerk_agent.ui.server import SESSION_COOKIE, STATIC, Csrf, LocalOnly

Handler = Callable[[Request], Awaitable[Response]]


def create_booth_ui(desk: Desk) -> Starlette:
    """The booth UI around one Desk."""
    csrf = Csrf()
    template = (STATIC / "booth.html").read_text(encoding="utf-8")

    async def page(request: Request) -> Response:
        session = request.cookies.get(SESSION_COOKIE) or secrets.token_urlsafe(24)
        response = Response(
            template.replace("__CSRF_TOKEN__", csrf.token(session)), media_type="text/html; charset=utf-8"
        )
        response.set_cookie(SESSION_COOKIE, session, httponly=True, samesite="strict", path="/")
        return response

    async def body(request: Request) -> dict[str, object]:
        data = json.loads(await request.body() or b"{}")
        if not isinstance(data, dict):
            raise ValueError("body is not an object")
        return data

    def action(work: Callable[[dict[str, object]], Awaitable[None]]) -> Handler:
        async def handle(request: Request) -> Response:
            if not csrf.check(request):
                return JSONResponse({"error": "csrf"}, status_code=403)
            try:
                await work(await body(request))
            except (LookupError, ValueError, AgentError) as exc:
                # The officer reads what happened in words, never an exception's name (docs/booths.md).
                desk.notice = worded(exc)
                return JSONResponse(desk.view(), status_code=409)
            return JSONResponse(desk.view())

        return handle

    async def state(request: Request) -> Response:
        del request
        return JSONResponse(desk.view())

    async def photo(request: Request) -> Response:
        del request
        jpeg = desk.photo_jpeg()
        if jpeg is None:
            return Response(status_code=404)
        return Response(jpeg, media_type="image/jpeg", headers={"Cache-Control": "no-store"})

    async def login(data: dict[str, object]) -> None:
        await desk.login(
            username=str(data.get("username", "")),
            password=str(data.get("password", "")),
            totp=str(data["totp"]) if data.get("totp") else None,
            booth_id=str(data.get("booth_id", "")),
        )

    async def start(_data: dict[str, object]) -> None:
        desk.start()

    async def cancel(_data: dict[str, object]) -> None:
        desk.cancel()

    async def residence(data: dict[str, object]) -> None:
        desk.residence(str(data.get("code", "")))

    async def form_id(data: dict[str, object]) -> None:
        desk.form_id(str(data.get("shinseisho_id", "")))

    async def scan(_data: dict[str, object]) -> None:
        await desk.scan_form()

    async def demo_form(data: dict[str, object]) -> None:
        desk.demo_hold_form(str(data.get("shinseisho_id", "")))

    async def answers(data: dict[str, object]) -> None:
        given = data.get("answers")
        desk.answers(given if isinstance(given, dict) else {})

    async def take_photo(_data: dict[str, object]) -> None:
        await desk.take_photo()

    async def document(data: dict[str, object]) -> None:
        kind = str(data.get("kind", ""))
        if kind not in ("document_front", "document_back", "document_tilt"):
            raise ValueError("unknown document still")
        await desk.take_document(kind)

    async def photos_done(_data: dict[str, object]) -> None:
        desk.photos_done()

    async def decide(data: dict[str, object]) -> None:
        desk.decide(data)

    async def pins(data: dict[str, object]) -> None:
        desk.pins(data)

    async def sync(_data: dict[str, object]) -> None:
        await desk.sync()

    routes = [
        Route("/", page),
        Route("/api/booth/state", state),
        Route("/api/booth/photo.jpg", photo),
        *(
            Route(f"/api/booth/{name}", action(work), methods=["POST"])
            for name, work in (
                ("login", login),
                ("start", start),
                ("cancel", cancel),
                ("residence", residence),
                ("form-id", form_id),
                ("scan", scan),
                ("demo-form", demo_form),
                ("answers", answers),
                ("photo", take_photo),
                ("document", document),
                ("photos-done", photos_done),
                ("decide", decide),
                ("pins", pins),
                ("sync", sync),
            )
        ),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    app = Starlette(routes=routes)
    app.add_middleware(LocalOnly)
    return app
