"""Tenant isolation matrix, generated from the app's route table.

Every /api/v1 route must be classified below; a new route without a class fails `test_every_route_is_classified`.
For each route that reads or changes tenant data, every foreign principal gets 404 (or 403 for roles that never see
that kind of data) and the database does not change.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.accounts.roles import Role
from service.app import create_app
from service.cases.lifecycle import REASONS, TRANSITIONS
from service.cases.router import action_path
from service.config import Settings
from service.kit import clock
from tests.factories import World
from tests.service.api_routes import api_key_routes
from tests.service.conftest import CONSENTS, ELIGIBLE, CaseDriver
from tests.service.db_snapshot import snapshot

CASE_ACTIONS = {f"/api/v1/cases/{{case_id}}/{action_path(a)}": a for a in TRANSITIONS}

# How each route relates to tenants.
EVIDENCE_ROUTES = {
    ("POST", "/api/v1/cases/{case_id}/card-challenges"),
    ("POST", "/api/v1/cases/{case_id}/card-proofs"),
    ("GET", "/api/v1/cases/{case_id}/evidence"),
    ("GET", "/api/v1/cases/{case_id}/evidence/{evidence_id}/card-face"),
    ("POST", "/api/v1/cases/{case_id}/pin-request"),
    ("POST", "/api/v1/cases/{case_id}/stills"),
    ("GET", "/api/v1/cases/{case_id}/stills/{evidence_id}"),
    ("POST", "/api/v1/cases/{case_id}/legal-hold"),
    ("DELETE", "/api/v1/cases/{case_id}/legal-hold"),
    ("POST", "/api/v1/cases/{case_id}/chip-readouts"),
    ("GET", "/api/v1/cases/{case_id}/evidence/{evidence_id}/chip-document"),
}
# The live link's ticket: only the case's clerk device and its assigned officer get one; a foreigner gets 404.
SIGNALING_ROUTES = {("POST", "/api/v1/cases/{case_id}/signaling-ticket")}
# Connection metrics: reported by the case's two participants, read by its officer or a supervisor.
SIGNALING_ROUTES |= {
    ("POST", "/api/v1/cases/{case_id}/connection-metrics"),
    ("GET", "/api/v1/cases/{case_id}/connection-metrics"),
}
# Back office (integration keys) and the officer's resident-record check: case-scoped like the case routes.
INTEGRATION_CASE_ROUTES = {
    ("GET", "/api/v1/integration/cases/{case_id}"),
    ("POST", "/api/v1/integration/cases/{case_id}/acknowledge"),
    ("POST", "/api/v1/integration/cases/{case_id}/jlis-status"),
    ("POST", "/api/v1/integration/cases/{case_id}/mail-dispatch"),
    ("POST", "/api/v1/integration/cases/{case_id}/mail-tracking"),
    ("POST", "/api/v1/integration/cases/{case_id}/address-change"),
    ("GET", "/api/v1/cases/{case_id}/resident-checks"),
    ("POST", "/api/v1/cases/{case_id}/resident-checks"),
}
# The officer queue and review, per case.
REVIEW_AND_QUEUE_CASE_ROUTES = {
    ("GET", "/api/v1/cases/{case_id}/queue-position"),
    ("POST", "/api/v1/cases/{case_id}/reassign"),
    ("GET", "/api/v1/cases/{case_id}/review"),
    ("POST", "/api/v1/cases/{case_id}/liveness-challenges"),
    ("POST", "/api/v1/cases/{case_id}/liveness-challenges/{challenge_id}/result"),
    ("PUT", "/api/v1/cases/{case_id}/checklist"),
    ("POST", "/api/v1/cases/{case_id}/video-status"),
    ("POST", "/api/v1/cases/{case_id}/notes"),
    ("GET", "/api/v1/cases/{case_id}/notes"),
}
# An offer belongs to one officer; anyone else gets 404.
OFFER_ROUTES = {("POST", "/api/v1/offers/{offer_id}/accept"), ("POST", "/api/v1/offers/{offer_id}/decline")}
# Remote card management relayed by the case's own counter device (docs/card-admin.md §Runs).
CARD_ADMIN_ROUTES = {
    ("POST", "/api/v1/cases/{case_id}/card-admin/runs"),
    ("POST", "/api/v1/cases/{case_id}/card-admin/runs/{run_id}/answers"),
    ("GET", "/api/v1/cases/{case_id}/card-admin"),
}
CASE_ROUTES = (
    {
        ("GET", "/api/v1/cases/{case_id}"),
        ("GET", "/api/v1/cases/{case_id}/history"),
        ("GET", "/api/v1/cases/{case_id}/officer"),
    }
    # The applicant's consents, recorded by the case's own counter device (cases/consents.py).
    | {("POST", "/api/v1/cases/{case_id}/consents")}
    # The card work after approval, done by the case's own counter device (service/cardwork).
    | {("POST", f"/api/v1/cases/{{case_id}}/card-work/{part}") for part in ("ecert-plan", "pin-plan", "done")}
    | {("POST", path) for path in CASE_ACTIONS}
    | EVIDENCE_ROUTES
    | REVIEW_AND_QUEUE_CASE_ROUTES
    | SIGNALING_ROUTES
    | INTEGRATION_CASE_ROUTES
    | CARD_ADMIN_ROUTES
)
# Well-formed bodies, so that a refusal is about tenancy and not validation.
ROUTE_BODIES: dict[str, dict[str, Any]] = {
    "/api/v1/cases/{case_id}/pin-request": {"face_auth": True},
    "/api/v1/cases/{case_id}/card-admin/runs": {"operation": "renew_certificates"},
    "/api/v1/cases/{case_id}/card-admin/runs/{run_id}/answers": {"responses": ["9000"]},
    "/api/v1/cases/{case_id}/card-work/ecert-plan": {
        "certificates": ["auth"],
        "requester": "holder",
        "under_15": False,
        "adult_ward": False,
        "basic4_changed": False,
    },
    "/api/v1/cases/{case_id}/card-work/pin-plan": {"pin": "auth", "mode": "change", "requester": "holder"},
    "/api/v1/cases/{case_id}/card-work/done": {"done": ["change_auth"]},
    "/api/v1/cases/{case_id}/consents": {
        "consents": {"recording": "2026-04", "id_copy": "2026-04", "pin_entry": "2026-04"}
    },
    "/api/v1/cases/{case_id}/legal-hold": {"reason_code": "suspected_impersonation"},
    "/api/v1/cases/{case_id}/reassign": {"officer_id": "acct_x", "reason_code": "workload"},
    "/api/v1/cases/{case_id}/liveness-challenges/{challenge_id}/result": {"passed": True},
    "/api/v1/cases/{case_id}/video-status": {"state": "lost"},
    "/api/v1/cases/{case_id}/notes": {"text": "synthetic note"},
    "/api/v1/cases/{case_id}/connection-metrics": {"started_at": "2026-11-28T10:00:00Z", "role": "offerer"},
    "/api/v1/cases/{case_id}/checklist": {
        "id_combination": "A2",
        "face_match": True,
        "attributes_match": True,
        "eligibility_confirmed": True,
        "documents_authentic": True,
    },
    "/api/v1/cases/{case_id}/card-proofs": {
        "challenge_id": "chal_x",
        "certificate": "AA==",
        "signature": "AA==",
        "atr": "3BE0",
    },
    "/api/v1/cases/{case_id}/chip-readouts": {"kind": "passport", "objects": {"SOD": "AA=="}},
    "/api/v1/integration/cases/{case_id}/acknowledge": {"back_office_ref": "KF-1"},
    "/api/v1/integration/cases/{case_id}/jlis-status": {"status": "produced"},
    "/api/v1/integration/cases/{case_id}/mail-dispatch": {"tracking_number": "123456789012"},
    "/api/v1/integration/cases/{case_id}/mail-tracking": {
        "status": "in_transit",
        "occurred_at": "2026-01-05T00:00:00Z",
    },
    "/api/v1/integration/cases/{case_id}/address-change": {"reason_code": "address_change"},
    "/api/v1/cases/{case_id}/resident-checks": {
        "name": "試験 花子",
        "birth_date": "1990-04-01",
        "sex": "female",
        "address": "架空市架空町1-1",
    },
}
TENANT_LISTS = {
    ("GET", "/api/v1/connection-metrics/summary"),
    ("GET", "/api/v1/queue"),
    ("GET", "/api/v1/cases"),
    ("GET", "/api/v1/designations"),
    ("GET", "/api/v1/audit/events"),
    ("GET", "/api/v1/audit/verify"),
    ("GET", "/api/v1/events"),
    ("GET", "/api/v1/exports/cases"),
    ("GET", "/api/v1/integration/finalized-cases"),
    ("GET", "/api/v1/webhook-subscriptions"),
    ("GET", "/api/v1/webhook-deliveries"),
    ("GET", "/api/v1/accounts/pending"),
}
# Activating a pending account: a supervisor or auditor of its own municipality (tests/service/test_account_activation.py).
ACCOUNT_ACTIVATION = {("POST", "/api/v1/accounts/{account_id}/activate")}
DESIGNATION_ROUTES = {("GET", "/api/v1/designations/{designation_id}")}
# A municipality's PIN-sealing key: for its own staff and the devices of offices it designated (else 404).
SEALING_KEY_ROUTES = {("GET", "/api/v1/municipalities/{code}/pin-sealing-key")}
CREATE_CASE = {("POST", "/api/v1/cases")}
# Configuration: the admin's alone, tenant-independent; every other role is refused (checked below).
ADMIN_ONLY = {
    ("POST", "/api/v1/municipalities"),
    ("GET", "/api/v1/municipalities"),
    ("POST", "/api/v1/post-offices"),
    ("PUT", "/api/v1/municipalities/{code}/pin-sealing-key"),
    ("GET", "/api/v1/post-offices"),
    ("POST", "/api/v1/designations"),
    ("POST", "/api/v1/accounts"),
    ("GET", "/api/v1/accounts"),
    ("POST", "/api/v1/devices/enrolment-codes"),
    ("GET", "/api/v1/devices"),
    ("POST", "/api/v1/devices/{device_id}/revoke"),
    ("POST", "/api/v1/integration-clients"),
    ("GET", "/api/v1/integration-clients"),
    ("POST", "/api/v1/integration-clients/{client_id}/keys"),
}
# About the caller only, or credential exchanges: no tenant data of anyone else is reachable.
SELF_OR_PUBLIC = {
    ("POST", "/api/v1/auth/login"),
    ("POST", "/api/v1/auth/refresh"),
    ("POST", "/api/v1/auth/logout"),
    ("GET", "/api/v1/auth/me"),
    ("POST", "/api/v1/auth/totp/setup"),
    ("POST", "/api/v1/auth/totp/confirm"),
    ("POST", "/api/v1/auth/totp/disable"),
    ("GET", "/api/v1/auth/notices"),
    ("POST", "/api/v1/devices/enroll"),
    ("GET", "/api/v1/devices/me"),
    ("PUT", "/api/v1/officers/me/presence"),
    ("GET", "/api/v1/officers/me/offer"),
    ("GET", "/api/v1/reports/scope"),
}
# A municipality's monthly report and its exports: its own supervisors, managers and reports:read keys; another
# municipality's answers 404 like a case (tests/service/test_reports_access.py has the roles).
_MONTH_REPORT = "/api/v1/reports/municipalities/{municipality_code}/months/{month}"
REPORT_ROUTES = {("GET", _MONTH_REPORT)} | {
    ("GET", f"{_MONTH_REPORT}/report.{kind}") for kind in ("xlsx", "csv", "pdf")
}
# The national aggregate: ministry accounts only, no tenant's single case (docs/reports.md §Suppression).
_NATIONAL = "/api/v1/reports/national/months/{month}"
NATIONAL_ROUTES = {("GET", _NATIONAL)} | {
    ("GET", f"{_NATIONAL}/report.{kind}") for kind in ("xlsx", "csv", "pdf")
}
# An integration key with webhooks:manage, for its own municipality only (tests/service/integrations/test_isolation.py).
WEBHOOK_MANAGEMENT = {
    ("POST", "/api/v1/webhook-subscriptions"),
    ("GET", "/api/v1/webhook-subscriptions/{subscription_id}"),
    ("PATCH", "/api/v1/webhook-subscriptions/{subscription_id}"),
    ("POST", "/api/v1/webhook-subscriptions/{subscription_id}/rotate-secret"),
    ("POST", "/api/v1/webhook-deliveries/{delivery_id}/redeliver"),
}
# Certificates at the post office: a device reaches its own office's jobs only (else 404), the municipality's staff
# their own municipality's; verification is public and shows no personal data (tests/service/certificates).
CERTIFICATE_ROUTES = {
    ("GET", "/api/v1/certificates/catalogue"),
    ("POST", "/api/v1/certificates/requests"),
    ("POST", "/api/v1/certificates/requests/{request_id}/proof"),
    ("POST", "/api/v1/certificates/scans"),
    ("GET", "/api/v1/certificates/jobs/{job_id}"),
    ("GET", "/api/v1/certificates/jobs/{job_id}/document"),
    *(
        ("POST", f"/api/v1/certificates/jobs/{{job_id}}/{step}")
        for step in (
            "printed",
            "print-failed",
            "reprint",
            "fee",
            "hand-over",
            "void",
            "refund-request",
            "refund",
        )
    ),
    ("GET", "/api/v1/certificates/ledger"),
    ("GET", "/api/v1/municipalities/{code}/certificates/settlement"),
    ("GET", "/api/v1/municipalities/{code}/certificates/settlement.pdf"),
    ("GET", "/api/v1/municipalities/{code}/certificate-config"),
    ("PUT", "/api/v1/municipalities/{code}/certificate-config"),
    ("GET", "/api/v1/verify/{code}"),
    ("POST", "/api/v1/verify/pdf"),
}
# Outreach booths: a municipality's own officers and supervisors (another's booth is a 404), the booth laptop its own
# session only (404 for any other device), forwarding set by the admin (tests/service/test_booths.py).
BOOTH_ROUTES = {
    ("POST", "/api/v1/booths"),
    ("GET", "/api/v1/booths"),
    ("GET", "/api/v1/booths/{booth_id}"),
    ("POST", "/api/v1/booths/{booth_id}/slots/{slot_id}/bookings"),
    ("PUT", "/api/v1/municipalities/{code}/booth-forwarding"),
    ("POST", "/api/v1/booth-sessions"),
    ("GET", "/api/v1/booth-sessions/{session_id}"),
    ("POST", "/api/v1/booth-sessions/{session_id}/pending"),
    ("GET", "/api/v1/booth-sessions/{session_id}/pending"),
    ("POST", "/api/v1/booth-sessions/{session_id}/cases"),
    ("GET", "/api/v1/booth-sessions/{session_id}/cases"),
    ("POST", "/api/v1/booth-sessions/{session_id}/revoke"),
}
CLASSIFIED = (
    BOOTH_ROUTES
    | CERTIFICATE_ROUTES
    | SEALING_KEY_ROUTES
    | OFFER_ROUTES
    | WEBHOOK_MANAGEMENT
    | CASE_ROUTES
    | TENANT_LISTS
    | DESIGNATION_ROUTES
    | CREATE_CASE
    | ADMIN_ONLY
    | SELF_OR_PUBLIC
    | ACCOUNT_ACTIVATION
    | REPORT_ROUTES
    | NATIONAL_ROUTES
)


def _api_routes() -> set[tuple[str, str]]:
    """Every (method, path) the app serves under /api/, read from the OpenAPI document the route table generates."""
    app = create_app(Settings(), check_migrations=False)
    paths = app.openapi()["paths"]
    return {
        (method.upper(), path) for path, ops in paths.items() if path.startswith("/api/") for method in ops
    }


ROUTES = _api_routes()


def test_every_route_is_classified() -> None:
    unclassified = ROUTES - CLASSIFIED
    assert not unclassified, (
        f"routes without an isolation class (add them to this test): {sorted(unclassified)}"
    )
    assert not CLASSIFIED - ROUTES, f"classified routes that no longer exist: {sorted(CLASSIFIED - ROUTES)}"


Caller = Callable[[str, str, Any], Awaitable[httpx.Response]]


def _foreign_callers(client: httpx.AsyncClient, world: World) -> dict[str, Caller]:
    """Everyone who must not reach tenant A's data: tenant B's every role, device and integration key, and A's admin-like roles."""

    def bearer(headers: dict[str, str]) -> Caller:
        async def call(method: str, url: str, body: Any) -> httpx.Response:
            return await client.request(method, url, json=body, headers=headers)

        return call

    async def device_b(method: str, url: str, body: Any) -> httpx.Response:
        return await world.device_b.request(method, url, json=body)

    callers: dict[str, Caller] = {
        # The roles the world logs in (the reports' manager and ministry: tests/service/test_reports_access.py).
        f"b:{role.value}": bearer(headers)
        for (tenant, role), headers in world.headers.items()
        if tenant == "b"
    }
    callers["b:device"] = device_b
    callers["b:integration"] = bearer(world.api_key("b"))
    callers["admin"] = bearer(world.admin_headers)
    callers["a:auditor"] = bearer(world.h("a", Role.auditor))
    return callers


# Roles that never see cases at all answer 403 (role), everyone else 404 (tenant): never 2xx.
ROLE_REFUSED = {"b:auditor", "admin", "a:auditor"}


@functools.cache
def _key_routes() -> set[tuple[str, str]]:
    """Routes that take an API key; the others refuse any key with 403 before looking at the case."""
    return api_key_routes(create_app(Settings(), check_migrations=False))


def _action_body(path: str) -> dict[str, Any] | None:
    if path in ROUTE_BODIES:
        return ROUTE_BODIES[path]
    if path not in CASE_ACTIONS:
        return None
    action = CASE_ACTIONS[path]
    body: dict[str, Any] = {"attested": True}
    if action in REASONS:
        body["reason_code"] = sorted(REASONS[action])[0]
    if action.value == "precheck":
        body["answers"] = ELIGIBLE
    return body


@pytest.mark.parametrize(("method", "path"), sorted(CASE_ROUTES))
async def test_foreign_case_is_404(
    client: httpx.AsyncClient,
    world: World,
    driver: CaseDriver,
    sessionmaker: async_sessionmaker[AsyncSession],
    method: str,
    path: str,
) -> None:
    case = await driver.to_review()
    url = (
        path.replace("{case_id}", case["id"])
        .replace("{evidence_id}", "evd_x")
        .replace("{challenge_id}", "live_x")
        .replace("{run_id}", "car_x")
    )
    if path.endswith("/stills"):
        url += "?kind=document_front"
    body = _action_body(path) if method in ("POST", "PUT") else None
    before = await snapshot(sessionmaker)
    for name, call in _foreign_callers(client, world).items():
        response = await call(method, url, body)
        expected = (
            {403}
            if name in ROLE_REFUSED or (name == "b:integration" and (method, path) not in _key_routes())
            else {404, 403}
            if name == "b:clerk" and method != "GET"
            else {404}
        )
        assert response.status_code in expected, (name, method, url, response.status_code, response.text)
        assert case["id"] not in response.text
    assert await snapshot(sessionmaker) == before
    # The case is there for its owner: the 404s above are about tenancy, not a missing case.
    owner = await client.get(f"/api/v1/cases/{case['id']}", headers=world.h("a", Role.officer))
    assert owner.status_code == 200


@pytest.mark.parametrize(("method", "path"), sorted(TENANT_LISTS))
async def test_lists_hold_no_foreign_rows(
    client: httpx.AsyncClient, world: World, driver: CaseDriver, method: str, path: str
) -> None:
    case = await driver.to_review()
    for name, call in _foreign_callers(client, world).items():
        response = await call(method, path, None)
        if name == "a:auditor" and path.startswith("/api/v1/audit/"):
            # A's own auditor is the positive control: the trail is there, and it is A's.
            assert response.status_code == 200
            assert path.endswith("verify") or case["id"] in response.text
            continue
        if response.status_code == 403:
            continue
        assert response.status_code == 200, (name, path, response.text)
        text = response.text
        assert case["id"] not in text, (name, path)
        if name.startswith("b:"):
            assert world.a.designation_id not in text, (name, path)
            assert world.a.municipality_code not in text, (name, path)


async def test_foreign_designation_is_404(client: httpx.AsyncClient, world: World) -> None:
    url = f"/api/v1/designations/{world.a.designation_id}"
    for name, call in _foreign_callers(client, world).items():
        if name in ("admin", "a:auditor"):
            continue  # the admin configures designations; A's auditor belongs to A
        response = await call("GET", url, None)
        # An API key is refused before the designation is looked up: the answer is the same for every id.
        expected = 403 if name == "b:integration" else 404
        assert response.status_code == expected, (name, response.text)
    assert (await client.get(url, headers=world.h("a", Role.officer))).status_code == 200
    assert (await world.device_a.get(url)).status_code == 200


async def test_foreign_reports_are_404_and_the_national_view_is_the_ministrys(
    client: httpx.AsyncClient, world: World, driver: CaseDriver
) -> None:
    """One world for every report route (each is a GET that changes nothing)."""
    case = await driver.to_review()
    month = f"{clock.now().astimezone(ZoneInfo('Asia/Tokyo')):%Y-%m}"
    callers = _foreign_callers(client, world)
    for method, path in sorted(REPORT_ROUTES | NATIONAL_ROUTES):
        url = path.replace("{municipality_code}", world.a.municipality_code).replace("{month}", month)
        for name, call in callers.items():
            response = await call(method, url, None)
            # B's supervisor reads reports, but not A's: 404. Every other caller here reads no such report: 403.
            expected = 404 if name == "b:supervisor" and (method, path) in REPORT_ROUTES else 403
            assert response.status_code == expected, (name, url, response.status_code, response.text)
            assert case["id"] not in response.text
        owner = await client.get(url, headers=world.h("a", Role.supervisor))
        assert owner.status_code == (200 if (method, path) in REPORT_ROUTES else 403), url


async def test_device_cannot_open_case_for_undesignating_municipality(
    world: World, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    before = await snapshot(sessionmaker)
    response = await world.device_b.post(
        "/api/v1/cases", json={"municipality_code": world.a.municipality_code, "procedure": "pin_reset"}
    )
    assert response.status_code == 409
    assert await snapshot(sessionmaker) == before


async def test_only_devices_open_cases(client: httpx.AsyncClient, world: World) -> None:
    body = {"municipality_code": world.a.municipality_code, "procedure": "pin_reset"}
    for headers in [h for (tenant, _), h in world.headers.items() if tenant == "a"] + [
        world.admin_headers,
        world.api_key("a"),
    ]:
        assert (await client.post("/api/v1/cases", json=body, headers=headers)).status_code == 403


@pytest.mark.parametrize(("method", "path"), sorted(ADMIN_ONLY))
async def test_configuration_is_admin_only(
    client: httpx.AsyncClient,
    world: World,
    method: str,
    path: str,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    url = (
        path.replace("{device_id}", world.a.device_id)
        .replace("{client_id}", "intc_x")
        .replace("{code}", world.a.municipality_code)
    )
    before = await snapshot(sessionmaker)
    for name, call in _foreign_callers(client, world).items():
        if name == "admin":
            continue
        response = await call(method, url, {} if method == "POST" else None)
        assert response.status_code in (403, 422), (name, url, response.text)
        if response.status_code == 422:
            # Validation ran first: make sure a valid body is refused by role too.
            assert method == "POST"
    assert await snapshot(sessionmaker) == before


@pytest.mark.parametrize(("method", "path"), sorted(OFFER_ROUTES))
async def test_someone_elses_offer_is_404(
    client: httpx.AsyncClient,
    world: World,
    driver: CaseDriver,
    sessionmaker: async_sessionmaker[AsyncSession],
    method: str,
    path: str,
) -> None:
    officer = world.h("a", Role.officer)
    presence = await client.put("/api/v1/officers/me/presence", json={"status": "available"}, headers=officer)
    assert presence.status_code == 200
    case = await driver.create("pin_reset")
    await driver.device(case["id"], "check-in")
    await driver.device(case["id"], "precheck", answers=ELIGIBLE)
    await driver.device(case["id"], "consents", consents=CONSENTS)
    await driver.device(case["id"], "request-verification")
    offer = (await client.get("/api/v1/officers/me/offer", headers=officer)).json()
    url = path.replace("{offer_id}", offer["id"])
    body = {"reason": "other"} if path.endswith("decline") else None
    rival = await driver.new_officer("officer-rival")
    before = await snapshot(sessionmaker)
    for name, call in _foreign_callers(client, world).items():
        response = await call(method, url, body)
        assert response.status_code in ({404} if name == "b:officer" else {403, 404}), (name, response.text)
    # Another officer of the same municipality cannot take or decline it either.
    assert (await client.request(method, url, json=body, headers=rival)).status_code == 404
    assert await snapshot(sessionmaker) == before


async def test_sealing_key_only_for_its_municipality(client: httpx.AsyncClient, world: World) -> None:
    key = "A" * 43
    put = await client.put(
        f"/api/v1/municipalities/{world.a.municipality_code}/pin-sealing-key",
        json={"public_key": key},
        headers=world.admin_headers,
    )
    assert put.status_code == 200, put.text
    url = f"/api/v1/municipalities/{world.a.municipality_code}/pin-sealing-key"
    assert (await world.device_a.get(url)).status_code == 200
    assert (await client.get(url, headers=world.h("a", Role.officer))).status_code == 200
    assert (await world.device_b.get(url)).status_code == 404
    for role in (Role.officer, Role.supervisor, Role.clerk, Role.auditor):
        assert (await client.get(url, headers=world.h("b", role))).status_code == 404, role
