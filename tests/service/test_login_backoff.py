"""Login refusals do not tell an unknown name from a real one, and an outsider cannot lock a known account: the
per-account backoff holds back unfamiliar addresses only, and grows with each failure."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.accounts import passwords, sessions
from service.accounts.roles import Role
from service.audit.models import AuditEvent
from service.config import Settings
from service.kit import clock
from tests.factories import PASSWORD, World

LOGIN = "/api/v1/auth/login"
WRONG = "wrong-password-1"


@asynccontextmanager
async def _from(app: object, address: str) -> AsyncIterator[httpx.AsyncClient]:
    """A client whose requests come from `address` (the hub sees it as the client address)."""
    transport = httpx.ASGITransport(app=app, client=(address, 40000))  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://hub.test") as c:
        yield c


async def _login(client: httpx.AsyncClient, username: str, password: str) -> httpx.Response:
    return await client.post(LOGIN, json={"username": username, "password": password})


async def test_backing_off_account_answers_like_an_unknown_name(app: object, world: World) -> None:
    """Fails on the old code: after 5 failures a real account answered 423 account_locked, an unknown one 401."""
    username = world.a.usernames[Role.supervisor]
    async with _from(app, "203.0.113.10") as outsider:
        for _ in range(5):
            assert (await _login(outsider, username, WRONG)).status_code == 401
        known = await _login(outsider, username, PASSWORD)
        unknown = await _login(outsider, "nobody-at-all", PASSWORD)
    assert known.status_code == unknown.status_code == 401
    assert known.json() == unknown.json()
    assert known.headers["content-type"] == unknown.headers["content-type"]
    assert "retry-after" not in known.headers


async def test_outsider_cannot_keep_the_real_user_out(
    app: object, world: World, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """Fails on the old code: the guesses locked the account for everyone (423), and the per-username bucket
    answered 429 to the real user too."""
    username = world.a.usernames[Role.officer]
    async with _from(app, "198.51.100.7") as office:
        assert (await _login(office, username, PASSWORD)).status_code == 200
        # Guesses from many addresses: each address stays under its own budget.
        for i in range(25):
            async with _from(app, f"203.0.113.{20 + i}") as outsider:
                assert (await _login(outsider, username, WRONG)).status_code == 401
        assert (await _login(office, username, PASSWORD)).status_code == 200
    async with sessionmaker() as session:
        reasons = list(
            (
                await session.execute(
                    select(AuditEvent.reason_code).where(
                        AuditEvent.action.in_(("auth.login_failed", "auth.login_refused"))
                    )
                )
            ).scalars()
        )
    assert "backoff" in reasons


async def test_backoff_grows_and_ends(app: object, world: World, settings: Settings) -> None:
    """Fails on the old code: a lockout, not a window; and a window that attempts inside it cannot stretch."""
    username = world.a.usernames[Role.auditor]
    base = settings.login_backoff_base_seconds
    async with _from(app, "203.0.113.50") as outsider, _from(app, "192.0.2.60") as newcomer:
        for _ in range(settings.login_max_failures):
            await _login(outsider, username, WRONG)
        # Inside the window: refused without looking at the password, and the window does not grow.
        for _ in range(3):
            assert (await _login(outsider, username, WRONG)).status_code == 401
        clock.shift_for_tests(dt.timedelta(seconds=base + 1))
        # The window has passed: the next guess is judged, fails and opens a window twice as long.
        assert (await _login(outsider, username, WRONG)).status_code == 401
        clock.shift_for_tests(dt.timedelta(seconds=base + 1))
        assert (await _login(newcomer, username, PASSWORD)).status_code == 401
        clock.shift_for_tests(dt.timedelta(seconds=base))
        assert (await _login(newcomer, username, PASSWORD)).status_code == 200


@pytest.mark.parametrize(("failures", "expected"), [(4, 0), (5, 30), (6, 60), (7, 120), (10, 900), (60, 900)])
def test_backoff_window(failures: int, expected: int) -> None:
    settings = Settings(login_max_failures=5, login_backoff_base_seconds=30, login_lockout_seconds=900)
    assert sessions.backoff_seconds(failures, settings) == expected


async def test_password_hash_runs_for_every_refusal(
    app: object,
    client: httpx.AsyncClient,
    world: World,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Unknown, pending and backing-off accounts spend the same argon2 work as a real check (similar timing)."""
    real: Callable[[str | None, str], bool] = passwords.verify_password
    calls: list[bool] = []

    def counting(password_hash: str | None, password: str) -> bool:
        calls.append(password_hash is not None)
        return real(password_hash, password)

    monkeypatch.setattr(sessions, "verify_password", counting)
    created = await client.post(
        "/api/v1/accounts",
        json={
            "username": "pending-officer",
            "display_name": "保留中",
            "role": "officer",
            "password": PASSWORD,
            "municipality_code": world.a.municipality_code,
        },
        headers=world.admin_headers,
    )
    assert created.json()["pending_activation"] is True
    username = world.a.usernames[Role.supervisor]
    async with _from(app, "203.0.113.90") as outsider:
        for _ in range(5):
            await _login(outsider, username, WRONG)
        calls.clear()
        answers = [
            await _login(outsider, "nobody-at-all", PASSWORD),
            await _login(outsider, "pending-officer", PASSWORD),
            await _login(outsider, username, PASSWORD),
        ]
    assert calls == [False, True, True]
    assert {a.status_code for a in answers} == {401}
    assert len({a.text for a in answers}) == 1
