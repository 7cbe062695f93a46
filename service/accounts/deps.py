"""Authentication of every request: bearer session token, signed device request, or integration API key."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession

from service.accounts import mtls, sessions
from service.accounts import service as accounts_service
from service.accounts.roles import Principal, PrincipalKind, Role, Scope
from service.config import Settings
from service.db import DBSession
from service.errors import PermissionDenied, Unauthenticated
from service.wire import device_auth

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
    """Whoever is calling; 401 when nobody is."""
    return await authenticate(request, session, settings)


async def authenticate(request: Request, session: AsyncSession, settings: Settings) -> Principal:
    """Authenticate a request in the given session (for endpoints that manage their own units of work)."""
    headers = request.headers
    if device_auth.HEADER_SIGNATURE in headers or device_auth.HEADER_ID in headers:
        path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        device = await accounts_service.authenticate_device(
            session,
            device_id=headers.get(device_auth.HEADER_ID, ""),
            timestamp=headers.get(device_auth.HEADER_TIMESTAMP, ""),
            nonce=headers.get(device_auth.HEADER_NONCE, ""),
            signature=headers.get(device_auth.HEADER_SIGNATURE, ""),
            method=request.method,
            path_and_query=path,
            body=await request.body(),
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


def require_scope(principal: Principal, scope: Scope) -> None:
    """Integration clients need the scope; other principals are checked by role elsewhere."""
    if principal.kind is PrincipalKind.integration and scope not in principal.scopes:
        raise PermissionDenied(f"API key lacks scope {scope.value}")


AdminPrincipal = Annotated[Principal, Depends(admin_principal)]
DevicePrincipal = Annotated[Principal, Depends(device_principal)]
AccountPrincipal = Annotated[Principal, Depends(account_principal)]
