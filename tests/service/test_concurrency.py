"""Races on one case: exactly one winner, the loser gets 409, and the audit trail has one row per committed change."""

from __future__ import annotations

import asyncio

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.accounts.roles import Role
from service.audit.models import AuditEvent
from tests.factories import World
from tests.service.conftest import CONSENTS, ELIGIBLE, CaseDriver


async def _audit_count(sessionmaker: async_sessionmaker[AsyncSession], case_id: str, action: str) -> int:
    async with sessionmaker() as session:
        count = await session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.case_id == case_id, AuditEvent.action == action)
        )
    return int(count or 0)


async def test_offer_accepted_twice_at_once_one_wins(
    client: httpx.AsyncClient,
    world: World,
    driver: CaseDriver,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    rival = await driver.new_officer("officer-rival")
    headers = world.h("a", Role.officer)
    assert (
        await client.put("/api/v1/officers/me/presence", json={"status": "available"}, headers=headers)
    ).status_code == 200
    for _ in range(3):
        case = await driver.create()
        await driver.device(case["id"], "check-in")
        await driver.device(case["id"], "precheck", answers=ELIGIBLE)
        await driver.device(case["id"], "consents", consents=CONSENTS)
        await driver.device(case["id"], "request-verification")
        offer = (await client.get("/api/v1/officers/me/offer", params={"wait": 5}, headers=headers)).json()
        url = f"/api/v1/offers/{offer['id']}/accept"
        # A double click on the console, and a rival officer trying to pick the case directly.
        first, second, picked = await asyncio.gather(
            client.post(url, headers=headers),
            client.post(url, headers=headers),
            client.post(f"/api/v1/cases/{case['id']}/accept", json={}, headers=rival),
        )
        assert sorted([first.status_code, second.status_code]) == [200, 409], (first.text, second.text)
        loser = first if first.status_code == 409 else second
        assert loser.json()["code"] in (
            "offer_closed",
            "version_conflict",
            "invalid_transition",
            "officer_busy",
        )
        assert picked.status_code == 409
        assert picked.json()["code"] in ("offer_required", "invalid_transition")
        assert await _audit_count(sessionmaker, case["id"], "case.accept") == 1
        final = (await client.get(f"/api/v1/cases/{case['id']}", headers=headers)).json()
        assert final["state"] == "session_live"
        await driver.officer(case["id"], "abort", reason_code="network")


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


async def test_cases_created_at_once_at_one_office_get_different_references(world: World) -> None:
    # The day's first cases race on creating the counter row, the next ones on bumping it.
    body = {"municipality_code": world.a.municipality_code, "procedure": "application_support"}
    for _ in range(2):
        results = await asyncio.gather(*(world.device_a.post("/api/v1/cases", json=body) for _ in range(6)))
        assert [r.status_code for r in results] == [201] * 6, [r.text for r in results]
    results = [
        *results,
        *(await asyncio.gather(*(world.device_a.post("/api/v1/cases", json=body) for _ in range(6)))),
    ]
    references = [r.json()["reference"] for r in results]
    assert len(set(references)) == len(references), references
