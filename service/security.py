"""HTTP hardening: security headers on every response, redirects that never name the Host header's site, and the
API docs served locally (no CDN)."""

from __future__ import annotations

from urllib.parse import urlsplit

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from starlette.datastructures import MutableHeaders
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

BASELINE = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "cross-origin-opener-policy": "same-origin",
    "permissions-policy": "camera=(self), microphone=(self), geolocation=()",
}
# JSON answers are never rendered as a page and never cached (they may carry case data).
API_EXTRA = {
    "content-security-policy": "default-src 'none'; frame-ancestors 'none'",
    "cache-control": "no-store",
}


class SecurityHeaders:
    """Adds the baseline headers to every HTTP response (a route's own header wins)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = API_EXTRA if str(scope.get("path", "")).startswith(("/api/", "/healthz", "/readyz")) else {}

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in {**BASELINE, **extra}.items():
                    if name not in headers:
                        headers[name] = value
            await send(message)

        await self.app(scope, receive, send_with_headers)


def safe_location(location: str, public_origin: str) -> str:
    """A redirect target on the hub's configured origin, or a path on the same site; never the request's Host.

    Starlette builds the trailing-slash redirects (/console → /console/, /api/…/ → /api/…) from the Host header,
    which a client chooses. Only the path and query are kept; leading slashes and backslashes collapse to one
    slash, since a browser reads `//site/` and `/\\site/` as another site.
    """
    parts = urlsplit(location)
    absolute = bool(parts.scheme or parts.netloc) or location.startswith(("//", "/\\"))
    if not absolute:
        return location
    target = "/" + parts.path.lstrip("/\\") + (f"?{parts.query}" if parts.query else "")
    return public_origin.rstrip("/") + target if public_origin else target


class PublicOriginRedirects:
    """Rewrites every `Location` header with safe_location (the hub redirects only within itself)."""

    def __init__(self, app: ASGIApp, *, public_origin: str) -> None:
        self.app = app
        self.public_origin = public_origin

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_rewritten(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                location = headers.get("location")
                if location is not None:
                    headers["location"] = safe_location(location, self.public_origin)
            await send(message)

        await self.app(scope, receive, send_rewritten)


def mount_local_docs(app: FastAPI) -> None:
    """Swagger UI from the installed swagger-ui-bundle package at /docs (FastAPI's default loads it from a CDN)."""
    try:
        from swagger_ui_bundle import swagger_ui_path
    except ImportError:  # docs are optional; /openapi.json always works
        return
    app.mount("/docs/static", StaticFiles(directory=swagger_ui_path), name="docs-static")

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title=f"{app.title} — API",
            swagger_js_url="/docs/static/swagger-ui-bundle.js",
            swagger_css_url="/docs/static/swagger-ui.css",
            swagger_favicon_url="/docs/static/favicon-32x32.png",
        )
