"""Account notices: security changes an account's owner is shown (console after login, GET /auth/notices).

A notice holds the account id, a kind and a time — nothing personal — so it can sit next to the audit rows
that record the same change.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from sqlalchemy.ext.asyncio import AsyncSession

from service.accounts import repository
from service.accounts.models import AccountNotice
from service.kit import clock
from service.kit.ids import random_id

TOTP_SETUP_STARTED: Final = "totp_setup_started"
TOTP_ENABLED: Final = "totp_enabled"
TOTP_REPLACED: Final = "totp_replaced"
TOTP_DISABLED: Final = "totp_disabled"
SESSIONS_REVOKED: Final = "sessions_revoked"
ACCOUNT_ACTIVATED: Final = "account_activated"


async def add(session: AsyncSession, *, account_id: str, kind: str) -> AccountNotice:
    """Record a notice for the account's owner in the caller's transaction."""
    notice = AccountNotice(id=random_id("ntc"), account_id=account_id, kind=kind, created_at=clock.now())
    session.add(notice)
    await session.flush()
    return notice


async def recent(session: AsyncSession, *, account_id: str, limit: int = 20) -> Sequence[AccountNotice]:
    """The account's newest notices first."""
    return await repository.notices_of(session, account_id, limit)
