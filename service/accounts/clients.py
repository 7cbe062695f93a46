"""Integration clients (back offices) and their API keys: creation, rotation, authentication."""

from __future__ import annotations

import datetime as dt
import hmac

from sqlalchemy.ext.asyncio import AsyncSession

from service.accounts import repository
from service.accounts.exceptions import ClientNotFound, InvalidToken
from service.accounts.models import ApiKey, IntegrationClient
from service.accounts.passwords import token_hash
from service.accounts.roles import Principal, PrincipalKind, Scope
from service.audit import service as audit
from service.kit import clock
from service.kit.ids import random_id, random_secret
from service.tenancy import service as tenancy_service


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
