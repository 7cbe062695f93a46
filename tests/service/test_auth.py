"""Login, lockout, TOTP, refresh rotation, logout; device enrolment, signatures, replay and revocation; API keys."""

from __future__ import annotations

import datetime as dt
import time

import httpx
import pyotp
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.accounts.roles import Role
from service.audit.models import AuditEvent
from service.kit import clock
from service.wire import device_auth
from tests.factories import PASSWORD, World, device_client, login


async def _audit_actions(sessionmaker: async_sessionmaker[AsyncSession]) -> list[str]:
    async with sessionmaker() as session:
        return list((await session.execute(select(AuditEvent.action).order_by(AuditEvent.id))).scalars())


async def test_login_and_me(client: httpx.AsyncClient, world: World) -> None:
    response = await client.get("/api/v1/auth/me", headers=world.h("a", Role.officer))
    assert response.status_code == 200
    assert response.json()["role"] == "officer"
    assert response.json()["municipality_code"] == world.a.municipality_code


async def test_wrong_password_is_401_problem(client: httpx.AsyncClient, world: World) -> None:
    response = await client.post(
        "/api/v1/auth/login",
        json={"username": world.a.usernames[Role.officer], "password": "wrong-password-1"},
    )
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == "invalid_credentials"
    # Unknown user: the same answer (no account enumeration).
    unknown = await client.post(
        "/api/v1/auth/login", json={"username": "nobody-here", "password": "wrong-password-1"}
    )
    assert unknown.status_code == 401
    assert unknown.json()["code"] == "invalid_credentials"


async def test_failures_are_counted_and_audited_even_though_refused(
    client: httpx.AsyncClient, world: World, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    username = world.a.usernames[Role.supervisor]
    for _ in range(5):
        response = await client.post(
            "/api/v1/auth/login", json={"username": username, "password": "wrong-password-1"}
        )
        assert response.status_code == 401
        assert response.json()["code"] == "invalid_credentials"
    actions = await _audit_actions(sessionmaker)
    assert actions.count("auth.login_failed") == 5
    # The address it logged in from before is not held back by the backoff (tests/service/test_login_backoff.py).
    assert (
        await client.post("/api/v1/auth/login", json={"username": username, "password": PASSWORD})
    ).status_code == 200


async def test_refresh_rotates_and_old_refresh_dies(client: httpx.AsyncClient, world: World) -> None:
    first = (
        await client.post(
            "/api/v1/auth/login", json={"username": world.a.usernames[Role.officer], "password": PASSWORD}
        )
    ).json()
    second = await client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert second.status_code == 200
    assert second.json()["access_token"] != first["access_token"]
    replay = await client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert replay.status_code == 401
    assert replay.json()["code"] == "invalid_token"


async def test_reused_refresh_token_revokes_the_whole_login(
    client: httpx.AsyncClient, world: World, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """Fails on the old code: replaying a rotated refresh token left the thief's or the client's newer pair alive."""
    username = world.a.usernames[Role.officer]
    first = (
        await client.post("/api/v1/auth/login", json={"username": username, "password": PASSWORD})
    ).json()
    second = (
        await client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    ).json()
    third = (
        await client.post("/api/v1/auth/refresh", json={"refresh_token": second["refresh_token"]})
    ).json()
    newest = {"Authorization": f"Bearer {third['access_token']}"}
    assert (await client.get("/api/v1/auth/me", headers=newest)).status_code == 200
    # The first token is presented again: every session of that login ends.
    reuse = await client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert reuse.status_code == 401
    assert reuse.json()["code"] == "invalid_token"
    assert (await client.get("/api/v1/auth/me", headers=newest)).status_code == 401
    dead = await client.post("/api/v1/auth/refresh", json={"refresh_token": third["refresh_token"]})
    assert dead.status_code == 401
    # Another login of the same person (another family) is untouched.
    assert (await client.get("/api/v1/auth/me", headers=world.h("a", Role.officer))).status_code == 200
    async with sessionmaker() as session:
        row = (
            await session.execute(
                select(AuditEvent).where(AuditEvent.action == "auth.session_family_revoked")
            )
        ).scalar_one()
    assert (row.object_type, row.object_id, row.reason_code) == (
        "account",
        first["account_id"],
        "refresh_reused",
    )
    assert row.chain == world.a.municipality_code
    notices = await client.get("/api/v1/auth/notices", headers=world.h("a", Role.officer))
    assert [n["kind"] for n in notices.json()] == ["sessions_revoked"]


async def test_access_token_expires(client: httpx.AsyncClient, world: World) -> None:
    headers = world.h("a", Role.officer)
    clock.shift_for_tests(dt.timedelta(seconds=901))
    response = await client.get("/api/v1/auth/me", headers=headers)
    assert response.status_code == 401


async def test_logout_revokes(client: httpx.AsyncClient, world: World) -> None:
    headers = await login(client, world.a.usernames[Role.officer])
    assert (await client.post("/api/v1/auth/logout", headers=headers)).status_code == 204
    assert (await client.get("/api/v1/auth/me", headers=headers)).status_code == 401


async def test_totp_enrolment_and_login(client: httpx.AsyncClient, world: World) -> None:
    username = world.a.usernames[Role.officer]
    headers = world.h("a", Role.officer)
    setup = await client.post("/api/v1/auth/totp/setup", json={"password": PASSWORD}, headers=headers)
    assert setup.status_code == 200, setup.text
    assert setup.json()["notice"] == "totp_setup_started"
    totp = pyotp.TOTP(setup.json()["secret"])
    bad = await client.post(
        "/api/v1/auth/totp/confirm",
        json={"totp": "000000" if totp.now() != "000000" else "111111"},
        headers=headers,
    )
    assert bad.status_code == 401
    confirmed = await client.post("/api/v1/auth/totp/confirm", json={"totp": totp.now()}, headers=headers)
    assert confirmed.status_code == 200
    assert confirmed.json() == {"totp_enabled": True, "notice": "totp_enabled"}
    needs = await client.post("/api/v1/auth/login", json={"username": username, "password": PASSWORD})
    assert needs.status_code == 401
    assert needs.json()["code"] == "totp_required"
    clock.shift_for_tests(dt.timedelta(seconds=30))  # the confirming code was used up
    code = totp.at(clock.now())
    ok = await client.post(
        "/api/v1/auth/login", json={"username": username, "password": PASSWORD, "totp": code}
    )
    assert ok.status_code == 200
    # The same code cannot be used twice.
    again = await client.post(
        "/api/v1/auth/login", json={"username": username, "password": PASSWORD, "totp": code}
    )
    assert again.status_code == 401


async def test_unauthenticated_is_401(client: httpx.AsyncClient, world: World) -> None:
    for path in ("/api/v1/cases", "/api/v1/accounts", "/api/v1/audit/events"):
        response = await client.get(path)
        assert response.status_code == 401, path
        assert response.json()["code"] == "unauthenticated"


async def test_device_me_and_designations(world: World) -> None:
    response = await world.device_a.get("/api/v1/devices/me")
    assert response.status_code == 200
    body = response.json()
    assert body["post_office_id"] == world.a.post_office_id
    assert [d["municipality_code"] for d in body["designations"]] == [world.a.municipality_code]


async def test_device_enrolment_code_is_single_use(client: httpx.AsyncClient, world: World) -> None:
    issued = await client.post(
        "/api/v1/devices/enrolment-codes",
        json={"post_office_id": world.a.post_office_id, "device_name": "窓口2"},
        headers=world.admin_headers,
    )
    assert issued.status_code == 201
    code = issued.json()["code"]
    key = Ed25519PrivateKey.generate()
    first = await client.post(
        "/api/v1/devices/enroll", json={"code": code, "public_key": device_auth.public_key_text(key)}
    )
    assert first.status_code == 201
    assert first.json()["post_office_id"] == world.a.post_office_id
    second = await client.post(
        "/api/v1/devices/enroll",
        json={"code": code, "public_key": device_auth.public_key_text(Ed25519PrivateKey.generate())},
    )
    assert second.status_code == 401
    assert second.json()["code"] == "invalid_enrolment_code"


async def test_expired_enrolment_code(client: httpx.AsyncClient, world: World) -> None:
    issued = await client.post(
        "/api/v1/devices/enrolment-codes",
        json={"post_office_id": world.a.post_office_id, "device_name": "窓口3"},
        headers=world.admin_headers,
    )
    clock.shift_for_tests(dt.timedelta(days=2))
    response = await client.post(
        "/api/v1/devices/enroll",
        json={
            "code": issued.json()["code"],
            "public_key": device_auth.public_key_text(Ed25519PrivateKey.generate()),
        },
    )
    assert response.status_code == 401


def _signed(
    key: Ed25519PrivateKey,
    device_id: str,
    path: str,
    *,
    stamp: int | None = None,
    nonce: str = "n" * 20,
    body: bytes = b"",
) -> dict[str, str]:
    return device_auth.sign_headers(
        key,
        device_id=device_id,
        method="GET",
        path_and_query=path,
        timestamp=stamp or int(time.time()),
        nonce=nonce,
        body=body,
    )


async def test_device_signature_checks(client: httpx.AsyncClient, world: World) -> None:
    path = "/api/v1/devices/me"
    good = _signed(world.a.device_key, world.a.device_id, path, nonce="fresh-nonce-0001")
    assert (await client.get(path, headers=good)).status_code == 200
    # Replay of the very same signed request.
    replay = await client.get(path, headers=good)
    assert replay.status_code == 401
    assert "replayed" in replay.json()["detail"]
    # Signed by another key.
    other = _signed(Ed25519PrivateKey.generate(), world.a.device_id, path, nonce="fresh-nonce-0002")
    assert (await client.get(path, headers=other)).json()["code"] == "invalid_device_signature"
    # Stale timestamp.
    stale = _signed(
        world.a.device_key, world.a.device_id, path, stamp=int(time.time()) - 600, nonce="fresh-nonce-0003"
    )
    assert (await client.get(path, headers=stale)).status_code == 401
    # Signature over another path.
    moved = _signed(world.a.device_key, world.a.device_id, "/api/v1/cases", nonce="fresh-nonce-0004")
    assert (await client.get(path, headers=moved)).status_code == 401
    # Unknown device id.
    ghost = _signed(world.a.device_key, "dev_unknown", path, nonce="fresh-nonce-0005")
    assert (await client.get(path, headers=ghost)).status_code == 401


async def test_revoked_device_is_refused_on_next_request(
    app: object, client: httpx.AsyncClient, world: World
) -> None:
    assert (await world.device_a.get("/api/v1/devices/me")).status_code == 200
    revoke = await client.post(f"/api/v1/devices/{world.a.device_id}/revoke", headers=world.admin_headers)
    assert revoke.status_code == 200
    assert revoke.json()["revoked_at"] is not None
    refused = await world.device_a.get("/api/v1/devices/me")
    assert refused.status_code == 401
    assert refused.json()["code"] == "device_revoked"
    create = await world.device_a.post(
        "/api/v1/cases", json={"municipality_code": world.a.municipality_code, "procedure": "pin_reset"}
    )
    assert create.status_code == 401


async def test_api_key_rotation_with_grace(client: httpx.AsyncClient, world: World) -> None:
    created = await client.post(
        "/api/v1/integration-clients",
        json={"municipality_code": world.a.municipality_code, "name": "基幹系", "scopes": ["cases:read"]},
        headers=world.admin_headers,
    )
    assert created.status_code == 201
    old_key = created.json()["api_key"]
    old = {"Authorization": f"ApiKey {old_key}"}
    assert (await client.get("/api/v1/cases", headers=old)).status_code == 200
    rotated = await client.post(
        f"/api/v1/integration-clients/{created.json()['client']['id']}/keys",
        json={"grace_seconds": 60},
        headers=world.admin_headers,
    )
    assert rotated.status_code == 201
    new = {"Authorization": f"ApiKey {rotated.json()['api_key']}"}
    assert (await client.get("/api/v1/cases", headers=old)).status_code == 200  # still in grace
    clock.shift_for_tests(dt.timedelta(seconds=61))
    assert (await client.get("/api/v1/cases", headers=old)).status_code == 401
    assert (await client.get("/api/v1/cases", headers=new)).status_code == 200
    tampered = {"Authorization": f"ApiKey {old_key[:-2]}xx"}
    assert (await client.get("/api/v1/cases", headers=tampered)).status_code == 401


async def test_account_roles_bind_to_the_right_tenant(client: httpx.AsyncClient, world: World) -> None:
    bad = [
        {"role": "clerk", "municipality_code": world.a.municipality_code},
        {"role": "officer", "post_office_id": world.a.post_office_id},
        {"role": "admin", "municipality_code": world.a.municipality_code},
        {"role": "officer", "municipality_code": "999997"},  # valid code, no such municipality
    ]
    for extra in bad:
        response = await client.post(
            "/api/v1/accounts",
            json={"username": "new-person", "display_name": "新人", "password": PASSWORD, **extra},
            headers=world.admin_headers,
        )
        assert response.status_code in (404, 422), (extra, response.text)
    listed = (await client.get("/api/v1/accounts", headers=world.admin_headers)).json()
    assert "new-person" not in [a["username"] for a in listed]
    assert all("password" not in key for a in listed for key in a)


@pytest.mark.parametrize("role", [Role.officer, Role.clerk, Role.auditor, Role.supervisor])
async def test_only_admin_configures(client: httpx.AsyncClient, world: World, role: Role) -> None:
    response = await client.post(
        "/api/v1/municipalities", json={"code": "999997", "name": "x"}, headers=world.h("a", role)
    )
    assert response.status_code == 403


async def test_device_cannot_use_bearer_routes(app: object, world: World) -> None:
    async with device_client(app, world.a) as device:
        assert (await device.get("/api/v1/accounts")).status_code == 403
        assert (await device.post("/api/v1/auth/totp/setup", json={"password": PASSWORD})).status_code == 403
