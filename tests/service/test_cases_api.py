"""Case creation and actions through the API: guards, bad input that changes nothing, idempotency, pagination."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.accounts.roles import Role
from service.audit.models import AuditEvent
from service.config import Settings
from service.kit import clock
from tests.factories import World, device_client, make_tenant, shinseisho_id
from tests.service.conftest import CONSENTS, ELIGIBLE, CaseDriver
from tests.service.db_snapshot import snapshot


async def _refused_without_change(
    sessionmaker: async_sessionmaker[AsyncSession], send: Any, status: int, code: str | None = None
) -> dict[str, Any]:
    before = await snapshot(sessionmaker)
    response: httpx.Response = await send()
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    if code is not None:
        assert response.json()["code"] == code, response.json()
    assert await snapshot(sessionmaker) == before, "a refused request changed the database"
    return dict(response.json())


@pytest.mark.parametrize(
    "shinseisho",
    # Arabic-Indic digits pass str.isdigit() but are no 申請書ID; NFKC leaves them as they are.
    ["1234", "1" * 22, "1" * 24, "1234567890123456789012a", "\u0661" * 23, "1234_5678901234567890123"],
)
async def test_malformed_shinseisho_id(
    world: World, sessionmaker: async_sessionmaker[AsyncSession], shinseisho: str
) -> None:
    body = {
        "municipality_code": world.a.municipality_code,
        "procedure": "card_application",
        "shinseisho_id": shinseisho,
    }
    problem = await _refused_without_change(
        sessionmaker, lambda: world.device_a.post("/api/v1/cases", json=body), 422, "validation_error"
    )
    assert problem["errors"][0]["loc"][-1] == "shinseisho_id"


@pytest.mark.parametrize(
    "typed",
    [
        "１２３４５６７８９０１２３４５６７８９０１２３",  # full-width, as a Japanese IME types it
        "1234 5678 9012 3456 7890 123",
        "1234-5678-9012-3456-7890-123",
        "１２３４－５６７８　９０１２ー３４５６‐７８９０１２３",
    ],
)
async def test_shinseisho_id_as_typed_is_cleaned(world: World, typed: str) -> None:
    """Failed before: full-width digits, spaces and hyphens were refused with a validation_error."""
    body = {
        "municipality_code": world.a.municipality_code,
        "procedure": "card_application",
        "shinseisho_id": typed,
    }
    created = await world.device_a.post("/api/v1/cases", json=body)
    assert created.status_code == 201, created.text
    assert created.json()["shinseisho_id"] == "12345678901234567890123"


async def test_card_application_requires_shinseisho_id(
    world: World, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    body = {"municipality_code": world.a.municipality_code, "procedure": "card_application"}
    await _refused_without_change(
        sessionmaker, lambda: world.device_a.post("/api/v1/cases", json=body), 422, "invalid_case"
    )


async def test_unknown_procedure(world: World, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    body = {"municipality_code": world.a.municipality_code, "procedure": "passport_application"}
    await _refused_without_change(
        sessionmaker, lambda: world.device_a.post("/api/v1/cases", json=body), 422, "validation_error"
    )


async def test_other_municipality_not_designated_here(
    world: World, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    body = {"municipality_code": world.b.municipality_code, "procedure": "pin_reset"}
    await _refused_without_change(
        sessionmaker, lambda: world.device_a.post("/api/v1/cases", json=body), 409, "designation_not_in_force"
    )


async def test_duplicate_active_shinseisho_id(
    world: World, driver: CaseDriver, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    case = await driver.create()
    body = {
        "municipality_code": world.a.municipality_code,
        "procedure": "card_renewal",
        "shinseisho_id": case["shinseisho_id"],
    }
    await _refused_without_change(
        sessionmaker, lambda: world.device_a.post("/api/v1/cases", json=body), 409, "shinseisho_id_in_use"
    )
    # Once the first case ends, the 申請書ID may be used again.
    await driver.device(case["id"], "withdraw", reason_code="applicant_request")
    again = await world.device_a.post("/api/v1/cases", json=body)
    assert again.status_code == 201


async def test_transition_from_wrong_state(
    world: World, driver: CaseDriver, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    case = await driver.create()
    await _refused_without_change(
        sessionmaker,
        lambda: world.device_a.post(f"/api/v1/cases/{case['id']}/request-verification", json={}),
        409,
        "invalid_transition",
    )


async def test_request_verification_needs_eligibility(
    world: World, driver: CaseDriver, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    case = await driver.create()
    await driver.device(case["id"], "check-in")
    answers = {**ELIGIBLE, "proxy_applicant": True}
    checked = await driver.device(case["id"], "precheck", answers=answers)
    assert checked["precheck"]["eligible"] is False
    assert checked["precheck"]["reasons"] == ["proxy_not_allowed"]
    problem = await _refused_without_change(
        sessionmaker,
        lambda: world.device_a.post(f"/api/v1/cases/{case['id']}/request-verification", json={}),
        409,
        "not_eligible",
    )
    assert "proxy_not_allowed" in problem["detail"]


async def test_clerk_and_device_can_never_decide(
    client: httpx.AsyncClient,
    world: World,
    driver: CaseDriver,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    case = await driver.to_review()
    for send in (
        lambda: world.device_a.post(f"/api/v1/cases/{case['id']}/approve", json={"attested": True}),
        lambda: client.post(
            f"/api/v1/cases/{case['id']}/approve", json={"attested": True}, headers=world.h("a", Role.clerk)
        ),
        lambda: client.post(
            f"/api/v1/cases/{case['id']}/approve",
            json={"attested": True},
            headers=world.h("a", Role.supervisor),
        ),
    ):
        await _refused_without_change(sessionmaker, send, 403)


async def test_other_officer_of_same_municipality_cannot_decide(
    client: httpx.AsyncClient,
    world: World,
    driver: CaseDriver,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    from tests.factories import login

    case = await driver.to_review()
    other = await client.post(
        "/api/v1/accounts",
        json={
            "username": "officer-two",
            "display_name": "二人目",
            "role": "officer",
            "password": "correct-horse-battery-staple",
            "municipality_code": world.a.municipality_code,
        },
        headers=world.admin_headers,
    )
    assert other.status_code == 201
    activated = await client.post(
        f"/api/v1/accounts/{other.json()['id']}/activate", headers=world.h("a", Role.supervisor)
    )
    assert activated.status_code == 200
    headers = await login(client, "officer-two")
    await _refused_without_change(
        sessionmaker,
        lambda: client.post(f"/api/v1/cases/{case['id']}/approve", json={"attested": True}, headers=headers),
        403,
        "not_assigned",
    )


async def test_decision_needs_attestation_and_reason_code(
    world: World,
    driver: CaseDriver,
    client: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    case = await driver.to_review()
    h = world.h("a", Role.officer)
    url = f"/api/v1/cases/{case['id']}"
    await _refused_without_change(
        sessionmaker, lambda: client.post(f"{url}/approve", json={}, headers=h), 422, "attestation_required"
    )
    await _refused_without_change(
        sessionmaker,
        lambda: client.post(f"{url}/reject", json={"attested": True}, headers=h),
        422,
        "reason_code_invalid",
    )
    await _refused_without_change(
        sessionmaker,
        lambda: client.post(f"{url}/reject", json={"attested": True, "reason_code": "bad_hair"}, headers=h),
        422,
        "reason_code_invalid",
    )
    await _refused_without_change(
        sessionmaker,
        lambda: client.post(f"{url}/approve", json={"attested": True, "note": "free text"}, headers=h),
        422,
        "validation_error",
    )
    rejected = await driver.officer(case["id"], "reject", attested=True, reason_code="face_mismatch")
    assert rejected["state"] == "rejected"
    assert rejected["reason_code"] == "face_mismatch"


async def test_expected_version_conflict(
    world: World, driver: CaseDriver, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    case = await driver.create()
    await _refused_without_change(
        sessionmaker,
        lambda: world.device_a.post(
            f"/api/v1/cases/{case['id']}/check-in", json={"expected_version": case["version"] + 1}
        ),
        409,
        "version_conflict",
    )
    moved = await driver.device(case["id"], "check-in", expected_version=case["version"])
    assert moved["version"] == case["version"] + 1


async def test_expired_designation_refuses_counter_steps(
    app: object,
    client: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    world: World,
) -> None:
    today = clock.now().date()
    old = await make_tenant(
        sessionmaker, settings, prefix="99003", name="丙村", office_code="99103",
        valid_from=today - dt.timedelta(days=400), valid_until=today - dt.timedelta(days=1),
    )  # fmt: skip
    async with device_client(app, old) as device:
        body = {"municipality_code": old.municipality_code, "procedure": "pin_reset"}
        await _refused_without_change(
            sessionmaker, lambda: device.post("/api/v1/cases", json=body), 409, "designation_not_in_force"
        )


async def test_outside_opening_hours(
    app: object, sessionmaker: async_sessionmaker[AsyncSession], settings: Settings, world: World
) -> None:
    closed = await make_tenant(
        sessionmaker, settings, prefix="99004", name="丁村", office_code="99104", opening_hours={}
    )
    async with device_client(app, closed) as device:
        body = {"municipality_code": closed.municipality_code, "procedure": "pin_reset"}
        await _refused_without_change(
            sessionmaker, lambda: device.post("/api/v1/cases", json=body), 409, "designation_not_in_force"
        )


async def test_procedure_not_designated(
    app: object, sessionmaker: async_sessionmaker[AsyncSession], settings: Settings, world: World
) -> None:
    from service.tenancy.codes import Procedure

    narrow = await make_tenant(
        sessionmaker,
        settings,
        prefix="99005",
        name="戊町",
        office_code="99105",
        procedures=[Procedure.pin_reset],
    )
    async with device_client(app, narrow) as device:
        body = {
            "municipality_code": narrow.municipality_code,
            "procedure": "card_application",
            "shinseisho_id": shinseisho_id(),
        }
        await _refused_without_change(
            sessionmaker, lambda: device.post("/api/v1/cases", json=body), 409, "designation_not_in_force"
        )
        ok = await device.post(
            "/api/v1/cases", json={"municipality_code": narrow.municipality_code, "procedure": "pin_reset"}
        )
        assert ok.status_code == 201


async def test_oversized_body(world: World, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    body = {
        "municipality_code": world.a.municipality_code,
        "procedure": "pin_reset",
        "padding": "x" * 2_000_000,
    }
    await _refused_without_change(
        sessionmaker, lambda: world.device_a.post("/api/v1/cases", json=body), 413, "payload_too_large"
    )


async def test_malformed_json(world: World, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    await _refused_without_change(
        sessionmaker,
        lambda: world.device_a.post(
            "/api/v1/cases", content=b"{not json", headers={"content-type": "application/json"}
        ),
        422,
        "validation_error",
    )


async def test_idempotent_create(world: World, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    body = {
        "municipality_code": world.a.municipality_code,
        "procedure": "card_application",
        "shinseisho_id": shinseisho_id(),
    }
    headers = {"Idempotency-Key": "counter-7f3a-0001"}
    first = await world.device_a.post("/api/v1/cases", json=body, headers=headers)
    second = await world.device_a.post("/api/v1/cases", json=body, headers=headers)
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert second.headers.get("idempotent-replayed") == "true"
    other = {**body, "shinseisho_id": shinseisho_id()}
    await _refused_without_change(
        sessionmaker,
        lambda: world.device_a.post("/api/v1/cases", json=other, headers=headers),
        422,
        "idempotency_key_reused",
    )
    async with sessionmaker() as session:
        created = await session.scalar(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "case.created")
        )
    assert created == 1


async def test_bad_idempotency_key(world: World, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    body = {"municipality_code": world.a.municipality_code, "procedure": "pin_reset"}
    await _refused_without_change(
        sessionmaker,
        lambda: world.device_a.post("/api/v1/cases", json=body, headers={"Idempotency-Key": "short"}),
        400,
    )


async def test_cursor_pagination(world: World, client: httpx.AsyncClient, driver: CaseDriver) -> None:
    created = [(await driver.create("pin_reset"))["id"] for _ in range(7)]
    seen: list[str] = []
    cursor: str | None = None
    while True:
        params: dict[str, str | int] = {"limit": 3}
        if cursor:
            params["cursor"] = cursor
        page = (await client.get("/api/v1/cases", params=params, headers=world.h("a", Role.officer))).json()
        seen += [c["id"] for c in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == sorted(created)
    assert len(seen) == len(set(seen)) == 7
    bad = await client.get("/api/v1/cases", params={"cursor": "garbage!"}, headers=world.h("a", Role.officer))
    assert bad.status_code == 400


async def test_filter_by_state(world: World, client: httpx.AsyncClient, driver: CaseDriver) -> None:
    first = await driver.create("pin_reset")
    await driver.create("pin_reset")
    await driver.device(first["id"], "check-in")
    page = (
        await client.get("/api/v1/cases", params={"state": "checked_in"}, headers=world.h("a", Role.officer))
    ).json()
    assert [c["id"] for c in page["items"]] == [first["id"]]


async def test_application_support_closes_without_officer(world: World, driver: CaseDriver) -> None:
    case = await driver.create("application_support")
    await driver.device(case["id"], "check-in")
    await driver.device(case["id"], "precheck", answers=ELIGIBLE)
    await driver.device(case["id"], "consents", consents=CONSENTS)
    refused = await world.device_a.post(f"/api/v1/cases/{case['id']}/request-verification", json={})
    assert refused.status_code == 409
    assert refused.json()["code"] == "procedure_mismatch"
    closed = await driver.device(case["id"], "complete")
    assert closed["state"] == "closed"


async def test_abort_and_requeue_clears_assignment(world: World, driver: CaseDriver) -> None:
    case = await driver.to_review()
    aborted = await driver.officer(case["id"], "abort", reason_code="network")
    assert aborted["state"] == "aborted"
    requeued = await driver.device(case["id"], "requeue")
    assert requeued["state"] == "queued_for_officer"
    assert requeued["officer_id"] is None


async def test_mailing_lifecycle_by_back_office(
    world: World, driver: CaseDriver, client: httpx.AsyncClient
) -> None:
    case = await driver.to_review()
    await driver.officer(case["id"], "approve", attested=True)
    await driver.finalize(case["id"])
    await driver.officer(case["id"], "submit-to-jlis")
    key = world.api_key("a")
    for action, body in (
        ("record-card-produced", {}),
        ("record-card-received", {}),
        ("record-pre-issue-setup", {}),
        ("record-mailed", {}),
        ("record-returned", {"reason_code": "hold_expired"}),
        ("record-awaiting-pickup", {}),
        ("close", {}),
    ):
        response = await client.post(f"/api/v1/cases/{case['id']}/{action}", json=body, headers=key)
        assert response.status_code == 200, (action, response.text)
    final = (await client.get(f"/api/v1/cases/{case['id']}", headers=key)).json()
    assert final["state"] == "closed"
    assert final["shinseisho_id"] == case["shinseisho_id"]


async def test_readonly_key_cannot_act(world: World, driver: CaseDriver, client: httpx.AsyncClient) -> None:
    case = await driver.create("pin_reset")
    readonly = world.api_key("a", readonly=True)
    assert (await client.get(f"/api/v1/cases/{case['id']}", headers=readonly)).status_code == 200
    assert (
        await client.post(f"/api/v1/cases/{case['id']}/close", json={}, headers=readonly)
    ).status_code == 403
