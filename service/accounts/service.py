"""Rules of accounts: login with lockout and TOTP, token rotation, device enrolment and signatures, API keys."""

from __future__ import annotations

import datetime as dt
import hmac
from dataclasses import dataclass

import pyotp
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from service.accounts import repository
from service.accounts.exceptions import (
    AccountLocked,
    AccountNotFound,
    ClientNotFound,
    DeviceKeyTaken,
    DeviceNotFound,
    DeviceRequestReplayed,
    DeviceRevoked,
    InvalidCredentials,
    InvalidDeviceSignature,
    InvalidEnrolmentCode,
    InvalidToken,
    MalformedDeviceNonce,
    MalformedDeviceTimestamp,
    TotpRequired,
    UsernameTaken,
)
from service.accounts.models import (
    Account,
    ApiKey,
    AuthSession,
    Device,
    DeviceRequestNonce,
    EnrolmentCode,
    IntegrationClient,
)
from service.accounts.passwords import hash_password, token_hash, verify_password
from service.accounts.roles import MUNICIPAL_ROLES, Principal, PrincipalKind, Role, Scope
from service.audit import service as audit
from service.config import Settings
from service.errors import BadRequest, Unprocessable
from service.kit import clock
from service.kit.ids import random_id, random_secret
from service.tenancy import service as tenancy_service
from service.wire import device_auth


def principal_of_account(account: Account) -> Principal:
    """The principal a logged-in account acts as."""
    return Principal(
        kind=PrincipalKind.account,
        id=account.id,
        role=Role(account.role),
        municipality_code=account.municipality_code,
        post_office_id=account.post_office_id,
    )


# ---- people -------------------------------------------------------------------------------------------------


async def create_account(
    session: AsyncSession,
    *,
    actor: Principal,
    username: str,
    display_name: str,
    role: Role,
    password: str,
    municipality_code: str | None,
    post_office_id: str | None,
) -> Account:
    """Create a person's account; the role decides which tenant it must be bound to."""
    if role is Role.clerk:
        if post_office_id is None or municipality_code is not None:
            raise Unprocessable(
                "a clerk belongs to exactly one post office (post_office_id, no municipality_code)"
            )
        await tenancy_service.get_post_office(session, post_office_id)
    elif role in MUNICIPAL_ROLES:
        if municipality_code is None or post_office_id is not None:
            raise Unprocessable(
                f"a {role.value} belongs to exactly one municipality (municipality_code only)"
            )
        await tenancy_service.get_municipality(session, municipality_code)
    elif municipality_code is not None or post_office_id is not None:
        raise Unprocessable("an admin is not bound to a tenant")
    if await repository.account_by_username(session, username) is not None:
        raise UsernameTaken()
    account = Account(
        id=random_id("acct"),
        username=username,
        display_name=display_name,
        role=role.value,
        municipality_code=municipality_code,
        post_office_id=post_office_id,
        password_hash=hash_password(password),
        totp_confirmed=False,
        failed_logins=0,
        disabled=False,
        created_at=clock.now(),
    )
    session.add(account)
    await session.flush()
    await audit.record(
        session,
        actor=actor,
        action="account.created",
        municipality_code=municipality_code,
        object_type="account",
        object_id=account.id,
        reason_code=role.value,
    )
    return account


def _totp_ok(account: Account, code: str | None) -> bool:
    if not account.totp_confirmed or account.totp_secret is None:
        return True
    if code is None:
        return False
    totp = pyotp.TOTP(account.totp_secret)
    now = clock.now()
    for drift in (-1, 0, 1):
        counter = totp.timecode(now) + drift
        # A code may be used once: refuse any counter at or before the last one accepted.
        if totp.generate_otp(counter) == code and (
            account.totp_last_counter is None or counter > account.totp_last_counter
        ):
            account.totp_last_counter = counter
            return True
    return False


@dataclass(frozen=True)
class IssuedTokens:
    account: Account
    access_token: str
    refresh_token: str
    expires_in: int


async def _issue_session(session: AsyncSession, account: Account, settings: Settings) -> IssuedTokens:
    now = clock.now()
    access, refresh = f"mga_{random_secret()}", f"mgr_{random_secret()}"
    session.add(
        AuthSession(
            id=random_id("sess"),
            account_id=account.id,
            access_hash=token_hash(access),
            access_expires_at=now + dt.timedelta(seconds=settings.access_token_ttl_seconds),
            refresh_hash=token_hash(refresh),
            refresh_expires_at=now + dt.timedelta(seconds=settings.refresh_token_ttl_seconds),
            created_at=now,
        )
    )
    await session.flush()
    return IssuedTokens(account, access, refresh, settings.access_token_ttl_seconds)


class LoginRejected(Exception):
    """A failed login whose bookkeeping (failure count, audit row) must be committed before the error is sent."""

    def __init__(self, error: InvalidCredentials | AccountLocked | TotpRequired) -> None:
        super().__init__(error.detail)
        self.error = error


async def login(
    session: AsyncSession, *, username: str, password: str, totp: str | None, settings: Settings
) -> IssuedTokens:
    """Check password (argon2id) and TOTP; lock the account after repeated failures. Raises LoginRejected."""
    account = await repository.account_by_username(session, username)
    now = clock.now()
    password_ok = verify_password(account.password_hash if account else None, password)
    if account is None or account.disabled:
        raise LoginRejected(InvalidCredentials())
    principal = principal_of_account(account)
    if account.locked_until is not None and account.locked_until > now:
        await audit.record(
            session,
            actor=principal,
            action="auth.login_refused",
            municipality_code=account.municipality_code,
            reason_code="locked",
        )
        raise LoginRejected(AccountLocked(f"locked until {account.locked_until.isoformat()}"))
    if password_ok and totp is None and account.totp_confirmed:
        raise LoginRejected(TotpRequired())
    if not password_ok or not _totp_ok(account, totp):
        account.failed_logins += 1
        reason = "bad_password" if not password_ok else "bad_totp"
        if account.failed_logins >= settings.login_max_failures:
            account.locked_until = now + dt.timedelta(seconds=settings.login_lockout_seconds)
            account.failed_logins = 0
            reason = "locked"
        await audit.record(
            session,
            actor=principal,
            action="auth.login_failed",
            municipality_code=account.municipality_code,
            reason_code=reason,
        )
        raise LoginRejected(InvalidCredentials())
    account.failed_logins = 0
    account.locked_until = None
    await audit.record(
        session, actor=principal, action="auth.login", municipality_code=account.municipality_code
    )
    return await _issue_session(session, account, settings)


async def refresh(session: AsyncSession, *, refresh_token: str, settings: Settings) -> IssuedTokens:
    """Rotate a session: the refresh token is single-use and yields a new access/refresh pair."""
    current = await repository.session_by_refresh_hash(session, token_hash(refresh_token))
    now = clock.now()
    if current is None or current.revoked_at is not None or current.refresh_expires_at <= now:
        raise InvalidToken()
    account = await session.get(Account, current.account_id)
    if account is None or account.disabled:
        raise InvalidToken()
    current.revoked_at = now
    return await _issue_session(session, account, settings)


async def logout(session: AsyncSession, *, access_token: str) -> None:
    """Revoke the session of an access token."""
    current = await repository.session_by_access_hash(session, token_hash(access_token))
    if current is not None and current.revoked_at is None:
        current.revoked_at = clock.now()


async def authenticate_access_token(session: AsyncSession, token: str) -> Principal:
    """The account behind a bearer access token."""
    current = await repository.session_by_access_hash(session, token_hash(token))
    if current is None or current.revoked_at is not None or current.access_expires_at <= clock.now():
        raise InvalidToken()
    account = await session.get(Account, current.account_id)
    if account is None or account.disabled:
        raise InvalidToken()
    return principal_of_account(account)


async def totp_setup(session: AsyncSession, *, principal: Principal) -> tuple[str, str]:
    """Start TOTP enrolment: a new secret, active once confirmed with a code."""
    account = await session.get(Account, principal.id)
    if account is None:
        raise AccountNotFound()
    account.totp_secret = pyotp.random_base32()
    account.totp_confirmed = False
    uri = pyotp.TOTP(account.totp_secret).provisioning_uri(
        name=account.username, issuer_name="madoguchi-bridge"
    )
    return account.totp_secret, uri


async def totp_confirm(session: AsyncSession, *, principal: Principal, code: str) -> None:
    """Activate TOTP after the first correct code."""
    account = await session.get(Account, principal.id)
    if account is None or account.totp_secret is None:
        raise BadRequest("start TOTP setup first")
    if not pyotp.TOTP(account.totp_secret).verify(code, for_time=clock.now(), valid_window=1):
        raise InvalidCredentials("wrong one-time code")
    account.totp_confirmed = True
    await audit.record(
        session, actor=principal, action="auth.totp_enabled", municipality_code=account.municipality_code
    )


# ---- devices ------------------------------------------------------------------------------------------------


async def issue_enrolment_code(
    session: AsyncSession, *, actor: Principal, post_office_id: str, device_name: str, settings: Settings
) -> tuple[str, EnrolmentCode]:
    """A one-time enrolment code for a counter PC at `post_office_id` (returned once, stored hashed)."""
    await tenancy_service.get_post_office(session, post_office_id)
    code = "-".join(random_secret(6)[:8].upper() for _ in range(3))
    record = EnrolmentCode(
        id=random_id("enrl"),
        code_hash=token_hash(code),
        post_office_id=post_office_id,
        device_name=device_name,
        expires_at=clock.now() + dt.timedelta(seconds=settings.enrolment_code_ttl_seconds),
        created_by=actor.id,
        created_at=clock.now(),
    )
    session.add(record)
    await session.flush()
    await audit.record(
        session,
        actor=actor,
        action="device.enrolment_code_issued",
        municipality_code=None,
        object_type="post_office",
        object_id=post_office_id,
    )
    return code, record


def _load_public_key(text: str) -> Ed25519PublicKey:
    try:
        return Ed25519PublicKey.from_public_bytes(device_auth.b64url_decode(text))
    except ValueError as exc:
        raise Unprocessable("public_key is not a raw Ed25519 key in base64url") from exc


async def enrol_device(session: AsyncSession, *, code: str, public_key: str) -> Device:
    """Register a device's public key with a one-time code; the device is bound to the code's post office."""
    _load_public_key(public_key)
    record = await repository.enrolment_by_hash(session, token_hash(code.strip().upper()))
    now = clock.now()
    if record is None or record.used_at is not None or record.expires_at <= now:
        raise InvalidEnrolmentCode()
    if await repository.device_by_key(session, public_key) is not None:
        raise DeviceKeyTaken()
    record.used_at = now
    device = Device(
        id=random_id("dev"),
        post_office_id=record.post_office_id,
        name=record.device_name,
        public_key=public_key,
        created_at=now,
    )
    session.add(device)
    await session.flush()
    await audit.record(
        session,
        actor=Principal(kind=PrincipalKind.device, id=device.id, post_office_id=device.post_office_id),
        action="device.enrolled",
        municipality_code=None,
        object_type="device",
        object_id=device.id,
    )
    return device


async def authenticate_device(
    session: AsyncSession,
    *,
    device_id: str,
    timestamp: str,
    nonce: str,
    signature: str,
    method: str,
    path_and_query: str,
    body: bytes,
    settings: Settings,
) -> Principal:
    """Verify a signed device request: known, unrevoked device; fresh timestamp; unused nonce; valid signature.

    `path_and_query` is the request target in `device_auth.canonical_target` form. Once the signature verifies,
    the nonce is spent in `session`: the caller commits that session on its own, before the request's handler
    runs, so a request that then fails (4xx, 5xx, rolled back) cannot be replayed either.
    """
    device = await session.get(Device, device_id) if len(device_id) <= 40 else None
    if device is None:
        raise InvalidDeviceSignature()
    if device.revoked_at is not None:
        raise DeviceRevoked()
    try:
        stamp = device_auth.parse_timestamp(timestamp)
    except ValueError as exc:
        raise MalformedDeviceTimestamp() from exc
    if not device_auth.valid_nonce(nonce):
        raise MalformedDeviceNonce()
    try:
        sig = device_auth.b64url_decode(signature)
    except ValueError as exc:
        raise InvalidDeviceSignature("malformed device signature headers") from exc
    now = clock.now()
    if abs(now.timestamp() - stamp) > settings.device_clock_skew_seconds:
        raise InvalidDeviceSignature("device clock is off or the request is stale")
    message = device_auth.signing_input(
        method=method, path_and_query=path_and_query, timestamp=stamp, nonce=nonce, body=body
    )
    try:
        _load_public_key(device.public_key).verify(sig, message)
    except InvalidSignature as exc:
        raise InvalidDeviceSignature() from exc
    if await repository.nonce_seen(session, device.id, nonce):
        raise DeviceRequestReplayed("replayed request (nonce already used)")
    session.add(DeviceRequestNonce(device_id=device.id, nonce=nonce, seen_at=now))
    try:
        # Two copies of one request at once: both saw the nonce unused, the second insert loses here.
        await session.flush()
    except IntegrityError as exc:
        raise DeviceRequestReplayed("replayed request (nonce already used)") from exc
    await repository.forget_nonces_before(
        session, now - dt.timedelta(seconds=3 * settings.device_clock_skew_seconds)
    )
    device.last_seen_at = now
    await session.flush()
    return Principal(kind=PrincipalKind.device, id=device.id, post_office_id=device.post_office_id)


async def revoke_device(session: AsyncSession, *, actor: Principal, device_id: str) -> Device:
    """Revoke a device; it is refused from its next request on."""
    device = await session.get(Device, device_id)
    if device is None:
        raise DeviceNotFound()
    if device.revoked_at is None:
        device.revoked_at = clock.now()
        await audit.record(
            session,
            actor=actor,
            action="device.revoked",
            municipality_code=None,
            object_type="device",
            object_id=device.id,
        )
    return device


# ---- integration clients ------------------------------------------------------------------------------------


def _api_key_text(key_id: str, secret: str) -> str:
    return f"mgk_{key_id}.{secret}"


async def _new_key(
    session: AsyncSession, client: IntegrationClient, ttl_days: int | None
) -> tuple[ApiKey, str]:
    secret = random_secret()
    key = ApiKey(
        id=random_id("key"),
        client_id=client.id,
        secret_hash=token_hash(secret),
        expires_at=clock.now() + dt.timedelta(days=ttl_days) if ttl_days else None,
        created_at=clock.now(),
    )
    session.add(key)
    await session.flush()
    return key, _api_key_text(key.id, secret)


async def create_client(
    session: AsyncSession,
    *,
    actor: Principal,
    municipality_code: str,
    name: str,
    scopes: list[Scope],
    key_ttl_days: int | None,
) -> tuple[IntegrationClient, ApiKey, str]:
    """A municipality's integration client and its first API key (the key text is returned once)."""
    await tenancy_service.get_municipality(session, municipality_code)
    client = IntegrationClient(
        id=random_id("intc"),
        municipality_code=municipality_code,
        name=name,
        scopes=sorted({s.value for s in scopes}),
        created_at=clock.now(),
    )
    session.add(client)
    await session.flush()
    key, text = await _new_key(session, client, key_ttl_days)
    await audit.record(
        session,
        actor=actor,
        action="integration.client_created",
        municipality_code=municipality_code,
        object_type="integration_client",
        object_id=client.id,
    )
    return client, key, text


async def rotate_key(
    session: AsyncSession, *, actor: Principal, client_id: str, key_ttl_days: int | None, grace_seconds: int
) -> tuple[IntegrationClient, ApiKey, str]:
    """Issue a new key; the client's older keys keep working for `grace_seconds`, then expire."""
    client = await session.get(IntegrationClient, client_id)
    if client is None:
        raise ClientNotFound()
    cutoff = clock.now() + dt.timedelta(seconds=grace_seconds)
    for old in await repository.live_keys_of(session, client.id):
        if old.expires_at is None or old.expires_at > cutoff:
            old.expires_at = cutoff
    key, text = await _new_key(session, client, key_ttl_days)
    await audit.record(
        session,
        actor=actor,
        action="integration.key_rotated",
        municipality_code=client.municipality_code,
        object_type="api_key",
        object_id=key.id,
    )
    return client, key, text


async def authenticate_api_key(session: AsyncSession, text: str) -> Principal:
    """The integration client behind an API key `mgk_<key id>.<secret>`."""
    if not text.startswith("mgk_") or "." not in text:
        raise InvalidToken()
    key_id, secret = text[4:].split(".", 1)
    key = await session.get(ApiKey, key_id) if len(key_id) <= 40 else None
    now = clock.now()
    if key is None or key.revoked_at is not None or (key.expires_at is not None and key.expires_at <= now):
        raise InvalidToken()
    if not _constant_time_equal(key.secret_hash, token_hash(secret)):
        raise InvalidToken()
    client = await session.get(IntegrationClient, key.client_id)
    if client is None:
        raise InvalidToken()
    return Principal(
        kind=PrincipalKind.integration,
        id=client.id,
        municipality_code=client.municipality_code,
        scopes=frozenset(Scope(s) for s in client.scopes),
    )


def _constant_time_equal(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())
