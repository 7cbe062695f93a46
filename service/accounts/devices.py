"""Counter PCs (clerk-agent devices): one-time enrolment codes, enrolment, signed requests, revocation."""

from __future__ import annotations

import datetime as dt

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from service.accounts import repository
from service.accounts.exceptions import (
    DeviceKeyTaken,
    DeviceNotFound,
    DeviceRequestReplayed,
    DeviceRevoked,
    InvalidDeviceSignature,
    InvalidEnrolmentCode,
    MalformedDeviceNonce,
    MalformedDeviceTimestamp,
)
from service.accounts.models import Device, DeviceRequestNonce, EnrolmentCode
from service.accounts.passwords import token_hash
from service.accounts.roles import Principal, PrincipalKind
from service.audit import service as audit
from service.config import Settings
from service.errors import Unprocessable
from service.kit import clock
from service.kit.ids import random_id, random_secret
from service.tenancy import service as tenancy_service
from service.wire import device_auth


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
    session.add(DeviceRequestNonce(device_id=device.id, nonce=nonce, seen_at=now))
    try:
        # A nonce already spent (a replay, or two copies of one request at once) is refused by the nonce's primary
        # key here; looking it up first as well cost a round trip on every signed request (#18).
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
