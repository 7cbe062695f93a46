"""Who reads which report: own municipality only (404 for another's, as for cases), managers read reports and
nothing else, the ministry reads the national aggregate and no case (docs/reports.md §Access)."""

from __future__ import annotations

import re
from zoneinfo import ZoneInfo

import httpx
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.accounts import service as accounts_service
from service.accounts.roles import SYSTEM, Role, Scope
from service.db import unit_of_work
from service.kit import clock
from tests.factories import PASSWORD, World, login
from tests.service.api_routes import operations
from tests.service.conftest import CaseDriver


async def _account(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession], role: Role, code: str | None
) -> dict[str, str]:
    async with unit_of_work(sessionmaker) as session:
        await accounts_service.create_account(
            session,
            actor=SYSTEM,
            username=f"{role.value}-reports",
            display_name=f"試験 {role.value}",
            role=role,
            password=PASSWORD,
            municipality_code=code,
            post_office_id=None,
        )
    return await login(client, f"{role.value}-reports")


async def _reports_key(sessionmaker: async_sessionmaker[AsyncSession], code: str) -> dict[str, str]:
    async with unit_of_work(sessionmaker) as session:
        _, _, key = await accounts_service.create_client(
            session,
            actor=SYSTEM,
            municipality_code=code,
            name="統計",
            scopes=[Scope.reports_read],
            key_ttl_days=30,
        )
    return {"Authorization": f"ApiKey {key}"}


async def _reachable_gets(
    app: FastAPI, client: httpx.AsyncClient, headers: dict[str, str], code: str
) -> set[str]:
    """Every documented GET the caller gets a 2xx from, path parameters filled with its own municipality or junk."""
    reached = set()
    for op in operations(app):
        if op.method != "GET" or not op.secured:
            continue
        url = (
            op.path.replace("{municipality_code}", code).replace("{code}", code).replace("{month}", "2026-09")
        )
        url = re.sub(r"\{[^}]+\}", "x0000000001", url)
        response = await client.get(url, headers=headers)
        assert response.status_code < 500, f"{url}: {response.status_code} {response.text}"
        if response.status_code < 300:
            reached.add(op.path)
    return reached


async def test_each_role_reads_only_its_reports(
    app: FastAPI,
    client: httpx.AsyncClient,
    world: World,
    driver: CaseDriver,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    code_a, code_b = world.a.municipality_code, world.b.municipality_code
    month = f"{clock.now().astimezone(ZoneInfo('Asia/Tokyo')):%Y-%m}"
    # One case through the real API: the report counts what the hub itself writes.
    case = await driver.to_review()
    await driver.officer(case["id"], "approve", attested=True)
    base_a = f"/api/v1/reports/municipalities/{code_a}/months/{month}"
    base_b = f"/api/v1/reports/municipalities/{code_b}/months/{month}"
    national = f"/api/v1/reports/national/months/{month}"

    supervisor = world.h("a", Role.supervisor)
    own = await client.get(base_a, headers=supervisor)
    assert own.status_code == 200, own.text
    totals = own.json()["totals"]
    assert (totals["received"], totals["approved"]) == (1, 1)
    assert own.json()["timings"]["calls"] == 1
    assert own.json()["timings"]["queue_wait_seconds"]["count"] == 1
    # Another municipality's figures are "not found", in JSON and in every export, as its cases are.
    for url in (base_b, f"{base_b}/report.xlsx", f"{base_b}/report.csv", f"{base_b}/report.pdf"):
        foreign = await client.get(url, headers=supervisor)
        assert foreign.status_code == 404, url
        assert foreign.json()["code"] == "report_not_found"
    assert (await client.get(national, headers=supervisor)).status_code == 403
    # B's supervisor sees B's month, without A's case.
    assert (await client.get(base_b, headers=world.h("b", Role.supervisor))).json()["totals"]["received"] == 0

    for role in (Role.officer, Role.auditor, Role.clerk):
        refused = await client.get(base_a, headers=world.h("a", role))
        assert refused.status_code == 403, role
        assert refused.json()["code"] == "reports_not_allowed"
    assert (await client.get(base_a, headers=world.admin_headers)).status_code == 403

    manager = await _account(client, sessionmaker, Role.manager, code_a)
    assert (await client.get(base_a, headers=manager)).json()["totals"]["approved"] == 1
    assert (await client.get(base_b, headers=manager)).status_code == 404
    assert (await client.get(national, headers=manager)).status_code == 403
    assert (await client.get("/api/v1/cases", headers=manager)).status_code == 403
    assert (await client.get(f"/api/v1/cases/{case['id']}", headers=manager)).status_code in (403, 404)
    scope = (await client.get("/api/v1/reports/scope", headers=manager)).json()
    assert (scope["role"], scope["municipality_code"], scope["municipal"], scope["national"]) == (
        "manager",
        code_a,
        True,
        False,
    )
    assert scope["months"][0] == month

    ministry = await _account(client, sessionmaker, Role.ministry, None)
    whole = await client.get(national, headers=ministry)
    assert whole.status_code == 200, whole.text
    assert [m["municipality_code"] for m in whole.json()["by_municipality"]] == sorted([code_a, code_b])
    assert (await client.get(base_a, headers=ministry)).status_code == 403
    assert (await client.get("/api/v1/cases", headers=ministry)).status_code == 403
    assert (await client.get(f"/api/v1/cases/{case['id']}", headers=ministry)).status_code in (403, 404)
    scope = (await client.get("/api/v1/reports/scope", headers=ministry)).json()
    assert (scope["municipal"], scope["national"], scope["municipality_code"]) == (False, True, None)

    key = await _reports_key(sessionmaker, code_a)
    assert (await client.get(base_a, headers=key)).status_code == 200
    assert (await client.get(base_b, headers=key)).status_code == 404
    assert (await client.get(national, headers=key)).status_code == 403
    refused = await client.get("/api/v1/integration/finalized-cases", headers=key)
    assert refused.status_code == 403

    # Walking every GET of the app: a manager reaches its reports and its own account, nothing of cases,
    # evidence, queue, audit or integrations; the ministry reaches the national view and its own account.
    manager_reach = await _reachable_gets(app, client, manager, code_a)
    ministry_reach = await _reachable_gets(app, client, ministry, code_a)
    reports = "/api/v1/reports/municipalities/{municipality_code}/months/{month}"
    national_path = "/api/v1/reports/national/months/{month}"
    own_account = {"/api/v1/auth/me", "/api/v1/auth/notices", "/api/v1/reports/scope"}
    # Its designations and certificate configuration: no case and no person (docs/reports.md §Access).
    configuration = {"/api/v1/designations", "/api/v1/municipalities/{code}/certificate-config"}
    assert manager_reach == own_account | configuration | {reports} | {
        f"{reports}/report.{kind}" for kind in ("xlsx", "csv", "pdf")
    }
    assert ministry_reach == own_account | {national_path} | {
        f"{national_path}/report.{kind}" for kind in ("xlsx", "csv", "pdf")
    }
