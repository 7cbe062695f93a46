"""TOTP changes need the password and the current code, keep the old secret until the new one is confirmed, are
audited without personal data and leave the owner a notice."""

from __future__ import annotations

import datetime as dt

import httpx
import pyotp
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.accounts.roles import Role
from service.audit.models import AuditEvent
from service.kit import clock
from tests.factories import PASSWORD, World

LOGIN = "/api/v1/auth/login"


def _code(totp: pyotp.TOTP) -> str:
    """A code the hub has not seen yet: each use moves the (test) clock one 30 s step on."""
    clock.shift_for_tests(dt.timedelta(seconds=30))
    return totp.at(clock.now())


async def _enable(client: httpx.AsyncClient, headers: dict[str, str]) -> pyotp.TOTP:
    setup = await client.post("/api/v1/auth/totp/setup", json={"password": PASSWORD}, headers=headers)
    assert setup.status_code == 200, setup.text
    totp = pyotp.TOTP(setup.json()["secret"])
    confirmed = await client.post("/api/v1/auth/totp/confirm", json={"totp": _code(totp)}, headers=headers)
    assert confirmed.status_code == 200, confirmed.text
    return totp


async def _actions(sessionmaker: async_sessionmaker[AsyncSession]) -> list[AuditEvent]:
    async with sessionmaker() as session:
        query = select(AuditEvent).where(AuditEvent.action.like("auth.totp%")).order_by(AuditEvent.id)
        return list((await session.execute(query)).scalars())


async def test_access_token_alone_cannot_start_or_replace_totp(
    client: httpx.AsyncClient, world: World, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """Fails on the old code: setup took no password, and reset TOTP so that a password-only login passed."""
    username = world.a.usernames[Role.officer]
    headers = world.h("a", Role.officer)
    no_body = await client.post("/api/v1/auth/totp/setup", headers=headers)
    assert no_body.status_code == 422
    wrong = await client.post(
        "/api/v1/auth/totp/setup", json={"password": "not-the-password-1"}, headers=headers
    )
    assert wrong.status_code == 401
    assert wrong.json()["code"] == "invalid_credentials"
    totp = await _enable(client, headers)
    # TOTP is on: the password alone no longer starts a replacement.
    password_only = await client.post("/api/v1/auth/totp/setup", json={"password": PASSWORD}, headers=headers)
    assert password_only.status_code == 401
    needs = await client.post(LOGIN, json={"username": username, "password": PASSWORD})
    assert needs.json()["code"] == "totp_required"
    refused = [(e.action, e.reason_code) for e in await _actions(sessionmaker)]
    assert ("auth.totp_change_refused", "bad_password") in refused
    assert ("auth.totp_change_refused", "bad_totp") in refused
    # With the password and a current code, a replacement starts, and the old secret still guards the login.
    started = await client.post(
        "/api/v1/auth/totp/setup", json={"password": PASSWORD, "totp": _code(totp)}, headers=headers
    )
    assert started.status_code == 200
    replacement = pyotp.TOTP(started.json()["secret"])
    assert (await client.post(LOGIN, json={"username": username, "password": PASSWORD})).json()[
        "code"
    ] == "totp_required"
    assert (
        await client.post(LOGIN, json={"username": username, "password": PASSWORD, "totp": _code(totp)})
    ).status_code == 200
    confirmed = await client.post(
        "/api/v1/auth/totp/confirm", json={"totp": _code(replacement)}, headers=headers
    )
    assert confirmed.json() == {"totp_enabled": True, "notice": "totp_replaced"}
    old = await client.post(LOGIN, json={"username": username, "password": PASSWORD, "totp": _code(totp)})
    assert old.status_code == 401
    new = await client.post(
        LOGIN, json={"username": username, "password": PASSWORD, "totp": _code(replacement)}
    )
    assert new.status_code == 200


async def test_disabling_needs_password_and_code_and_is_audited(
    client: httpx.AsyncClient, world: World, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """Fails on the old code: there was no audited way to turn TOTP off, only the unaudited reset by setup."""
    username = world.a.usernames[Role.supervisor]
    headers = world.h("a", Role.supervisor)
    totp = await _enable(client, headers)
    for body in ({"password": PASSWORD}, {"password": "not-the-password-1", "totp": _code(totp)}):
        refused = await client.post("/api/v1/auth/totp/disable", json=body, headers=headers)
        assert refused.status_code == 401, body
    disabled = await client.post(
        "/api/v1/auth/totp/disable", json={"password": PASSWORD, "totp": _code(totp)}, headers=headers
    )
    assert disabled.status_code == 200
    assert disabled.json() == {"totp_enabled": False, "notice": "totp_disabled"}
    assert (await client.post(LOGIN, json={"username": username, "password": PASSWORD})).status_code == 200
    events = await _actions(sessionmaker)
    assert [e.action for e in events if e.reason_code is None] == [
        "auth.totp_setup_started",
        "auth.totp_enabled",
        "auth.totp_disabled",
    ]
    account_id = (await client.get("/api/v1/auth/me", headers=headers)).json()["id"]
    for event in events:
        # Ids and codes only: the account is named by its id, never by its username or display name.
        assert (event.object_type, event.object_id, event.actor_id) == ("account", account_id, account_id)
        assert event.chain == world.a.municipality_code
        assert username not in repr(vars(event))
    notices = await client.get("/api/v1/auth/notices", headers=headers)
    assert [n["kind"] for n in notices.json()] == ["totp_disabled", "totp_enabled", "totp_setup_started"]


async def test_a_stolen_token_cannot_guess_the_password_fast(client: httpx.AsyncClient, world: World) -> None:
    """Fails on the old code: no password was asked at all; now each guess is throttled per account (429)."""
    headers = world.h("a", Role.auditor)
    codes = []
    for i in range(7):
        response = await client.post(
            "/api/v1/auth/totp/disable", json={"password": f"guess-number-{i}"}, headers=headers
        )
        codes.append(response.status_code)
    assert codes[:5] == [401] * 5
    assert codes[5:] == [429, 429]
