"""The ASGI middleware that times every HTTP request by route template."""

from __future__ import annotations

import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.observability.metrics import REQUEST_DURATION


class RequestTimer:
    """Times every HTTP request under the template of the route that served it (after routing has run)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            # The router stores the matched route in the scope; no match (a 404) is one label, never the path.
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            REQUEST_DURATION.labels(method=scope["method"], route=route, status=str(status)).observe(
                time.perf_counter() - started
            )
