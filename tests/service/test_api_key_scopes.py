"""Integration API keys reach only the routes that declare the scope they need, and read-only keys write nothing.

The routes are read off the app itself (every HTTP route, as the OpenAPI document lists them), so a route added
later without a declaration is refused to API keys and shows up here; none of these tests names a route by hand
except the read-only acknowledgement that an attacker's probe found (issue #12, item 6).
"""

from __future__ import annotations

import re
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.accounts import service as accounts_service
from service.accounts.deps import WRITE_SCOPES
from service.accounts.roles import SYSTEM, Scope
from service.db import unit_of_work
from tests.factories import World
from tests.service.api_routes import Operation, operations
from tests.service.conftest import CaseDriver


async def _key(
    sessionmaker: async_sessionmaker[AsyncSession], world: World, scopes: list[Scope]
) -> dict[str, str]:
    async with unit_of_work(sessionmaker) as session:
        _, _, key = await accounts_service.create_client(
            session,
            actor=SYSTEM,
            municipality_code=world.a.municipality_code,
            name=f"probe-{'-'.join(s.value for s in scopes) or 'none'}",
            scopes=scopes,
            key_ttl_days=30,
        )
    return {"Authorization": f"ApiKey {key}"}


async def _send(client: httpx.AsyncClient, op: Operation, headers: dict[str, str]) -> httpx.Response:
    url = re.sub(r"\{[^}]+\}", "x0000000001", op.path)
    body: dict[str, Any] = {"json": {}} if op.method in ("POST", "PUT", "PATCH") else {}
    return await client.request(op.method, url, headers=headers, **body)


async def test_every_route_taking_api_keys_declares_its_scope_and_writes_need_a_write_scope(
    app: FastAPI,
) -> None:
    """Old code: the back-office routes took any key and each handler checked (or forgot) scopes itself."""
    ops = operations(app)
    assert len(ops) >= 90, "the enumeration lost the app's routes"
    scoped = {f"{op.method} {op.path}": op.scope for op in ops if op.scope is not None}
    # The integration API exists: reading, writing, auditing and webhooks each have routes.
    assert {Scope.cases_read, Scope.cases_write, Scope.audit_read, Scope.webhooks_manage} <= set(
        scoped.values()
    )
    for op in ops:
        if op.scope is not None:
            assert op.secured, f"{op.method} {op.path} takes API keys but declares no security"
        if op.scope is not None and op.method != "GET":
            assert op.scope in WRITE_SCOPES, (
                f"{op.method} {op.path} changes state with a read scope ({op.scope})"
            )
    assert scoped["POST /api/v1/integration/cases/{case_id}/acknowledge"] is Scope.cases_write


async def test_a_key_lacking_the_declared_scope_is_refused_everywhere(
    app: FastAPI, client: httpx.AsyncClient, world: World, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """Old code: a cases:read key acknowledged cases; a key was let into officer and device routes to be judged by role."""
    every_scope = await _key(sessionmaker, world, list(Scope))
    without = {s: await _key(sessionmaker, world, [t for t in Scope if t is not s]) for s in Scope}
    problems: list[str] = []
    for op in operations(app):
        if not op.secured:
            continue
        if op.scope is None:
            refused = await _send(client, op, every_scope)
            if refused.status_code != 403 or refused.json().get("code") != "api_key_not_accepted":
                problems.append(f"{op.method} {op.path}: key with every scope got {refused.status_code}")
            continue
        lacking = await _send(client, op, without[op.scope])
        if lacking.status_code != 403 or lacking.json().get("code") != "scope_missing":
            problems.append(f"{op.method} {op.path}: key without {op.scope} got {lacking.status_code}")
        allowed = await _send(client, op, every_scope)
        if allowed.status_code in (401, 403) and allowed.json().get("code") in (
            "api_key_not_accepted",
            "scope_missing",
        ):
            problems.append(f"{op.method} {op.path}: key with {op.scope} refused: {allowed.text}")
    assert not problems, "\n".join(problems)


async def test_a_read_only_key_cannot_acknowledge_a_finalized_case(
    client: httpx.AsyncClient, world: World, driver: CaseDriver
) -> None:
    """Old code: 200, and the case left the back office's unacknowledged list."""
    case = await driver.to_review()
    await driver.officer(case["id"], "approve", attested=True)
    await driver.finalize(case["id"])
    readonly = world.api_key("a", readonly=True)
    ack = await client.post(
        f"/api/v1/integration/cases/{case['id']}/acknowledge",
        json={"back_office_ref": "RO-1"},
        headers=readonly,
    )
    assert ack.status_code == 403, ack.text
    assert ack.json()["code"] == "scope_missing"
    unacked = await client.get("/api/v1/integration/finalized-cases", headers=readonly)
    assert unacked.status_code == 200, unacked.text
    assert case["id"] in [c["case_id"] for c in unacked.json()["items"]]
    # The same request with a key that may write is what acknowledges.
    ok = await client.post(
        f"/api/v1/integration/cases/{case['id']}/acknowledge",
        json={"back_office_ref": "RO-1"},
        headers=world.api_key("a"),
    )
    assert ok.status_code == 200, ok.text
