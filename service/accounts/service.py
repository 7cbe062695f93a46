"""Rules of accounts: people (creation, second-person activation), device enrolment and signatures, API keys.

Logins and sessions are in sessions.py, TOTP changes in totp.py.
"""

from __future__ import annotations

import datetime as dt
import hmac

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from service.accounts import notices, repository
from service.accounts.exceptions import (
    AccountNotFound,
    AccountNotPending,
    ClientNotFound,
    DeviceKeyTaken,
    DeviceNotFound,
    DeviceRequestReplayed,
    DeviceRevoked,
    InvalidDeviceSignature,
    InvalidEnrolmentCode,
    InvalidToken,
    MalformedDeviceNonce,
    MalformedDeviceTimestamp,
    UsernameTaken,
)
from service.accounts.models import (
    Account,
    ApiKey,
    Device,
    DeviceRequestNonce,
    EnrolmentCode,
    IntegrationClient,
)
from service.accounts.passwords import hash_password, token_hash
from service.accounts.roles import MUNICIPAL_ROLES, Principal, PrincipalKind, Role, Scope
from service.audit import service as audit
from service.config import Settings
from service.errors import PermissionDenied, Unprocessable
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

# Roles that see case evidence or a municipality's audit trail (evidence.service.require_evidence_reader, audit).
EVIDENCE_ROLES = MUNICIPAL_ROLES
# Who may activate such an account: a second person of its municipality who oversees it.
ACTIVATOR_ROLES = frozenset({Role.supervisor, Role.auditor})


def needs_second_person(actor: Principal, role: Role) -> bool:
    """Whether an account made by `actor` waits for activation: an admin's officer, supervisor or auditor does.

    The operator's CLI on the hub's own server (`hub account create`, the demo, SYSTEM) is trusted: whoever runs it
    holds the database credentials and could write the row directly, so its accounts start active. That is how
    the first supervisor of a municipality is made.
    """
    return actor.kind is PrincipalKind.account and role in EVIDENCE_ROLES


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
    """Create a person's account; the role decides which tenant it must be bound to (see needs_second_person)."""
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
        pending_activation=needs_second_person(actor, role),
        created_by=actor.id,
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
        reason_code=f"{role.value}_pending" if account.pending_activation else role.value,
    )
    return account


def _require_activator(actor: Principal) -> None:
    if actor.kind is not PrincipalKind.account or actor.role not in ACTIVATOR_ROLES:
        raise PermissionDenied("only a supervisor or auditor of the municipality activates accounts")


async def pending_accounts(session: AsyncSession, *, actor: Principal) -> list[Account]:
    """Accounts of the activator's municipality that wait for a second person."""
    _require_activator(actor)
    if actor.municipality_code is None:
        return []
    return list(await repository.pending_accounts(session, actor.municipality_code))


async def activate_account(session: AsyncSession, *, actor: Principal, account_id: str) -> Account:
    """A second person (supervisor or auditor of the same municipality, not the creator) activates an account."""
    _require_activator(actor)
    account = await session.get(Account, account_id)
    # Another municipality's account is "not found", as for every foreign tenant's object.
    if account is None or account.municipality_code != actor.municipality_code:
        raise AccountNotFound()
    if actor.id in (account.created_by, account.id):
        raise PermissionDenied("the account's creator cannot also activate it")
    if not account.pending_activation:
        raise AccountNotPending()
    account.pending_activation = False
    account.activated_by = actor.id
    account.activated_at = clock.now()
    await audit.record(
        session,
        actor=actor,
        action="account.activated",
        municipality_code=account.municipality_code,
        object_type="account",
        object_id=account.id,
        reason_code=account.role,
    )
    await notices.add(session, account_id=account.id, kind=notices.ACCOUNT_ACTIVATED)
    return account


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
