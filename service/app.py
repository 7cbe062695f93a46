"""create_app() and the lifespan that owns the engine and sessionmaker."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import asyncpg  # type: ignore[import-untyped]
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from municipal_console.router import mount as mount_console
from service import migrate
from service.accounts.router import accounts_router, auth_router, clients_router, devices_router
from service.audit.checkpoints import load_signing_key
from service.audit.router import router as audit_router
from service.audit.tasks import run_checkpointer
from service.booths.router import router as booths_router
from service.booths.tasks import recheck_enabled, run_rechecks, standing_adapter_for
from service.cardadmin.router import router as cardadmin_router
from service.cardwork.router import router as cardwork_router
from service.cases.router import router as cases_router
from service.certificates.router import public_router as certificates_public_router
from service.certificates.router import router as certificates_router
from service.certificates.runtime import build_runtime as build_certificate_runtime
from service.certificates.tasks import run_expiry as run_certificate_expiry
from service.config import Settings, get_settings
from service.db import (
    DATABASE_RETRY_AFTER_SECONDS,
    create_engine,
    create_sessionmaker,
    database_unavailable,
    is_sqlite,
)
from service.errors import PROBLEM_JSON, install_error_handlers, problem
from service.evidence.router import router as evidence_router
from service.evidence.runtime import load_runtime
from service.idchips.router import router as idchips_router
from service.integrations.router import router as integrations_router
from service.integrations.runtime import IntegrationsRuntime
from service.observability.middleware import RequestTimer
from service.observability.router import router as metrics_router
from service.outbox.router import router as outbox_router
from service.queue.router import router as queue_router
from service.queue.tasks import run_dispatcher, run_offer_watch
from service.reports.router import router as reports_router
from service.review.router import router as review_router
from service.security import PublicOriginRedirects, SecurityHeaders, mount_local_docs
from service.signaling.router import SignalingSocketPath
from service.signaling.router import router as signaling_router
from service.signaling.runtime import signaling_running
from service.tenancy.router import router as tenancy_router


class NotMigrated(RuntimeError):
    """The database is not at the newest migration."""


class BodySizeLimit:
    """Refuse request bodies over the limit with 413 before the app reads them (declared or streamed)."""

    def __init__(self, app: ASGIApp, max_bytes: int, upload_max_bytes: int | None = None) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.upload_max_bytes = upload_max_bytes or max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # Image uploads (document stills, the application photo) get their own, larger limit.
        path = str(scope.get("path", ""))
        # A booth case's sync carries its stills too (service/booths/router.py).
        uploads = path.endswith("/stills") or (
            path.startswith("/api/v1/booth-sessions/") and path.endswith("/cases")
        )
        limit = self.upload_max_bytes if uploads else self.max_bytes
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            await self._reject(scope, receive, send, limit)
            return
        seen = 0

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise _TooLarge()
            return message

        try:
            await self.app(scope, limited_receive, send)
        except _TooLarge:
            await self._reject(scope, receive, send, limit)

    async def _reject(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        response = problem(413, "payload_too_large", "Request body too large", f"the limit is {limit} bytes")
        await response(scope, receive, send)


class _TooLarge(Exception):
    pass


async def ensure_migrated(settings: Settings) -> None:
    """Raise NotMigrated, naming the command to run, unless the database is at the newest migration."""
    engine = create_engine(settings.effective_database_url)
    try:
        runs, current = await migrate.schema_runs_this_code(engine)
    finally:
        await engine.dispose()
    head = migrate.head_revision()
    if not runs and (current is None or migrate.known_through_head(current)):
        raise NotMigrated(
            f"database is at migration {current or '(none)'} but the code needs {head}; run `hub db upgrade` "
            "(データベースの移行が必要です: `hub db upgrade` を実行してください)"
        )
    if not runs:
        raise NotMigrated(
            f"database is at migration {current}, newer than this code ({head}) and not marked as running it "
            "(a contract step): deploy the newer code (データベースがこのバージョンより新しいため起動できません)"
        )


def create_app(settings: Settings | None = None, *, check_migrations: bool = True) -> FastAPI:
    """The hub's ASGI app."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if is_sqlite(settings.effective_database_url):
            settings.data_dir.mkdir(parents=True, exist_ok=True)
        if check_migrations:
            await ensure_migrated(settings)
        engine = create_engine(
            settings.effective_database_url, busy_timeout_ms=settings.sqlite_busy_timeout_ms
        )
        app.state.engine = engine
        app.state.sessionmaker = create_sessionmaker(engine)
        app.state.evidence = load_runtime(settings)
        app.state.integrations = IntegrationsRuntime.start(settings, app.state.sessionmaker)
        app.state.audit_key = load_signing_key(settings)
        app.state.certificates = build_certificate_runtime(
            settings, app.state.evidence, app.state.integrations.resident
        )
        checkpointer = asyncio.create_task(
            run_checkpointer(app.state.sessionmaker, settings, app.state.audit_key), name="audit-checkpointer"
        )
        dispatcher = asyncio.create_task(
            run_dispatcher(app.state.sessionmaker, settings), name="queue-dispatcher"
        )
        offer_watch = asyncio.create_task(run_offer_watch(app.state.sessionmaker), name="queue-offer-watch")
        certificate_expiry = asyncio.create_task(
            run_certificate_expiry(app.state.sessionmaker), name="certificate-expiry"
        )
        app.state.booth_standing = standing_adapter_for(settings)
        background = [certificate_expiry, dispatcher, offer_watch, checkpointer]
        if app.state.booth_standing is not None and recheck_enabled(settings):
            background.append(
                asyncio.create_task(
                    run_rechecks(app.state.sessionmaker, app.state.booth_standing, 30.0), name="booth-recheck"
                )
            )
        try:
            async with signaling_running(settings, app.state.sessionmaker) as signaling:
                app.state.signaling = signaling
                yield
        finally:
            for task in background:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await app.state.integrations.stop()
            await engine.dispose()

    app = FastAPI(
        title="madoguchi-bridge hub (窓口ブリッジ)",
        version="0.1.0",
        description="Designations, accounts, cases and audit for remote municipal identity verification at designated post offices.",
        lifespan=lifespan,
        # Swagger UI is served from the installed package (security.mount_local_docs), never from a CDN.
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    # Set by `hub serve` on SIGTERM: readiness fails so the load balancer stops sending work (graceful shutdown).
    app.state.draining = False
    install_error_handlers(app)
    _install_database_unavailable(app)
    app.add_middleware(
        BodySizeLimit, max_bytes=settings.max_body_bytes, upload_max_bytes=settings.max_upload_bytes
    )
    app.add_middleware(SecurityHeaders)
    app.add_middleware(PublicOriginRedirects, public_origin=settings.public_origin)
    app.add_middleware(RequestTimer)
    app.add_middleware(SignalingSocketPath)  # added last: the outermost, so frames skip the layers above
    mount_local_docs(app)
    for router in (
        auth_router,
        accounts_router,
        devices_router,
        clients_router,
        tenancy_router,
        cases_router,
        evidence_router,
        idchips_router,
        queue_router,
        review_router,
        audit_router,
        outbox_router,
        integrations_router,
        certificates_router,
        cardwork_router,
        certificates_public_router,
        cardadmin_router,
        reports_router,
        booths_router,
        signaling_router,
        metrics_router,
    ):
        app.include_router(router)

    @app.get("/healthz", tags=["health"])
    async def healthz() -> dict[str, str]:
        """Liveness: the process answers."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"], responses={503: {"description": "Not ready"}})
    async def readyz(request: Request) -> Response:
        """Readiness: not draining, the database answers and is at the newest migration."""
        if request.app.state.draining:
            return problem(503, "draining", "Not ready", "the hub is shutting down")
        try:
            async with request.app.state.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
            runs, current = await migrate.schema_runs_this_code(request.app.state.engine)
        except Exception as exc:
            return problem(503, "not_ready", "Not ready", f"database unreachable: {type(exc).__name__}")
        if not runs:
            return problem(
                503, "not_migrated", "Not ready", "the database schema is not one this code runs on"
            )
        return JSONResponse({"status": "ready", "migration": current})

    mount_console(app, origin=settings.origin)  # the officer console at /console/
    _add_problem_schema(app)
    return app


def _install_database_unavailable(app: FastAPI) -> None:
    """A request that cannot reach the database (a restart, a failover) is a 503 with Retry-After, never a 500."""

    async def unavailable(_: Request, exc: Exception) -> Response:
        if not database_unavailable(exc):
            raise exc
        return problem(
            503,
            "database_unavailable",
            "Service temporarily unavailable",
            "the database cannot be reached at the moment; retry shortly "
            "(データベースに一時的に接続できません。しばらくしてから再試行してください)",
            retry_after=DATABASE_RETRY_AFTER_SECONDS,
        )

    for exc_class in (DBAPIError, ConnectionError, asyncpg.PostgresError, asyncpg.InterfaceError):
        app.add_exception_handler(exc_class, unavailable)


def _add_problem_schema(app: FastAPI) -> None:
    """Publish the problem+json schema referenced by every route's declared errors."""
    original: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = original()
        schema.setdefault("components", {}).setdefault("schemas", {})["Problem"] = {
            "type": "object",
            "required": ["type", "title", "status", "detail", "code"],
            "properties": {
                "type": {"type": "string"},
                "title": {"type": "string"},
                "status": {"type": "integer"},
                "detail": {"type": "string"},
                "code": {"type": "string"},
            },
            "additionalProperties": True,
        }
        _document_shared_errors(schema)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def _document_shared_errors(schema: dict[str, Any]) -> None:
    """Document the errors every route shares, as the hub answers them (found by tests/service/test_schemathesis.py).

    FastAPI documents 422 as its own JSON body; the hub answers it as problem+json (errors.validation_error). A body
    that is not JSON at all is a 400 `malformed_request`, and any body over the limit a 413 (BodySizeLimit).
    """
    problem_content = {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            unprocessable = responses.get("422")
            if unprocessable is not None and PROBLEM_JSON not in unprocessable.get("content", {}):
                unprocessable["content"] = problem_content
            if "requestBody" in operation:
                responses.setdefault(
                    "400", {"description": "Malformed request body", "content": problem_content}
                )
                responses.setdefault(
                    "413", {"description": "Request body too large", "content": problem_content}
                )
    components = schema.get("components", {}).get("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError"):
        components.pop(unused, None)
