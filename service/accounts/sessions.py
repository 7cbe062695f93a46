"""Login sessions: password login with a per-account backoff, refresh rotation with reuse detection, logout.

The login rule (docs in the README's "Accounts and login" section):
- Every refusal a guesser can see is the same 401 `invalid_credentials`, whether the username is unknown, the
  account is pending activation or disabled, the password is wrong or the account is in its backoff window; the
  argon2 hash runs in every case so the answer takes as long.
- Per source: the router's token bucket per client address (429) slows any one address, whoever it aims at.
- Per account: from `login_max_failures` failures in a row on, each further failure opens a backoff window of
  `login_backoff_base_seconds · 2^(failures − max)` seconds, at most `login_lockout_seconds`. Inside the window an
  attempt from an unfamiliar address is refused without looking at the password, and does not lengthen the window;
  an address the account logged in from recently (up to five, kept as keyed hashes) is not held back, so an
  outsider's guessing cannot keep the real user out from their usual counter or office.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from dataclasses import dataclass

import pyotp
from sqlalchemy.ext.asyncio import AsyncSession

from service.accounts import notices, repository
from service.accounts.exceptions import InvalidCredentials, InvalidToken, TotpRequired
from service.accounts.models import Account, AuthSession
from service.accounts.passwords import token_hash, verify_password
from service.accounts.roles import SYSTEM, Principal
from service.accounts.service import principal_of_account
from service.audit import service as audit
from service.config import Settings
from service.kit import clock
from service.kit.ids import random_id, random_secret

TRUSTED_SOURCES_KEPT = 5


@dataclass(frozen=True)
class IssuedTokens:
    account: Account
    access_token: str
    refresh_token: str
    expires_in: int


class AuthRejected(Exception):
    """A refusal whose bookkeeping (failure count, revocations, audit row) must be committed before it is sent."""

    def __init__(self, error: InvalidCredentials | TotpRequired | InvalidToken) -> None:
        super().__init__(error.detail)
        self.error = error


def source_key(source: str | None, settings: Settings) -> str:
    """A keyed hash of a client address: recognisable next time, but not the address itself."""
    key = settings.secret_key.get_secret_value().encode()
    return hmac.new(key, f"login-source:{source or '-'}".encode(), hashlib.sha256).hexdigest()[:32]


def totp_ok(account: Account, code: str | None) -> bool:
    """Whether `code` is the account's current TOTP code (always true without TOTP); a code is used once."""
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


def backoff_seconds(failures: int, settings: Settings) -> int:
    """The backoff window after `failures` failures in a row (0 below the threshold)."""
    excess = failures - settings.login_max_failures
    if excess < 0:
        return 0
    return int(
        min(settings.login_backoff_base_seconds * 2 ** min(excess, 20), settings.login_lockout_seconds)
    )


async def _issue_session(
    session: AsyncSession, account: Account, settings: Settings, *, family_id: str | None = None
) -> IssuedTokens:
    now = clock.now()
    access, refresh = f"mga_{random_secret()}", f"mgr_{random_secret()}"
    session_id = random_id("sess")
    session.add(
        AuthSession(
            id=session_id,
            account_id=account.id,
            family_id=family_id or session_id,
            access_hash=token_hash(access),
            access_expires_at=now + dt.timedelta(seconds=settings.access_token_ttl_seconds),
            refresh_hash=token_hash(refresh),
            refresh_expires_at=now + dt.timedelta(seconds=settings.refresh_token_ttl_seconds),
            created_at=now,
        )
    )
    await session.flush()
    return IssuedTokens(account, access, refresh, settings.access_token_ttl_seconds)


async def login(
    session: AsyncSession,
    *,
    username: str,
    password: str,
    totp: str | None,
    settings: Settings,
    source: str | None = None,
) -> IssuedTokens:
    """Check password (argon2id) and TOTP under the backoff rule above; `source` is the client address."""
    account = await repository.account_by_username(session, username)
    now = clock.now()
    # Runs for unknown, pending and backing-off accounts too, so the time taken does not tell them apart.
    password_ok = verify_password(account.password_hash if account else None, password)
    if account is None or account.disabled or account.pending_activation:
        raise AuthRejected(InvalidCredentials())
    principal = principal_of_account(account)
    source_hash = source_key(source, settings)
    familiar = source_hash in (account.trusted_sources or [])
    if account.locked_until is not None and account.locked_until > now and not familiar:
        await audit.record(
            session,
            actor=principal,
            action="auth.login_refused",
            municipality_code=account.municipality_code,
            reason_code="backoff",
        )
        raise AuthRejected(InvalidCredentials())
    if password_ok and totp is None and account.totp_confirmed:
        raise AuthRejected(TotpRequired())
    if not password_ok or not totp_ok(account, totp):
        account.failed_logins += 1
        reason = "bad_password" if not password_ok else "bad_totp"
        window = backoff_seconds(account.failed_logins, settings)
        if window:
            account.locked_until = now + dt.timedelta(seconds=window)
            reason = "backoff"
        await audit.record(
            session,
            actor=principal,
            action="auth.login_failed",
            municipality_code=account.municipality_code,
            reason_code=reason,
        )
        raise AuthRejected(InvalidCredentials())
    account.failed_logins = 0
    account.locked_until = None
    others = [s for s in account.trusted_sources or [] if s != source_hash]
    account.trusted_sources = [source_hash, *others][:TRUSTED_SOURCES_KEPT]
    await audit.record(
        session, actor=principal, action="auth.login", municipality_code=account.municipality_code
    )
    return await _issue_session(session, account, settings)


async def refresh(session: AsyncSession, *, refresh_token: str, settings: Settings) -> IssuedTokens:
    """Rotate a session: the refresh token is single-use; presenting a rotated one again ends the whole login."""
    current = await repository.session_by_refresh_hash(session, token_hash(refresh_token))
    now = clock.now()
    if current is None:
        raise InvalidToken()
    if current.rotated_at is not None:
        # Either the client or a thief holds a copy of a token already exchanged: neither can be trusted now.
        await _revoke_family(session, current, now)
        raise AuthRejected(InvalidToken())
    if current.revoked_at is not None or current.refresh_expires_at <= now:
        raise InvalidToken()
    account = await session.get(Account, current.account_id)
    if account is None or account.disabled:
        raise InvalidToken()
    current.revoked_at = now
    current.rotated_at = now
    return await _issue_session(session, account, settings, family_id=current.family_id)


async def _revoke_family(session: AsyncSession, reused: AuthSession, now: dt.datetime) -> None:
    revoked = 0
    for member in await repository.sessions_of_family(session, reused.family_id):
        if member.revoked_at is None:
            member.revoked_at = now
            revoked += 1
    account = await session.get(Account, reused.account_id)
    municipality_code = account.municipality_code if account else None
    await audit.record(
        session,
        actor=SYSTEM,
        action="auth.session_family_revoked",
        municipality_code=municipality_code,
        object_type="account",
        object_id=reused.account_id,
        reason_code="refresh_reused",
    )
    if revoked:
        await notices.add(session, account_id=reused.account_id, kind=notices.SESSIONS_REVOKED)


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
    if account is None or account.disabled or account.pending_activation:
        raise InvalidToken()
    return principal_of_account(account)
