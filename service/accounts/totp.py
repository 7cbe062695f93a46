"""TOTP changes of one's own account: start (or replace), confirm, disable.

An access token alone changes nothing: starting or disabling needs the account's password and, while TOTP is
on, a current code. A new secret waits as `totp_pending_secret` until its first code confirms it, so the old
one keeps protecting the login meanwhile. Every change is audited (ids and codes only) and leaves the owner a
notice (service/accounts/notices.py).
"""

from __future__ import annotations

import pyotp
from sqlalchemy.ext.asyncio import AsyncSession

from service.accounts import notices
from service.accounts.exceptions import AccountNotFound, InvalidCredentials
from service.accounts.models import Account
from service.accounts.passwords import verify_password
from service.accounts.roles import Principal
from service.accounts.sessions import AuthRejected, totp_ok
from service.audit import service as audit
from service.errors import BadRequest
from service.kit import clock

ISSUER = "madoguchi-bridge"


async def _account(session: AsyncSession, principal: Principal) -> Account:
    account = await session.get(Account, principal.id)
    if account is None:
        raise AccountNotFound()
    return account


async def _audit(
    session: AsyncSession, principal: Principal, account: Account, action: str, reason: str | None = None
) -> None:
    await audit.record(
        session,
        actor=principal,
        action=action,
        municipality_code=account.municipality_code,
        object_type="account",
        object_id=account.id,
        reason_code=reason,
    )


async def _reauthenticate(
    session: AsyncSession, principal: Principal, account: Account, *, password: str, code: str | None
) -> None:
    """The password, and the current code while TOTP is on; a refusal is audited and committed (AuthRejected)."""
    password_ok = verify_password(account.password_hash, password)
    if password_ok and totp_ok(account, code):
        return
    await _audit(
        session,
        principal,
        account,
        "auth.totp_change_refused",
        "bad_password" if not password_ok else "bad_totp",
    )
    raise AuthRejected(InvalidCredentials("password or current one-time code is wrong"))


async def start(
    session: AsyncSession, *, principal: Principal, password: str, code: str | None
) -> tuple[str, str]:
    """A new secret for the caller, pending until confirmed; returns the secret and its otpauth:// URI."""
    account = await _account(session, principal)
    await _reauthenticate(session, principal, account, password=password, code=code)
    account.totp_pending_secret = pyotp.random_base32()
    await _audit(session, principal, account, "auth.totp_setup_started")
    await notices.add(session, account_id=account.id, kind=notices.TOTP_SETUP_STARTED)
    uri = pyotp.TOTP(account.totp_pending_secret).provisioning_uri(name=account.username, issuer_name=ISSUER)
    return account.totp_pending_secret, uri


async def confirm(session: AsyncSession, *, principal: Principal, code: str) -> str:
    """Make the pending secret the account's TOTP after its first correct code; returns the notice kind."""
    account = await _account(session, principal)
    pending = account.totp_pending_secret
    if pending is None:
        raise BadRequest("start TOTP setup first")
    totp = pyotp.TOTP(pending)
    current = totp.timecode(clock.now())
    matched = [c for c in (current - 1, current, current + 1) if totp.generate_otp(c) == code]
    if not matched:
        raise InvalidCredentials("wrong one-time code")
    kind = notices.TOTP_REPLACED if account.totp_confirmed else notices.TOTP_ENABLED
    account.totp_secret = pending
    account.totp_pending_secret = None
    account.totp_confirmed = True
    # The confirming code (or an earlier one) cannot then log in once more.
    account.totp_last_counter = matched[-1]
    await _audit(session, principal, account, f"auth.{kind}")
    await notices.add(session, account_id=account.id, kind=kind)
    return kind


async def disable(session: AsyncSession, *, principal: Principal, password: str, code: str | None) -> str:
    """Turn TOTP off (and drop any pending secret); returns the notice kind."""
    account = await _account(session, principal)
    await _reauthenticate(session, principal, account, password=password, code=code)
    account.totp_secret = None
    account.totp_pending_secret = None
    account.totp_confirmed = False
    account.totp_last_counter = None
    await _audit(session, principal, account, "auth.totp_disabled")
    await notices.add(session, account_id=account.id, kind=notices.TOTP_DISABLED)
    return notices.TOTP_DISABLED
