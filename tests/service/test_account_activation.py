"""An admin's officer, supervisor or auditor waits for a second person of its municipality before it can log in;
the operator's CLI (SYSTEM) stays the trusted bootstrap."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.accounts import service as accounts_service
from service.accounts.roles import SYSTEM, Role
from service.audit.models import AuditEvent
from service.db import unit_of_work
from tests.factories import PASSWORD, World, login

LOGIN = "/api/v1/auth/login"


async def _create(
    client: httpx.AsyncClient, world: World, username: str, role: str, **tenant: Any
) -> dict[str, Any]:
    body = {"username": username, "display_name": "新任者", "role": role, "password": PASSWORD, **tenant}
    created = await client.post("/api/v1/accounts", json=body, headers=world.admin_headers)
    assert created.status_code == 201, created.text
    return dict(created.json())


@pytest.mark.parametrize("role", ["officer", "supervisor", "auditor"])
async def test_admin_made_evidence_account_cannot_log_in_until_activated(
    client: httpx.AsyncClient, world: World, sessionmaker: async_sessionmaker[AsyncSession], role: str
) -> None:
    """Fails on the old code: the admin's account logged in at once with the password the admin chose."""
    account = await _create(client, world, f"new-{role}", role, municipality_code=world.a.municipality_code)
    assert account["pending_activation"] is True
    refused = await client.post(LOGIN, json={"username": f"new-{role}", "password": PASSWORD})
    unknown = await client.post(LOGIN, json={"username": "nobody-at-all", "password": PASSWORD})
    assert refused.status_code == 401
    assert refused.json() == unknown.json()
    pending = await client.get("/api/v1/accounts/pending", headers=world.h("a", Role.auditor))
    assert [a["id"] for a in pending.json()] == [account["id"]]
    activate = f"/api/v1/accounts/{account['id']}/activate"
    # Not the creator, not another municipality's supervisor, not an officer or clerk of the same one.
    assert (await client.post(activate, headers=world.admin_headers)).status_code == 403
    assert (await client.post(activate, headers=world.h("b", Role.supervisor))).status_code == 404
    assert (await client.post(activate, headers=world.h("a", Role.officer))).status_code == 403
    assert (await client.post(activate, headers=world.h("a", Role.clerk))).status_code == 403
    activated = await client.post(activate, headers=world.h("a", Role.supervisor))
    assert activated.status_code == 200
    assert activated.json()["pending_activation"] is False
    again = await client.post(activate, headers=world.h("a", Role.auditor))
    assert again.status_code == 409
    assert again.json()["code"] == "account_not_pending"
    headers = await login(client, f"new-{role}")
    notices = await client.get("/api/v1/auth/notices", headers=headers)
    assert [n["kind"] for n in notices.json()] == ["account_activated"]
    async with sessionmaker() as session:
        rows = list(
            (
                await session.execute(
                    select(AuditEvent).where(AuditEvent.object_id == account["id"]).order_by(AuditEvent.id)
                )
            ).scalars()
        )
    assert [(r.action, r.actor_role, r.reason_code) for r in rows] == [
        ("account.created", "admin", f"{role}_pending"),
        ("account.activated", "supervisor", role),
    ]
    assert all(r.chain == world.a.municipality_code for r in rows)


async def test_accounts_without_evidence_access_start_active(client: httpx.AsyncClient, world: World) -> None:
    clerk = await _create(client, world, "new-clerk", "clerk", post_office_id=world.a.post_office_id)
    admin = await _create(client, world, "new-admin", "admin")
    assert (clerk["pending_activation"], admin["pending_activation"]) == (False, False)
    await login(client, "new-clerk")


async def test_operator_cli_bootstrap_starts_active(
    client: httpx.AsyncClient, world: World, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """`hub account create` acts as SYSTEM: trusted on the server, so the first supervisor can log in."""
    async with unit_of_work(sessionmaker) as session:
        account = await accounts_service.create_account(
            session,
            actor=SYSTEM,
            username="first-supervisor",
            display_name="初代",
            role=Role.supervisor,
            password=PASSWORD,
            municipality_code=world.a.municipality_code,
            post_office_id=None,
        )
        assert account.pending_activation is False
    await login(client, "first-supervisor")


async def test_pending_list_is_for_activators_only(client: httpx.AsyncClient, world: World) -> None:
    await _create(client, world, "waiting-officer", "officer", municipality_code=world.a.municipality_code)
    assert (
        await client.get("/api/v1/accounts/pending", headers=world.h("a", Role.officer))
    ).status_code == 403
    foreign = await client.get("/api/v1/accounts/pending", headers=world.h("b", Role.supervisor))
    assert foreign.json() == []
