"""Connection metrics on a case: who may report and read them, the audit row, limits and the aggregate."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.accounts.roles import Role
from service.audit.models import AuditEvent
from service.signaling.metrics import MAX_REPORTS_PER_CASE, percentile
from tests.factories import World
from tests.service.conftest import CaseDriver
from tests.service.signaling._hub import assign_officer

CLERK_REPORT: dict[str, Any] = {
    "started_at": "2026-11-28T10:00:00+09:00",
    "role": "offerer",
    "signaling_ms": 12.5,
    "ice_ms": 30.0,
    "dtls_ms": 41.0,
    "first_audio_ms": 90.0,
    "local_candidate": "host",
    "remote_candidate": "relay",
}
OFFICER_REPORT: dict[str, Any] = {
    "started_at": "2026-11-28T01:00:00Z",
    "role": "answerer",
    "signaling_ms": 3.0,
    "dtls_ms": 150.0,
    "first_frame_ms": 180.0,
    "local_candidate": "host",
    "remote_candidate": "host",
}


async def _live_case(driver: CaseDriver, sessionmaker: async_sessionmaker[AsyncSession], world: World) -> str:
    case = await driver.create()
    await assign_officer(sessionmaker, case["id"], world.a.usernames[Role.officer])
    return str(case["id"])


async def test_both_sides_report_and_the_officer_and_supervisor_read(
    client: httpx.AsyncClient,
    world: World,
    driver: CaseDriver,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    case_id = await _live_case(driver, sessionmaker, world)
    url = f"/api/v1/cases/{case_id}/connection-metrics"
    clerk = await world.device_a.post(url, json=CLERK_REPORT)
    assert clerk.status_code == 201, clerk.text
    body = clerk.json()
    assert (body["side"], body["role"], body["candidate_pair"]) == ("clerk", "offerer", "relay")
    assert body["dtls_ms"] == 41.0
    officer = await client.post(url, json=OFFICER_REPORT, headers=world.h("a", Role.officer))
    assert officer.status_code == 201, officer.text
    assert (officer.json()["side"], officer.json()["candidate_pair"]) == ("officer", "host")

    for reader in (Role.officer, Role.supervisor):
        listed = await client.get(url, headers=world.h("a", reader))
        assert listed.status_code == 200, listed.text
        items = listed.json()["items"]
        assert [item["side"] for item in items] == ["clerk", "officer"]
        assert items[1]["first_frame_ms"] == 180.0

    # Each report is one audit row: codes and ids only.
    async with sessionmaker() as session:
        events = (
            await session.scalars(
                select(AuditEvent)
                .where(AuditEvent.case_id == case_id, AuditEvent.action == "live.connection_metrics_recorded")
                .order_by(AuditEvent.id)  # without it PostgreSQL may return the rows in any order
            )
        ).all()
    assert [(e.actor_kind, e.object_type, e.reason_code) for e in events] == [
        ("device", "connection_metric", "relay"),
        ("account", "connection_metric", "host"),
    ]
    assert {e.object_id for e in events} == {body["id"], officer.json()["id"]}


async def test_only_the_participants_report(
    client: httpx.AsyncClient,
    world: World,
    driver: CaseDriver,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    case = await driver.create()
    url = f"/api/v1/cases/{case['id']}/connection-metrics"
    # No officer assigned yet: the municipality's officer is no participant, and learns nothing.
    assert (
        await client.post(url, json=OFFICER_REPORT, headers=world.h("a", Role.officer))
    ).status_code == 404
    await assign_officer(sessionmaker, case["id"], world.a.usernames[Role.officer])
    for role in (Role.supervisor, Role.clerk):
        response = await client.post(url, json=OFFICER_REPORT, headers=world.h("a", role))
        assert response.status_code == 404, (role, response.text)
    assert (await world.device_b.post(url, json=CLERK_REPORT)).status_code == 404
    # The clerk's own login reads no metrics (evidence readers only).
    assert (await client.get(url, headers=world.h("a", Role.clerk))).status_code in (403, 404)
    assert (await client.get(url, headers=world.h("b", Role.supervisor))).status_code == 404
    assert (await client.get(url, headers=world.h("a", Role.supervisor))).json() == {"items": []}


async def test_malformed_reports_are_refused(
    world: World, driver: CaseDriver, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    case_id = await _live_case(driver, sessionmaker, world)
    url = f"/api/v1/cases/{case_id}/connection-metrics"
    bad_reports: list[dict[str, Any]] = [
        {**CLERK_REPORT, "ice_ms": -1},
        {**CLERK_REPORT, "local_candidate": "10.0.0.1"},  # an address is no candidate type
        {**CLERK_REPORT, "remote_address": "192.0.2.9"},  # unknown fields are refused, not stored
        {**CLERK_REPORT, "started_at": "2026-11-28T10:00:00"},  # naive time
        {"role": "offerer"},
    ]
    for report in bad_reports:
        response = await world.device_a.post(url, json=report)
        assert response.status_code == 422, (report, response.text)


async def test_a_flood_of_reports_is_capped(
    world: World, driver: CaseDriver, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    case_id = await _live_case(driver, sessionmaker, world)
    url = f"/api/v1/cases/{case_id}/connection-metrics"
    for _ in range(MAX_REPORTS_PER_CASE):
        assert (await world.device_a.post(url, json=CLERK_REPORT)).status_code == 201
    refused = await world.device_a.post(url, json=CLERK_REPORT)
    assert refused.status_code == 409
    assert refused.json()["code"] == "connection_metrics_limit"


async def test_summary_aggregates_the_own_municipality_only(
    client: httpx.AsyncClient,
    world: World,
    driver: CaseDriver,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    for dtls in (40.0, 60.0, 500.0):
        case_id = await _live_case(driver, sessionmaker, world)
        report = {**CLERK_REPORT, "dtls_ms": dtls}
        assert (
            await world.device_a.post(f"/api/v1/cases/{case_id}/connection-metrics", json=report)
        ).status_code == 201
    summary = await client.get("/api/v1/connection-metrics/summary", headers=world.h("a", Role.supervisor))
    assert summary.status_code == 200, summary.text
    body = summary.json()
    assert (body["reports"], body["connected"]) == (3, 3)
    assert body["dtls"] == {"count": 3, "median_ms": 60.0, "p95_ms": 500.0}
    assert body["first_frame"] == {"count": 0, "median_ms": None, "p95_ms": None}
    assert body["candidate_pairs"] == {"relay": 3}
    officer_side = await client.get(
        "/api/v1/connection-metrics/summary?side=officer", headers=world.h("a", Role.officer)
    )
    assert officer_side.json()["reports"] == 0
    other = await client.get("/api/v1/connection-metrics/summary", headers=world.h("b", Role.supervisor))
    assert other.json()["reports"] == 0
    for refused in (world.h("a", Role.clerk), world.h("a", Role.auditor), world.admin_headers):
        assert (await client.get("/api/v1/connection-metrics/summary", headers=refused)).status_code == 403
    assert (await world.device_a.get("/api/v1/connection-metrics/summary")).status_code == 403


def test_percentile_is_nearest_rank() -> None:
    assert percentile([], 0.5) is None
    assert percentile([5.0], 0.95) == 5.0
    values = [float(v) for v in range(1, 21)]
    assert percentile(values, 0.5) == 10.0
    assert percentile(values, 0.95) == 19.0
