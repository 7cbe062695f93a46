"""Races on one case: exactly one winner, the loser gets 409, and the audit trail has one row per committed change."""

from __future__ import annotations

import asyncio

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.accounts.roles import Role
from service.audit.models import AuditEvent
from tests.factories import PASSWORD, World, login
from tests.service.conftest import ELIGIBLE, CaseDriver


async def _audit_count(sessionmaker: async_sessionmaker[AsyncSession], case_id: str, action: str) -> int:
    async with sessionmaker() as session:
        count = await session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.case_id == case_id, AuditEvent.action == action)
        )
    return int(count or 0)


async def test_two_officers_accept_at_once_one_wins(
    client: httpx.AsyncClient,
    world: World,
    driver: CaseDriver,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    created = await client.post(
        "/api/v1/accounts",
        json={
            "username": "officer-rival",
            "display_name": "競合",
            "role": "officer",
            "password": PASSWORD,
            "municipality_code": world.a.municipality_code,
        },
        headers=world.admin_headers,
    )
    assert created.status_code == 201
    rival = await login(client, "officer-rival")
    for _ in range(5):
        case = await driver.create()
        await driver.device(case["id"], "check-in")
        await driver.device(case["id"], "precheck", answers=ELIGIBLE)
        await driver.device(case["id"], "request-verification")
        url = f"/api/v1/cases/{case['id']}/accept"
        first, second = await asyncio.gather(
            client.post(url, json={}, headers=world.h("a", Role.officer)),
            client.post(url, json={}, headers=rival),
        )
        codes = sorted([first.status_code, second.status_code])
        assert codes == [200, 409], (first.text, second.text)
        loser = first if first.status_code == 409 else second
        assert loser.json()["code"] in ("version_conflict", "invalid_transition")
        winner = first if first.status_code == 200 else second
        final = (await client.get(f"/api/v1/cases/{case['id']}", headers=world.h("a", Role.officer))).json()
        assert final["officer_id"] == winner.json()["officer_id"]
        assert await _audit_count(sessionmaker, case["id"], "case.accept") == 1


async def test_approve_and_reject_at_once_one_decision(
    client: httpx.AsyncClient,
    world: World,
    driver: CaseDriver,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    case = await driver.to_review()
    base = f"/api/v1/cases/{case['id']}"
    h = world.h("a", Role.officer)
    approve, reject = await asyncio.gather(
        client.post(f"{base}/approve", json={"attested": True}, headers=h),
        client.post(f"{base}/reject", json={"attested": True, "reason_code": "face_mismatch"}, headers=h),
    )
    assert sorted([approve.status_code, reject.status_code]) == [200, 409]
    final = (await client.get(base, headers=h)).json()
    assert final["decision"] == ("approved" if approve.status_code == 200 else "rejected")
    decisions = await _audit_count(sessionmaker, case["id"], "case.approve") + await _audit_count(
        sessionmaker, case["id"], "case.reject"
    )
    assert decisions == 1


async def test_same_shinseisho_id_from_two_requests_at_once(world: World) -> None:
    body = {
        "municipality_code": world.a.municipality_code,
        "procedure": "card_application",
        "shinseisho_id": "12345678901234567890123",
    }
    results = await asyncio.gather(*(world.device_a.post("/api/v1/cases", json=body) for _ in range(4)))
    assert sorted(r.status_code for r in results) == [201, 409, 409, 409]
    assert {r.json()["code"] for r in results if r.status_code == 409} == {"shinseisho_id_in_use"}
