"""Serving the officer's console (審査コンソール): static files at /console/ with strict security headers.

The console is plain HTML, CSS and ES modules in `static/` — no build step, no CDN — so the hub serves it
as it is. Every response under /console carries a CSP without 'unsafe-inline' or 'unsafe-eval'; the only
socket the console opens is the hub's own signaling WebSocket, so connect-src names the hub's origin in
ws(s):// form besides 'self'.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from fastapi import FastAPI
from starlette.responses import RedirectResponse
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

STATIC_DIR: Final = Path(__file__).parent / "static"
MOUNT_PATH: Final = "/console"


def websocket_origin(origin: str) -> str:
    """The ws:// or wss:// form of an http(s) origin (the hub's signaling socket lives there)."""
    if origin.startswith("https://"):
        return "wss://" + origin.removeprefix("https://")
    return "ws://" + origin.removeprefix("http://")


def content_security_policy(origin: str) -> str:
    """The console's CSP: only its own origin, images and media also from data:/blob: (card photo, stills)."""
    return "; ".join(
        (
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            f"connect-src 'self' {websocket_origin(origin)}",
            "img-src 'self' data: blob:",
            "media-src 'self' blob:",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        )
    )


class ConsoleHeaders:
    """Add the console's security headers to every HTTP response of the wrapped app."""

    def __init__(self, app: ASGIApp, *, origin: str) -> None:
        self.app = app
        self.headers: list[tuple[bytes, bytes]] = [
            (b"content-security-policy", content_security_policy(origin).encode()),
            (b"x-content-type-options", b"nosniff"),
            (b"referrer-policy", b"no-referrer"),
            (b"x-frame-options", b"DENY"),
            (b"cross-origin-opener-policy", b"same-origin"),
            # The officer's camera and microphone go to the counter (docs/live-link.md §1): this origin only.
            (b"permissions-policy", b"camera=(self), microphone=(self), geolocation=()"),
            # A shared office PC must not keep case screens in its cache.
            (b"cache-control", b"no-store"),
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {name for name, _ in self.headers}
                kept = [(k, v) for k, v in message.get("headers", []) if k.lower() not in names]
                message = {**message, "headers": kept + self.headers}
            await send(message)

        await self.app(scope, receive, with_headers)


def mount(app: FastAPI, *, origin: str) -> None:
    """Serve the console at /console/ (index.html for the directory) and send `/` there unless it is taken."""
    static = StaticFiles(directory=STATIC_DIR, html=True)
    app.mount(MOUNT_PATH, ConsoleHeaders(static, origin=origin), name="console")
    if not any(getattr(route, "path", None) == "/" for route in app.router.routes):

        @app.get("/", include_in_schema=False)
        async def to_console() -> RedirectResponse:
            """The hub's root opens the officer console."""
            return RedirectResponse(f"{MOUNT_PATH}/", status_code=307)
