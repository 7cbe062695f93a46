"""Signaling endpoints: the ticket route, connection metrics, and the WebSocket every participant connects to."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Literal
from urllib.parse import urlsplit

from fastapi import APIRouter, Query, WebSocket
from starlette.types import ASGIApp, Receive, Scope, Send

from service.accounts.deps import AppSettings, CurrentPrincipal
from service.db import DBSession
from service.errors import PermissionDenied, Unauthenticated, problem, problem_responses
from service.signaling import metrics as metrics_service
from service.signaling import service as signaling_service
from service.signaling.exceptions import CaseNotFound, MetricsLimitReached
from service.signaling.rooms import SignalingHub
from service.signaling.schemas import (
    ConnectionMetricList,
    ConnectionMetricRead,
    ConnectionMetricsSubmit,
    ConnectionMetricsSummary,
    SignalingTicketRead,
)
from service.signaling.ws_server import FrameSink, lift_limit_of, send_now_of, take_frames_of

router = APIRouter(tags=["signaling"])


@router.post(
    "/api/v1/cases/{case_id}/signaling-ticket",
    response_model=SignalingTicketRead,
    responses=problem_responses(Unauthenticated, PermissionDenied, CaseNotFound),
)
async def signaling_ticket(
    case_id: str, session: DBSession, principal: CurrentPrincipal, settings: AppSettings
) -> SignalingTicketRead:
    """A single-use ticket to the case's room (the case's clerk device or its assigned officer only)."""
    return await signaling_service.issue_signaling_ticket(
        session, principal=principal, case_id=case_id, settings=settings
    )


@router.post(
    "/api/v1/cases/{case_id}/connection-metrics",
    response_model=ConnectionMetricRead,
    status_code=201,
    responses=problem_responses(Unauthenticated, PermissionDenied, CaseNotFound, MetricsLimitReached),
)
async def report_connection_metrics(
    case_id: str, body: ConnectionMetricsSubmit, session: DBSession, principal: CurrentPrincipal
) -> ConnectionMetricRead:
    """The case's clerk device or assigned officer reports how its side of the call connected."""
    row = await metrics_service.record(session, principal=principal, case_id=case_id, metrics=body)
    return ConnectionMetricRead.model_validate(row)


@router.get(
    "/api/v1/cases/{case_id}/connection-metrics",
    response_model=ConnectionMetricList,
    responses=problem_responses(Unauthenticated, PermissionDenied, CaseNotFound),
)
async def case_connection_metrics(
    case_id: str, session: DBSession, principal: CurrentPrincipal
) -> ConnectionMetricList:
    """Every report of the case's calls (its assigned officer or a supervisor)."""
    rows = await metrics_service.for_case(session, principal=principal, case_id=case_id)
    return ConnectionMetricList(items=[ConnectionMetricRead.model_validate(row) for row in rows])


@router.get(
    "/api/v1/connection-metrics/summary",
    response_model=ConnectionMetricsSummary,
    responses=problem_responses(Unauthenticated, PermissionDenied),
)
async def connection_metrics_summary(
    session: DBSession,
    principal: CurrentPrincipal,
    days: Annotated[int, Query(ge=1, le=366)] = 7,
    side: Annotated[Literal["clerk", "officer"] | None, Query()] = None,
) -> ConnectionMetricsSummary:
    """Median and p95 of each milestone and the candidate-pair mix, for the caller's municipality."""
    return await metrics_service.summary(session, principal=principal, days=days, side=side)


class _SocketTransport:
    """Starlette's WebSocket behind the hub's Transport protocol.

    With `receive` (the server's own ASGI receive, from `SignalingSocketPath`), frames are read from it directly
    once the socket is accepted: Starlette's wrapper only checks message types the server never varies, and it
    was another coroutine layer on every frame of the relay (#18).
    """

    send_now: Callable[[str], bool]
    """The server's own synchronous send when it offers one (no wrapper call per frame), else never at once."""

    def __init__(self, websocket: WebSocket, receive: Receive | None = None) -> None:
        self._ws = websocket
        self._receive = receive
        self._gone = False
        # Starlette's state is not consulted: the hub sends only between accept and its own close.
        self.send_now = send_now_of(websocket.scope) or _never_at_once

    async def receive(self) -> str | bytes | None:
        if self._receive is None:
            return await self._receive_via_starlette()
        if self._gone:
            return None  # the server sends one disconnect message; a later receive would wait forever
        message = await self._receive()
        text = message.get("text")
        if text is not None:
            return str(text)
        if message["type"] == "websocket.disconnect":
            self._gone = True
            return None
        return bytes(message.get("bytes") or b"")

    async def _receive_via_starlette(self) -> str | bytes | None:
        try:
            message = await self._ws.receive()
        except RuntimeError:
            return None  # receive after a disconnect
        if message["type"] == "websocket.disconnect":
            return None
        text = message.get("text")
        if text is not None:
            return str(text)
        return bytes(message.get("bytes") or b"")

    async def send(self, text: str) -> None:
        await self._ws.send_text(text)

    async def close(self, code: int, reason: str) -> None:
        await self._ws.close(code, reason)

    def admitted(self) -> None:
        lift = lift_limit_of(self._ws.scope)
        if lift is not None:
            lift()

    def take_frames(self, sink: FrameSink | None) -> bool:
        """The server's frame sink, only on the path that reads the server's own receive (not through Starlette)."""
        take = take_frames_of(self._ws.scope) if self._receive is not None else None
        if take is None:
            return False
        take(sink)
        return True


def _never_at_once(_text: str) -> bool:
    return False


def _normal_origin(origin: str) -> tuple[str, str, int | None] | None:
    """scheme, host and port of an origin, with the scheme's default port dropped; None when it is not one."""
    try:
        parts = urlsplit(origin.strip().rstrip("/"))
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname or parts.path or parts.query:
        return None
    if port == {"http": 80, "https": 443}[scheme]:
        port = None
    return scheme, parts.hostname.lower(), port


def origin_allowed(origin: str | None, public_origin: str) -> bool:
    """A socket without `Origin` (the clerk agent: not a browser) passes; a browser's must be the hub's own.

    Browsers always send `Origin` on a WebSocket and the console is served by the hub itself, so any other
    origin is another site's page trying to use an officer's session (cross-site WebSocket hijacking).
    """
    if origin is None:
        return True
    own = _normal_origin(public_origin)
    return own is not None and _normal_origin(origin) == own


@router.websocket(signaling_service.SIGNALING_PATH)
async def signaling_socket(websocket: WebSocket) -> None:
    """Join a room with `?ticket=…` (browsers cannot set headers on a WebSocket) or a resume token in the join frame."""
    await _serve_socket(websocket)


async def _serve_socket(websocket: WebSocket, receive: Receive | None = None) -> None:
    hub: SignalingHub = websocket.app.state.signaling
    if not origin_allowed(websocket.headers.get("origin"), hub.config.public_origin):
        # Refused before the handshake completes: the client sees HTTP 403, never the hub's socket.
        await websocket.send_denial_response(
            problem(
                403,
                "origin_not_allowed",
                "Origin not allowed",
                "this socket is open to the hub's own pages only",
            )
        )
        return
    await websocket.accept()
    # The ticket sits in the query string, where proxies may log it: it is single-use and lives 30 s.
    await hub.serve(_SocketTransport(websocket, receive), ticket=websocket.query_params.get("ticket"))


class SignalingSocketPath:
    """Serves the signaling socket from the outermost middleware, with the server's own receive and send.

    Every frame of a call passes here, and each middleware layer below would wrap every send again (exception
    tracking, headers that a socket never has): skipping them is most of what separates the hub's relay from a
    bare one. What guards the socket — the ticket, the room check, limits — is all in the hub itself.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket" and scope["path"] == signaling_service.SIGNALING_PATH:
            await _serve_socket(WebSocket(scope, receive, send), receive)
            return
        await self.app(scope, receive, send)
