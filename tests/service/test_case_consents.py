"""The counter's consents recorded on the case with their versions, and Idempotency-Key on case actions."""

from __future__ import annotations

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.accounts.roles import Role
from service.audit.models import AuditEvent
from service.wire.consents import CURRENT
from tests.factories import World
from tests.service.conftest import ELIGIBLE, CaseDriver
from tests.service.db_snapshot import snapshot

GIVEN = {"consents": dict(CURRENT)}


async def _checked(driver: CaseDriver) -> str:
    case_id = str((await driver.create("pin_reset"))["id"])
    await driver.device(case_id, "check-in")
    await driver.device(case_id, "precheck", answers=ELIGIBLE)
    return case_id


async def _unchanged(
    sessionmaker: async_sessionmaker[AsyncSession], client: httpx.AsyncClient, path: str, body: object,
    status: int, code: str, headers: dict[str, str] | None = None,
) -> None:  # fmt: skip
    before = await snapshot(sessionmaker)
    response = await client.post(path, json=body, headers=headers)
    assert response.status_code == status, response.text
    assert response.json()["code"] == code
    assert await snapshot(sessionmaker) == before


async def test_consents_are_recorded_with_versions_and_audited(
    world: World, driver: CaseDriver, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    case_id = await _checked(driver)
    recorded = await driver.device(case_id, "consents", **GIVEN)
    consents = recorded["precheck"]["consents"]
    assert {code: c["version"] for code, c in consents.items()} == CURRENT
    assert recorded["precheck"]["eligible"] is True
    async with sessionmaker() as session:
        rows = (
            await session.scalars(
                select(AuditEvent.reason_code).where(
                    AuditEvent.case_id == case_id, AuditEvent.action == "case.consent_recorded"
                )
            )
        ).all()
    assert sorted(str(r) for r in rows) == sorted(f"{code}:{version}" for code, version in CURRENT.items())
    # Answering the eligibility questions again keeps the consents.
    again = await driver.device(case_id, "precheck", answers=ELIGIBLE)
    assert again["precheck"]["consents"] == consents


async def test_consents_refused_incomplete_stale_foreign_by_role_or_late(
    world: World,
    driver: CaseDriver,
    client: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    case_id = await _checked(driver)
    path = f"/api/v1/cases/{case_id}/consents"
    partial = {"consents": {"recording": CURRENT["recording"]}}
    await _unchanged(sessionmaker, world.device_a, path, partial, 422, "invalid_case")
    stale = {"consents": {**CURRENT, "recording": "2019-01"}}
    await _unchanged(sessionmaker, world.device_a, path, stale, 422, "invalid_case")
    await _unchanged(sessionmaker, world.device_b, path, GIVEN, 404, "case_not_found")
    officer = world.h("a", Role.officer)
    await _unchanged(sessionmaker, client, path, GIVEN, 403, "action_not_allowed_for_role", officer)
    # Without the consents the officer is not called; with them (and only then) the case is queued.
    request = f"/api/v1/cases/{case_id}/request-verification"
    await _unchanged(sessionmaker, world.device_a, request, {}, 409, "consents_missing")
    await driver.device(case_id, "consents", **GIVEN)
    await driver.device(case_id, "request-verification")
    await _unchanged(sessionmaker, world.device_a, path, GIVEN, 409, "invalid_transition")


async def test_a_replayed_action_with_its_idempotency_key_is_applied_once(
    world: World, driver: CaseDriver, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    case_id = str((await driver.create("pin_reset"))["id"])
    path = f"/api/v1/cases/{case_id}/check-in"
    key = {"Idempotency-Key": "agent-check-in-0001"}
    first = await world.device_a.post(path, json={}, headers=key)
    second = await world.device_a.post(path, json={}, headers=key)
    assert first.status_code == second.status_code == 200
    assert first.json() == second.json()
    assert second.headers.get("idempotent-replayed") == "true"
    # Without the key the repeat is the wrong-state 409 it always was.
    assert (await world.device_a.post(path, json={})).status_code == 409
    history = await world.device_a.get(f"/api/v1/cases/{case_id}/history")
    assert [e["action"] for e in history.json()].count("check_in") == 1
    # The same key with another request is refused and changes nothing.
    precheck = f"/api/v1/cases/{case_id}/precheck"
    await _unchanged(
        sessionmaker, world.device_a, precheck, {"answers": ELIGIBLE}, 422, "idempotency_key_reused", key
    )
