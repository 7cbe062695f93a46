"""Authentication of every request: bearer session token, signed device request, or integration API key."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession

from service.accounts import mtls, sessions
from service.accounts import service as accounts_service
from service.accounts.roles import Principal, PrincipalKind, Role, Scope
from service.config import Settings
from service.db import DBSession, unit_of_work
from service.errors import PermissionDenied, Unauthenticated
from service.wire import device_auth

# Scopes that let an API key change something; every route other than GET that takes a key needs one of them.
WRITE_SCOPES = frozenset({Scope.cases_write, Scope.webhooks_manage})


class ApiKeyNotAccepted(PermissionDenied):
    code = "api_key_not_accepted"
    title = "This operation does not take an API key"


class ScopeMissing(PermissionDenied):
    code = "scope_missing"
    title = "The API key lacks the scope this operation needs"


# Declared for the OpenAPI document; the dependency below reads the headers itself.
_bearer = HTTPBearer(
    auto_error=False, description="Session access token from /api/v1/auth/login, or `ApiKey <key>`"
)
_device = APIKeyHeader(
    name=device_auth.HEADER_ID, auto_error=False, description="Signed clerk-agent device request"
)


def settings_of(request: Request) -> Settings:
    """The app's settings."""
    settings: Settings = request.app.state.settings
    return settings


AppSettings = Annotated[Settings, Depends(settings_of)]


async def current_principal(
    request: Request,
    session: DBSession,
    settings: AppSettings,
    _b: Annotated[object, Depends(_bearer)] = None,
    _d: Annotated[object, Depends(_device)] = None,
) -> Principal:
    """Whoever is calling, except an integration API key (a route that takes keys says so with `ApiKeyScope`)."""
    return await authenticate(request, session, settings)


@dataclass(frozen=True)
class ApiKeyScope:
    """The dependency of a route that integration API keys may call: the key must carry `scope`.

    Default-deny: `CurrentPrincipal` refuses every API key, so a route takes keys only by declaring the scope here,
    and tests/service/test_api_key_scopes.py reads these declarations off every route of the app.
    """

    scope: Scope

    async def __call__(
        self,
        request: Request,
        session: DBSession,
        settings: AppSettings,
        _b: Annotated[object, Depends(_bearer)] = None,
        _d: Annotated[object, Depends(_device)] = None,
    ) -> Principal:
        return await authenticate(request, session, settings, api_key_scope=self.scope)


async def authenticate(
    request: Request, session: AsyncSession, settings: Settings, *, api_key_scope: Scope | None = None
) -> Principal:
    """Authenticate a request in the given session (for endpoints that manage their own units of work).

    An integration API key is accepted only where the caller names the scope it needs (`api_key_scope`).
    """
    principal = await _identify(request, session, settings)
    if principal.kind is PrincipalKind.integration:
        if api_key_scope is None:
            raise ApiKeyNotAccepted("this operation is not part of the integration API")
        if api_key_scope not in principal.scopes:
            raise ScopeMissing(f"API key lacks scope {api_key_scope.value}", scope=api_key_scope.value)
    return principal


async def _identify(request: Request, session: AsyncSession, settings: Settings) -> Principal:
    headers = request.headers
    if device_auth.HEADER_SIGNATURE in headers or device_auth.HEADER_ID in headers:
        body = await request.body()
        # Its own short unit of work, committed before the handler runs: the nonce of a verified request is
        # spent even when the handler then fails and the request's transaction rolls back. `session` has not
        # begun yet (authentication is the first thing a request does), so on SQLite nothing holds the write lock.
        async with unit_of_work(request.app.state.sessionmaker) as own:
            device = await accounts_service.authenticate_device(
                own,
                device_id=headers.get(device_auth.HEADER_ID, ""),
                timestamp=headers.get(device_auth.HEADER_TIMESTAMP, ""),
                nonce=headers.get(device_auth.HEADER_NONCE, ""),
                signature=headers.get(device_auth.HEADER_SIGNATURE, ""),
                method=request.method,
                path_and_query=request_target(request),
                body=body,
                settings=settings,
            )
        mtls.check_device_certificate(request.scope, device.id, settings.device_mtls)
        return device
    scheme, _, credential = headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and credential:
        return await sessions.authenticate_access_token(session, credential.strip())
    if scheme.lower() == "apikey" and credential:
        return await accounts_service.authenticate_api_key(session, credential.strip())
    raise Unauthenticated(
        "send `Authorization: Bearer <token>`, `Authorization: ApiKey <key>` or a signed device request"
    )


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


def request_target(request: Request) -> str:
    """The request target as the device sent it (raw path, escapes kept, raw query): what its signature covers."""
    raw_path = request.scope.get("raw_path")
    if not raw_path:
        # Fail closed: the decoded path cannot tell `/a%2Fb` from `/a/b` (uvicorn and httpx always set raw_path).
        raise Unauthenticated("the server passed no raw request target to check the device signature against")
    return device_auth.canonical_target(
        raw_path.decode("latin-1"), request.scope.get("query_string", b"").decode("latin-1")
    )


def require_roles(principal: Principal, *roles: Role) -> Principal:
    """The principal, if it is an account holding one of `roles`."""
    if principal.kind is not PrincipalKind.account or principal.role not in roles:
        raise PermissionDenied(f"needs role: {', '.join(r.value for r in roles)}")
    return principal


async def admin_principal(principal: CurrentPrincipal) -> Principal:
    """An admin account."""
    return require_roles(principal, Role.admin)


async def device_principal(principal: CurrentPrincipal) -> Principal:
    """A clerk-agent device."""
    if principal.kind is not PrincipalKind.device:
        raise PermissionDenied("only an enrolled clerk-agent device may do this")
    return principal


async def account_principal(principal: CurrentPrincipal) -> Principal:
    """A person's account."""
    if principal.kind is not PrincipalKind.account:
        raise PermissionDenied("only a person's account may do this")
    return principal


# Routes that integration API keys may call, by the scope they need (people and devices pass by role as before).
CasesReader = Annotated[Principal, Depends(ApiKeyScope(Scope.cases_read))]
CasesWriter = Annotated[Principal, Depends(ApiKeyScope(Scope.cases_write))]
AuditReader = Annotated[Principal, Depends(ApiKeyScope(Scope.audit_read))]
WebhookManager = Annotated[Principal, Depends(ApiKeyScope(Scope.webhooks_manage))]
AdminPrincipal = Annotated[Principal, Depends(admin_principal)]
DevicePrincipal = Annotated[Principal, Depends(device_principal)]
AccountPrincipal = Annotated[Principal, Depends(account_principal)]
