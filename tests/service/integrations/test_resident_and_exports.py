"""The officer's resident-record check (match result only, audited) and the municipality's case exports."""

from __future__ import annotations

import csv
import io
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.accounts.roles import Role
from service.audit.models import AuditEvent
from service.integrations.resident import PresentedAttributes, ResidentRegistrySimulator
from tests.factories import World
from tests.service.conftest import CaseDriver
from tests.service.db_snapshot import snapshot

RECORD = PresentedAttributes(
    name="試験 花子", birth_date="1990-04-01", sex="female", address="架空市架空町一丁目2番3号"
)


def presented(**changes: str) -> dict[str, Any]:
    body = {
        "name": "試験　花子",
        "birth_date": "1990-04-01",
        "sex": "female",
        "address": "架空市架空町一丁目2番3号",
    }
    body.update(changes)
    return body


async def test_resident_check_keeps_match_results_only(
    app: FastAPI,
    client: httpx.AsyncClient,
    world: World,
    driver: CaseDriver,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    case = await driver.to_review()
    registry = app.state.integrations.resident
    assert isinstance(registry, ResidentRegistrySimulator)
    registry.add(
        municipality_code=world.a.municipality_code, shinseisho_id=case["shinseisho_id"], record=RECORD
    )
    url = f"/api/v1/cases/{case['id']}/resident-checks"
    officer = world.h("a", Role.officer)

    match = await client.post(url, json=presented(), headers=officer)
    assert match.status_code == 201, match.text
    assert match.json()["record_found"] is True
    assert set(match.json()["results"].values()) == {"match"}  # full-width space and NFKC forms compare equal
    moved = await client.post(url, json=presented(address="別市別町9-9"), headers=officer)
    assert moved.json()["results"] == {
        "name": "match",
        "birth_date": "match",
        "sex": "match",
        "address": "mismatch",
    }

    # Nothing the officer typed, and nothing of the record, is stored anywhere in the hub.
    rows = str(await snapshot(sessionmaker))
    for value in ("花子", "1990-04-01", "架空市", "別市", "female"):
        assert value not in rows, value
    async with sessionmaker() as session:
        audited = (
            await session.execute(
                select(AuditEvent.action, AuditEvent.reason_code)
                .where(AuditEvent.case_id == case["id"], AuditEvent.action.like("resident_check.%"))
                .order_by(AuditEvent.id)
            )
        ).all()
    assert [tuple(a) for a in audited] == [
        ("resident_check.lookup", "match"),
        ("resident_check.lookup", "mismatch:address"),
    ]

    # Only the assigned officer looks up; a supervisor may read the results; others may do neither.
    other = await driver.new_officer("officer-99001-b")
    for headers, expected in (
        (other, 403),
        (world.h("a", Role.supervisor), 403),
        (world.h("a", Role.auditor), 403),
        (world.api_key("a"), 403),
    ):
        assert (await client.post(url, json=presented(), headers=headers)).status_code == expected
    read = await client.get(url, headers=world.h("a", Role.supervisor))
    assert read.status_code == 200
    assert [r["record_found"] for r in read.json()] == [True, True]
    assert (await client.get(url, headers=other)).status_code == 403

    decided = await driver.officer(case["id"], "approve", attested=True)
    closed = await client.post(
        f"/api/v1/cases/{decided['id']}/resident-checks", json=presented(), headers=officer
    )
    assert closed.status_code == 409

    unknown = await driver.to_review()
    missing = await client.post(
        f"/api/v1/cases/{unknown['id']}/resident-checks", json=presented(), headers=officer
    )
    assert missing.json() == {**missing.json(), "record_found": False, "results": {}}


async def test_exports_are_minimised_and_audited(
    client: httpx.AsyncClient,
    world: World,
    driver: CaseDriver,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    case = await driver.to_review()
    decided = await driver.officer(case["id"], "reject", attested=True, reason_code="document_expired")
    csv_response = await client.get("/api/v1/exports/cases", headers=world.api_key("a", readonly=True))
    assert csv_response.status_code == 200, csv_response.text
    assert csv_response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(csv_response.text)))
    assert [r["case_id"] for r in rows] == [case["id"]]
    assert rows[0]["reference"] == case["reference"]
    assert rows[0]["state"] == "rejected"
    assert rows[0]["reason_code"] == "document_expired"
    assert decided["shinseisho_id"] not in csv_response.text
    assert world.a.device_id not in csv_response.text

    json_response = await client.get(
        "/api/v1/exports/cases", params={"format": "json"}, headers=world.h("a", Role.supervisor)
    )
    assert json_response.status_code == 200
    assert [c["case_id"] for c in json_response.json()["cases"]] == [case["id"]]
    assert set(json_response.json()["cases"][0]) == set(rows[0])

    empty = await client.get(
        "/api/v1/exports/cases", params={"from": "2020-01-01", "to": "2020-01-31"}, headers=world.api_key("a")
    )
    assert list(csv.DictReader(io.StringIO(empty.text))) == []
    backwards = await client.get(
        "/api/v1/exports/cases", params={"from": "2020-02-01", "to": "2020-01-01"}, headers=world.api_key("a")
    )
    assert backwards.status_code == 422
    for role in (Role.officer, Role.auditor, Role.clerk):
        assert (await client.get("/api/v1/exports/cases", headers=world.h("a", role))).status_code == 403
    async with sessionmaker() as session:
        exports = (
            (await session.execute(select(AuditEvent.actor_kind).where(AuditEvent.action == "export.cases")))
            .scalars()
            .all()
        )
    assert sorted(exports) == ["account", "integration", "integration"]
