"""Queries of the accounts domain."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from service.accounts.models import (
    Account,
    AccountNotice,
    ApiKey,
    AuthSession,
    Device,
    DeviceRequestNonce,
    EnrolmentCode,
    IntegrationClient,
)


async def account_by_username(session: AsyncSession, username: str) -> Account | None:
    return (await session.execute(select(Account).where(Account.username == username))).scalar_one_or_none()


async def list_accounts(session: AsyncSession) -> Sequence[Account]:
    return (await session.execute(select(Account).order_by(Account.username))).scalars().all()


async def session_by_access_hash(session: AsyncSession, digest: str) -> AuthSession | None:
    return (
        await session.execute(select(AuthSession).where(AuthSession.access_hash == digest))
    ).scalar_one_or_none()


async def session_by_refresh_hash(session: AsyncSession, digest: str) -> AuthSession | None:
    query = select(AuthSession).where(AuthSession.refresh_hash == digest).with_for_update()
    return (await session.execute(query)).scalar_one_or_none()


async def enrolment_by_hash(session: AsyncSession, digest: str) -> EnrolmentCode | None:
    query = select(EnrolmentCode).where(EnrolmentCode.code_hash == digest).with_for_update()
    return (await session.execute(query)).scalar_one_or_none()


async def list_devices(session: AsyncSession) -> Sequence[Device]:
    return (await session.execute(select(Device).order_by(Device.created_at))).scalars().all()


async def forget_nonces_before(session: AsyncSession, cutoff: dt.datetime) -> None:
    await session.execute(delete(DeviceRequestNonce).where(DeviceRequestNonce.seen_at < cutoff))


async def list_clients(session: AsyncSession) -> Sequence[IntegrationClient]:
    return (
        (await session.execute(select(IntegrationClient).order_by(IntegrationClient.created_at)))
        .scalars()
        .all()
    )


async def live_keys_of(session: AsyncSession, client_id: str) -> Sequence[ApiKey]:
    query = select(ApiKey).where(ApiKey.client_id == client_id, ApiKey.revoked_at.is_(None))
    return (await session.execute(query)).scalars().all()


async def device_by_key(session: AsyncSession, public_key: str) -> Device | None:
    return (await session.execute(select(Device).where(Device.public_key == public_key))).scalar_one_or_none()


async def sessions_of_family(session: AsyncSession, family_id: str) -> Sequence[AuthSession]:
    query = select(AuthSession).where(AuthSession.family_id == family_id).with_for_update()
    return (await session.execute(query)).scalars().all()


async def notices_of(session: AsyncSession, account_id: str, limit: int) -> Sequence[AccountNotice]:
    query = (
        select(AccountNotice)
        .where(AccountNotice.account_id == account_id)
        .order_by(AccountNotice.created_at.desc(), AccountNotice.id)
        .limit(limit)
    )
    return (await session.execute(query)).scalars().all()


async def pending_accounts(session: AsyncSession, municipality_code: str) -> Sequence[Account]:
    query = (
        select(Account)
        .where(Account.municipality_code == municipality_code, Account.pending_activation.is_(True))
        .order_by(Account.created_at)
    )
    return (await session.execute(query)).scalars().all()
