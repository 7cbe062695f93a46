"""schemathesis against the hub's OpenAPI document: every operation, real authentication, no 5xx, no schema violation.

The cases come from schemathesis' Hypothesis strategies (positive and negative data, derandomized, a fixed number per
operation and mode) and are sent in process to the app under test through httpx, in the test's own event loop, so the
run shares the database fixtures of the other hub tests and runs on PostgreSQL too (HUB_TEST_DB=postgresql).

Authentication is real: each operation is sent as the first principal the hub does not refuse with 401/403, tried in
the order officer, clerk-agent device (signed requests, service/wire/device_auth.py), integration API key (cases, then
webhooks), admin, supervisor, auditor (`_principal_for`); every operation that declares security must first refuse an
anonymous request with 401. Half of the cases with path parameters get real ids of tenant A (a case in
review, a draft, an approved case, its evidence, a liveness challenge, a spare device and integration client, …), so
they reach the handlers' logic instead of stopping at 404. Operations that end a credential (logout, device revoke)
get credentials of their own.

Every response must pass schemathesis' checks: not a server error, a documented status code, the documented content
type, a body and headers that match the schema. The run's size (operations, cases) is printed at the end.
"""

from __future__ import annotations

import base64
import json
import os
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import hypothesis
import hypothesis.errors
import pytest
import schemathesis
from schemathesis import Case, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from clerk_agent.link.auth import DeviceAuth
from service.accounts import service as accounts_service
from service.accounts import sessions
from service.accounts.roles import SYSTEM, Role, Scope
from service.config import Settings
from service.db import unit_of_work
from service.kit import clock
from service.wire import device_auth
from tests.factories import PASSWORD, World
from tests.service._examples import fixed_examples
from tests.service.conftest import CaseDriver

pytestmark = pytest.mark.slow

Operation = schemathesis.APIOperation[Any, Any, Any, Any]
AnyCase = Case[Operation]

# Cases per operation and generation mode; 97 operations × 2 modes × this ≈ the run's size.
MAX_EXAMPLES = int(os.environ.get("HUB_SCHEMATHESIS_EXAMPLES", "6"))
BASE_URL = "http://hub.test"
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]
# Headers the fuzzer may generate that would replace the principal's credentials.
AUTH_HEADERS = {"authorization", *(h.lower() for h in (device_auth.HEADER_ID, device_auth.HEADER_SIGNATURE))}


@dataclass
class Principal:
    """Credentials to send a case with: bearer/API-key headers, or device signing."""

    name: str
    headers: dict[str, str] = field(default_factory=dict)
    auth: httpx.Auth | None = None


@dataclass
class RunStats:
    """What the run sent and got."""

    operations: int = 0
    cases: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    principals: Counter[str] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    distinct: set[str] = field(default_factory=set)


def _generate(operation: Operation, mode: GenerationMode) -> list[AnyCase]:
    """Up to MAX_EXAMPLES cases of the operation, the same ones every run."""
    try:
        return fixed_examples(operation.as_strategy(generation_mode=mode), MAX_EXAMPLES)
    except hypothesis.errors.Unsatisfiable:  # nothing to negate: no parameters and no body
        assert mode is GenerationMode.NEGATIVE, operation.label
        return []


async def _send(client: httpx.AsyncClient, case: AnyCase, principal: Principal) -> httpx.Response:
    """Send the case through the in-process client as `principal`."""
    kwargs = case.as_transport_kwargs(base_url=BASE_URL)
    headers = {k: str(v) for k, v in (kwargs.get("headers") or {}).items() if k.lower() not in AUTH_HEADERS}
    headers.update(principal.headers)
    request: dict[str, Any] = {
        "params": kwargs.get("params"),
        "headers": headers,
        "cookies": kwargs.get("cookies") or None,
    }
    if "json" in kwargs:
        request["json"] = kwargs["json"]
    elif kwargs.get("data") is not None:
        data = kwargs["data"]
        request["content" if isinstance(data, (bytes, str)) else "data"] = data
    if kwargs.get("files"):
        request["files"] = kwargs["files"]
    if principal.auth is not None:
        request["auth"] = principal.auth
    client.cookies.clear()
    return await client.request(kwargs["method"], kwargs["url"], **request)


def _bound(case: AnyCase) -> None:
    """Keep long-polls short: the offer long-poll waits at most a tenth of a second here."""
    wait = (case.query or {}).get("wait")
    if isinstance(wait, (int, float)) and not isinstance(wait, bool) and wait > 0.1:
        assert case.query is not None
        case.query["wait"] = 0.1


async def _webhook_manager_key(
    sessionmaker: async_sessionmaker[AsyncSession], world: World
) -> dict[str, str]:
    """Headers of tenant A's client that may manage webhooks (the world's keys may not)."""
    async with unit_of_work(sessionmaker) as session:
        _, _, key = await accounts_service.create_client(
            session,
            actor=SYSTEM,
            municipality_code=world.a.municipality_code,
            name="webhooks",
            scopes=[Scope.webhooks_manage, Scope.cases_read],
            key_ttl_days=30,
        )
    return {"Authorization": f"ApiKey {key}"}


async def _spare_credentials(
    sessionmaker: async_sessionmaker[AsyncSession], settings: Settings, world: World
) -> tuple[str, str, DeviceAuth]:
    """A spare device (its id is fuzzed into `revoke`) and integration client, so the world's stay usable."""
    async with unit_of_work(sessionmaker) as session:
        code, _ = await accounts_service.issue_enrolment_code(
            session,
            actor=SYSTEM,
            post_office_id=world.a.post_office_id,
            device_name="spare",
            settings=settings,
        )
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        key = Ed25519PrivateKey.generate()
        device = await accounts_service.enrol_device(
            session, code=code, public_key=device_auth.public_key_text(key)
        )
        client, _, _ = await accounts_service.create_client(
            session,
            actor=SYSTEM,
            municipality_code=world.a.municipality_code,
            name="spare",
            scopes=[Scope.cases_read],
            key_ttl_days=30,
        )
    return device.id, client.id, DeviceAuth(device.id, key, clock=lambda: clock.now().timestamp())


async def _real_ids(
    client: httpx.AsyncClient, driver: CaseDriver, world: World, spare_device: str, spare_client: str
) -> dict[str, list[str]]:
    """Real ids of tenant A for path parameters, by parameter name."""
    officer = world.h("a", Role.officer)
    approved = await driver.to_review()
    await driver.officer(approved["id"], "approve", attested=True)
    reviewing = await driver.to_review()
    draft = await driver.create()
    evidence = await client.get(f"/api/v1/cases/{reviewing['id']}/evidence", headers=officer)
    assert evidence.status_code == 200, evidence.text
    evidence_ids = [item["id"] for item in evidence.json()["items"]]
    challenge = await client.post(f"/api/v1/cases/{reviewing['id']}/liveness-challenges", headers=officer)
    assert challenge.status_code == 201, challenge.text
    return {
        "case_id": [reviewing["id"], draft["id"], approved["id"]],
        "evidence_id": [str(e) for e in evidence_ids] or ["ev_missing"],
        "challenge_id": [challenge.json()["id"]],
        "device_id": [spare_device],
        "client_id": [spare_client],
        "designation_id": [world.a.designation_id],
        "code": [world.a.municipality_code],
    }


async def _principal_for(
    client: httpx.AsyncClient,
    case: AnyCase,
    candidates: list[Principal],
    anonymous: Principal,
    unguarded: list[str],
) -> Principal:
    """The first candidate the hub does not refuse with 401/403 for this operation (anonymous if it has no security).

    An operation that declares security must refuse the case sent anonymously with 401; `unguarded` collects those
    that do not.
    """
    if not case.operation.definition.raw.get("security"):
        return anonymous
    refused = await _send(client, case, anonymous)
    if refused.status_code != 401:
        unguarded.append(f"{case.operation.label} answered {refused.status_code} without credentials")
    for principal in candidates:
        response = await _send(client, case, principal)
        if response.status_code not in (401, 403):
            return principal
    return candidates[0]


async def test_every_operation_conforms_to_the_openapi_document(
    app: Any,
    client: httpx.AsyncClient,
    world: World,
    driver: CaseDriver,
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
) -> None:
    started = time.monotonic()
    schema = schemathesis.openapi.from_dict(app.openapi())
    spare_device, spare_client, spare_device_auth = await _spare_credentials(sessionmaker, settings, world)
    ids = await _real_ids(client, driver, world, spare_device, spare_client)
    webhooks = await _webhook_manager_key(sessionmaker, world)
    subscription = await client.post(
        "/api/v1/webhook-subscriptions",
        json={"url": "https://backoffice.example/hook", "event_types": ["case.finalized"]},
        headers=webhooks,
    )
    assert subscription.status_code == 201, subscription.text
    ids["subscription_id"] = [subscription.json()["id"]]
    officer_a = world.a.usernames[Role.officer]
    candidates = [
        Principal("officer", world.h("a", Role.officer)),
        Principal("device", auth=world.device_a.auth),
        Principal("api_key", world.api_key("a")),
        Principal("api_key_webhooks", webhooks),
        Principal("admin", world.admin_headers),
        Principal("supervisor", world.h("a", Role.supervisor)),
        Principal("auditor", world.h("a", Role.auditor)),
    ]
    anonymous = Principal("anonymous")

    # Operations that end the credential they are sent with get one of their own.
    # (Sessions issued by the service, not by /auth/login: the fuzzed login cases use up its rate limit.)
    async def fresh_session() -> dict[str, str]:
        async with unit_of_work(sessionmaker) as session:
            issued = await sessions.login(
                session, username=officer_a, password=PASSWORD, totp=None, settings=settings
            )
        return {"Authorization": f"Bearer {issued.access_token}"}

    own: dict[str, Callable[[], Awaitable[dict[str, str]]]] = {"POST /api/v1/auth/logout": fresh_session}
    stats = RunStats()
    unguarded: list[str] = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result
        operation = result.ok()
        label = f"{operation.method.upper()} {operation.path}"
        stats.operations += 1
        principal: Principal | None = None
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            for index, case in enumerate(_generate(operation, mode)):
                if index % 2 == 0 and case.path_parameters:
                    names = list(case.path_parameters)
                    if all(name in ids for name in names):
                        for name in names:
                            pool = ids[name]
                            case.path_parameters[name] = pool[(index // 2) % len(pool)]
                _bound(case)
                if label in own:
                    sender = Principal("own", await own[label]())
                elif label == "POST /api/v1/devices/{device_id}/revoke":
                    sender = Principal("admin", world.admin_headers)
                else:
                    if principal is None:
                        principal = await _principal_for(client, case, candidates, anonymous, unguarded)
                    sender = principal
                if sender.name == "device" and case.path_parameters.get("device_id") == spare_device:
                    sender = Principal("spare_device", auth=spare_device_auth)
                response = await _send(client, case, sender)
                stats.cases += 1
                stats.statuses[response.status_code] += 1
                stats.principals[sender.name] += 1
                try:
                    case.validate_response(response, checks=CHECKS)
                except FailureGroup as exc:  # names every failed check and a curl to reproduce
                    titles = ", ".join(sorted({failure.title for failure in exc.exceptions}))
                    stats.distinct.add(f"{label} → {response.status_code}: {titles}")
                    stats.failures.append(f"[{mode.value} as {sender.name}] {label}\n{exc}")
    elapsed = time.monotonic() - started
    summary = (
        f"schemathesis: {stats.operations} operations, {stats.cases} cases in {elapsed:.0f}s; "
        f"statuses {dict(sorted(stats.statuses.items()))}; principals {dict(stats.principals)}; "
        f"{len(stats.failures)} failures"
    )
    sys.stdout.write(f"\n{summary}\n")  # shown with -s
    assert stats.operations >= 90, "the OpenAPI document lost operations"
    assert not unguarded, "\n".join(unguarded)
    assert not stats.failures, "\n".join(sorted(stats.distinct)) + "\n\n" + "\n\n".join(stats.failures[:5])


# Values at the ends of what Python accepts and the hub cannot store or compute with. Hypothesis seldom draws them
# (a 2**64 or a year-1 date is one draw among billions), so every integer, date and cursor parameter gets each.
INT_EDGES: list[Any] = [-1, -(2**63) - 1, 2**31, 2**63 - 1, 2**63, 2**64]
DATE_EDGES: list[Any] = ["0001-01-01", "9999-12-31"]
DATETIME_EDGES: list[Any] = [
    "0001-01-01T00:00:00+09:00",  # before the calendar's start once moved to UTC
    "0001-01-01T00:00:00Z",
    "9999-12-31T23:59:59Z",
    "9999-12-31T23:59:59-09:00",  # after the calendar's end once moved to UTC
]


def _cursor(*parts: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(parts)).encode()).decode().rstrip("=")


CURSOR_EDGES: list[Any] = [
    *(_cursor(n) for n in (2**63, 2**64, -1)),
    *(_cursor(n, "x") for n in (2**63, 2**64, -1)),
    _cursor("0001-01-01T00:00:00+14:00", "x"),
    _cursor("9999-12-31T23:59:59-14:00", "x"),
]


def _edges(name: str, schema: dict[str, Any]) -> list[Any]:
    """The edge values for a parameter or body field of this JSON schema (none if it is of no such type)."""
    for option in schema.get("anyOf", [schema]):
        if option.get("type") == "integer":
            return list(INT_EDGES)
        if option.get("type") == "string" and option.get("format") == "date":
            return list(DATE_EDGES)
        if option.get("type") == "string" and option.get("format") == "date-time":
            return list(DATETIME_EDGES)
        if option.get("type") == "string" and name == "cursor":
            return list(CURSOR_EDGES)
    return []


def _body_fields(document: dict[str, Any], operation: Operation) -> dict[str, dict[str, Any]]:
    """The top-level fields of the operation's JSON body, by name."""
    content = operation.definition.raw.get("requestBody", {}).get("content", {})
    schema = content.get("application/json", {}).get("schema", {})
    if "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return dict(schema.get("properties", {}))


async def test_integers_dates_and_cursors_at_their_limits_are_never_a_server_error(
    app: Any,
    client: httpx.AsyncClient,
    world: World,
    driver: CaseDriver,
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
) -> None:
    """Each operation's integer, date, date-time and cursor inputs (query and JSON body), one at a time, at edges.

    Sent twice: into a valid generated case, and alone with only the required inputs (so a default computed from
    it — `to` − 30 days, `occurred_at` + 10 days — meets the edge). Old code: 500 for a 2**64 `after_seq` or
    cursor, and for exports from year 1 or to year 9999.
    """
    document = app.openapi()
    schema = schemathesis.openapi.from_dict(document)
    spare_device, spare_client, _ = await _spare_credentials(sessionmaker, settings, world)
    ids = await _real_ids(client, driver, world, spare_device, spare_client)
    webhooks = await _webhook_manager_key(sessionmaker, world)
    candidates = [
        Principal("officer", world.h("a", Role.officer)),
        Principal("device", auth=world.device_a.auth),
        Principal("api_key", world.api_key("a")),
        Principal("api_key_webhooks", webhooks),
        Principal("admin", world.admin_headers),
        Principal("supervisor", world.h("a", Role.supervisor)),
        Principal("auditor", world.h("a", Role.auditor)),
    ]
    skip = {"POST /api/v1/auth/logout", "POST /api/v1/devices/{device_id}/revoke"}  # they end a credential
    failures: list[str] = []
    sent = 0
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result
        operation = result.ok()
        label = f"{operation.method.upper()} {operation.path}"
        query = {
            p["name"]: (p.get("schema", {}), bool(p.get("required")))
            for p in operation.definition.raw.get("parameters", [])
            if p.get("in") == "query"
        }
        body = _body_fields(document, operation)
        targets = [("query", n, v) for n, (s, _) in query.items() for v in _edges(n, s)]
        targets += [("body", n, v) for n, s in body.items() for v in _edges(n, s)]
        if not targets or label in skip:
            continue
        examples = _generate(operation, GenerationMode.POSITIVE)
        assert examples, label
        case = examples[0]
        for name in case.path_parameters or {}:
            if name in ids:
                case.path_parameters[name] = ids[name][0]
        _bound(case)
        principal = await _principal_for(client, case, candidates, Principal("anonymous"), [])
        valid_query = dict(case.query or {})
        valid_body = dict(case.body) if isinstance(case.body, dict) else case.body
        required_query = {k: v for k, v in valid_query.items() if query.get(k, ({}, False))[1]}
        for where, name, value in targets:
            for base_query, base_body in ((valid_query, valid_body), (required_query, None)):
                case.query = dict(base_query)
                if isinstance(valid_body, dict):
                    case.body = dict(base_body if isinstance(base_body, dict) else {})
                if where == "query":
                    case.query[name] = value
                elif isinstance(case.body, dict):
                    case.body[name] = value
                sent += 1
                try:
                    response = await _send(client, case, principal)
                except Exception as exc:  # the in-process transport raises what a server would answer 500 for
                    failures.append(f"{label} {where} {name}={value!r} → {type(exc).__name__}: {exc}"[:300])
                    continue
                if response.status_code >= 500:
                    failures.append(f"{label} {where} {name}={value!r} → {response.status_code}")
        case.query, case.body = valid_query, valid_body
    sys.stdout.write(f"\nedge values: {sent} requests, {len(failures)} server errors\n")
    assert sent >= 50, "the edge run found too few integer/date parameters"
    assert not failures, "\n".join(failures)
