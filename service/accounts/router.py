"""Endpoints: login/refresh/logout/TOTP and accounts (admin); devices and integration clients have their own
router modules (devices_router.py, clients_router.py), re-exported here for the app."""

from __future__ import annotations

from fastapi import APIRouter, Request

from service.accounts import notices, repository, sessions, totp
from service.accounts import service as accounts_service
from service.accounts.clients_router import clients_router
from service.accounts.deps import AccountPrincipal, AdminPrincipal, AppSettings, CurrentPrincipal
from service.accounts.devices_router import devices_router
from service.accounts.exceptions import (
    AccountNotFound,
    AccountNotPending,
    InvalidCredentials,
    InvalidToken,
    TotpRequired,
    UsernameTaken,
)
from service.accounts.roles import Role
from service.accounts.schemas import (
    AccountCreate,
    AccountRead,
    LoginRequest,
    MeRead,
    NoticeRead,
    Reauthentication,
    RefreshRequest,
    TokenPair,
    TotpChanged,
    TotpConfirm,
    TotpSetup,
)
from service.accounts.sessions import AuthRejected, IssuedTokens
from service.db import DBSession
from service.errors import (
    BadRequest,
    PermissionDenied,
    TooManyRequests,
    Unauthenticated,
    Unprocessable,
    problem_responses,
)
from service.kit.ratelimit import limiter
from service.tenancy.exceptions import MunicipalityNotFound, PostOfficeNotFound

auth_router = APIRouter(prefix="/api/v1/auth", tags=["auth"])

accounts_router = APIRouter(prefix="/api/v1/accounts", tags=["accounts"])


def _pair(issued: IssuedTokens) -> TokenPair:
    account = issued.account
    return TokenPair(
        access_token=issued.access_token,
        refresh_token=issued.refresh_token,
        expires_in=issued.expires_in,
        account_id=account.id,
        role=Role(account.role),
        municipality_code=account.municipality_code,
        post_office_id=account.post_office_id,
    )


@auth_router.post(
    "/login",
    response_model=TokenPair,
    responses=problem_responses(InvalidCredentials, TotpRequired, TooManyRequests),
)
async def login(body: LoginRequest, request: Request, session: DBSession, settings: AppSettings) -> TokenPair:
    """Log in with username, password and (if enabled) the TOTP code.

    Throttled per client address (429); an account with repeated failures answers as an unknown name would
    while its backoff window runs, except to addresses it logged in from before (service/accounts/sessions.py).
    """
    # Keyed by address only: a per-username bucket would let anyone keep a known user out.
    source = request.client.host if request.client else None
    _throttle(request, "login", f"ip:{source or '-'}", settings)
    try:
        issued = await sessions.login(
            session,
            username=body.username,
            password=body.password,
            totp=body.totp,
            settings=settings,
            source=source,
        )
    except AuthRejected as rejected:
        # The failure count and the audit row must survive the error response.
        await session.commit()
        raise rejected.error from None
    return _pair(issued)


def _throttle(request: Request, name: str, key: str, settings: AppSettings) -> None:
    per_login = {"capacity": settings.login_rate_burst, "per_second": settings.login_rate_per_minute / 60}
    wait = limiter(request, name, **(per_login if name == "login" else {})).take(key)
    if wait:
        raise TooManyRequests(f"too many attempts; retry in {wait:.0f} s", retry_after=round(wait + 0.5))


@auth_router.post("/refresh", response_model=TokenPair, responses=problem_responses(InvalidToken))
async def refresh(body: RefreshRequest, session: DBSession, settings: AppSettings) -> TokenPair:
    """Exchange a refresh token (single use) for a new token pair; a reused one ends every session of its login."""
    try:
        issued = await sessions.refresh(session, refresh_token=body.refresh_token, settings=settings)
    except AuthRejected as rejected:
        await session.commit()  # the revocation and its audit row stand
        raise rejected.error from None
    return _pair(issued)


@auth_router.post("/logout", status_code=204, responses=problem_responses(Unauthenticated))
async def logout(request: Request, session: DBSession, _principal: AccountPrincipal) -> None:
    """End the current session."""
    _, _, token = request.headers.get("authorization", "").partition(" ")
    await sessions.logout(session, access_token=token.strip())


@auth_router.get("/me", response_model=MeRead, responses=problem_responses(Unauthenticated))
async def me(principal: CurrentPrincipal) -> MeRead:
    """Who the caller is, as the hub sees it."""
    return MeRead(
        kind=principal.kind.value,
        id=principal.id,
        role=principal.role.value if principal.role else None,
        municipality_code=principal.municipality_code,
        post_office_id=principal.post_office_id,
        scopes=sorted(principal.scopes),
    )


@auth_router.post(
    "/totp/setup",
    response_model=TotpSetup,
    responses=problem_responses(Unauthenticated, PermissionDenied, InvalidCredentials, TooManyRequests),
)
async def totp_setup(
    body: Reauthentication,
    request: Request,
    session: DBSession,
    principal: AccountPrincipal,
    settings: AppSettings,
) -> TotpSetup:
    """Start TOTP enrolment or replacement (password, and the current code while TOTP is on)."""
    _throttle(request, "reauth", principal.id, settings)
    try:
        secret, uri = await totp.start(session, principal=principal, password=body.password, code=body.totp)
    except AuthRejected as rejected:
        await session.commit()  # the refusal's audit row stands
        raise rejected.error from None
    return TotpSetup(secret=secret, otpauth_uri=uri, notice=notices.TOTP_SETUP_STARTED)


@auth_router.post(
    "/totp/confirm",
    response_model=TotpChanged,
    responses=problem_responses(Unauthenticated, PermissionDenied, InvalidCredentials, BadRequest),
)
async def totp_confirm(body: TotpConfirm, session: DBSession, principal: AccountPrincipal) -> TotpChanged:
    """Activate the pending TOTP secret with its first code (it replaces the old one, if any)."""
    kind = await totp.confirm(session, principal=principal, code=body.totp)
    return TotpChanged(totp_enabled=True, notice=kind)


@auth_router.post(
    "/totp/disable",
    response_model=TotpChanged,
    responses=problem_responses(Unauthenticated, PermissionDenied, InvalidCredentials, TooManyRequests),
)
async def totp_disable(
    body: Reauthentication,
    request: Request,
    session: DBSession,
    principal: AccountPrincipal,
    settings: AppSettings,
) -> TotpChanged:
    """Turn TOTP off (password and the current code)."""
    _throttle(request, "reauth", principal.id, settings)
    try:
        kind = await totp.disable(session, principal=principal, password=body.password, code=body.totp)
    except AuthRejected as rejected:
        await session.commit()
        raise rejected.error from None
    return TotpChanged(totp_enabled=False, notice=kind)


@auth_router.get(
    "/notices",
    response_model=list[NoticeRead],
    responses=problem_responses(Unauthenticated, PermissionDenied),
)
async def list_notices(session: DBSession, principal: AccountPrincipal) -> list[NoticeRead]:
    """Security changes of the caller's own account, newest first (TOTP changes, revoked sessions, activation)."""
    return [NoticeRead.model_validate(n) for n in await notices.recent(session, account_id=principal.id)]


@accounts_router.post(
    "",
    response_model=AccountRead,
    status_code=201,
    responses=problem_responses(
        Unauthenticated,
        PermissionDenied,
        UsernameTaken,
        Unprocessable,
        MunicipalityNotFound,
        PostOfficeNotFound,
    ),
)
async def create_account(body: AccountCreate, session: DBSession, admin: AdminPrincipal) -> AccountRead:
    """Create a person's account (admin); an officer, supervisor or auditor starts pending activation."""
    account = await accounts_service.create_account(
        session,
        actor=admin,
        username=body.username,
        display_name=body.display_name,
        role=body.role,
        password=body.password,
        municipality_code=body.municipality_code,
        post_office_id=body.post_office_id,
    )
    return AccountRead.model_validate(account)


@accounts_router.get(
    "", response_model=list[AccountRead], responses=problem_responses(Unauthenticated, PermissionDenied)
)
async def list_accounts(session: DBSession, _admin: AdminPrincipal) -> list[AccountRead]:
    """Every account (admin)."""
    return [AccountRead.model_validate(a) for a in await repository.list_accounts(session)]


@accounts_router.get(
    "/pending",
    response_model=list[AccountRead],
    responses=problem_responses(Unauthenticated, PermissionDenied),
)
async def list_pending_accounts(session: DBSession, principal: AccountPrincipal) -> list[AccountRead]:
    """Accounts of the caller's municipality waiting for activation (supervisor or auditor)."""
    pending = await accounts_service.pending_accounts(session, actor=principal)
    return [AccountRead.model_validate(a) for a in pending]


@accounts_router.post(
    "/{account_id}/activate",
    response_model=AccountRead,
    responses=problem_responses(Unauthenticated, PermissionDenied, AccountNotFound, AccountNotPending),
)
async def activate_account(account_id: str, session: DBSession, principal: AccountPrincipal) -> AccountRead:
    """Activate a pending account: a supervisor or auditor of its municipality who did not create it."""
    account = await accounts_service.activate_account(session, actor=principal, account_id=account_id)
    return AccountRead.model_validate(account)


__all__ = ["accounts_router", "auth_router", "clients_router", "devices_router"]
