"""The ticket route: who gets one, and what it carries."""

from __future__ import annotations

import datetime as dt

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.accounts.roles import Role
from service.config import IceServerSetting, Settings
from service.signaling.tickets import verify_ticket
from tests.factories import World
from tests.service.conftest import CaseDriver
from tests.service.signaling._hub import assign_officer

TURN_SECRET = "turn-secret-for-tests"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The signaling test settings with a STUN and a TURN server."""
    return settings.model_copy(
        update={
            "ice_servers": [
                IceServerSetting(urls=["stun:127.0.0.1:3478"]),
                IceServerSetting(urls=["turn:127.0.0.1:3478?transport=udp"]),
            ],
            "turn_secret": SecretStr(TURN_SECRET),
            "turn_ttl_seconds": 600,
        }
    )


async def test_clerk_device_and_assigned_officer_get_tickets(
    client: httpx.AsyncClient,
    world: World,
    driver: CaseDriver,
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
) -> None:
    case = await driver.create()
    url = f"/api/v1/cases/{case['id']}/signaling-ticket"
    # Before an officer is assigned, no officer — not even the municipality's own — has a place in the room.
    assert (await client.post(url, headers=world.h("a", Role.officer))).status_code == 404
    officer_id = await assign_officer(sessionmaker, case["id"], world.a.usernames[Role.officer])

    device = await world.device_a.post(url)
    assert device.status_code == 200, device.text
    officer = await client.post(url, headers=world.h("a", Role.officer))
    assert officer.status_code == 200, officer.text
    for response, role, principal in ((device, "clerk", world.a.device_id), (officer, "officer", officer_id)):
        body = response.json()
        assert body["role"] == role
        assert body["room"] == case["id"]
        assert body["ws_url"] == f"ws://127.0.0.1:{settings.port}/api/v1/signaling"
        claims = verify_ticket(settings.secret_key.get_secret_value().encode(), body["ticket"])
        assert (claims.room, claims.role, claims.principal_id) == (case["id"], role, principal)
        expires = dt.datetime.fromisoformat(body["expires_at"])
        remaining = (expires - dt.datetime.now(dt.UTC)).total_seconds()
        assert 0 < remaining <= settings.signaling_ticket_ttl_seconds
        stun, turn = body["ice_servers"]
        assert stun == {"urls": ["stun:127.0.0.1:3478"], "username": None, "credential": None}
        # Minted for this participant: the principal is in the username, the expiry is the TTL.
        expiry, _, who = turn["username"].partition(":")
        assert who == principal
        assert 0 < int(expiry) - dt.datetime.now(dt.UTC).timestamp() <= 600
    # Every ticket is new: single use needs distinct nonces.
    again = await world.device_a.post(url)
    assert again.json()["ticket"] != device.json()["ticket"]


async def test_unknown_case_is_404(client: httpx.AsyncClient, world: World) -> None:
    response = await world.device_a.post("/api/v1/cases/case_doesnotexist000000000/signaling-ticket")
    assert response.status_code == 404
    assert response.json()["code"] == "case_not_found"
    assert (await client.post("/api/v1/cases/x/signaling-ticket")).status_code == 401
