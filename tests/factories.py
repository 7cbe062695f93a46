"""Typed async factories of synthetic tenants, people and devices, reached through the real API and services."""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass, field

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from clerk_agent.link.auth import DeviceAuth
from service.accounts import service as accounts_service
from service.accounts.roles import SYSTEM, Role, Scope
from service.cases.lifecycle import TRANSITIONS, Action, Actor, CaseState, LifecycleError, plan
from service.cases.models import Case, CaseStateEntry
from service.config import Settings
from service.db import unit_of_work
from service.kit import clock
from service.kit.ids import random_id
from service.tenancy import service as tenancy_service
from service.tenancy.codes import Procedure, municipality_check_digit
from service.tenancy.hours import ALWAYS_OPEN, OpeningHours
from service.tenancy.schemas import DesignationCreate, MunicipalityCreate, PostOfficeCreate
from service.wire import device_auth
from service.wire.consents import CURRENT as CURRENT_CONSENTS

PASSWORD = "correct-horse-battery-staple"

# Eligibility answers of an applicant the post office may serve (docs/domain.md §B7).
ELIGIBLE = {
    "applicant_present": True,
    "resident_of_municipality": True,
    "proxy_applicant": False,
    "minor_or_adult_ward": False,
}
# The applicant's consents at the current versions of the texts, as the counter records them before verification.
CONSENTS = dict(CURRENT_CONSENTS)


def municipality_code(first_five: str) -> str:
    """A valid code from its first five digits (tests use invented prefecture 99)."""
    return first_five + str(municipality_check_digit(first_five))


def shinseisho_id() -> str:
    """A random 23-digit 申請書ID."""
    return "".join(secrets.choice("0123456789") for _ in range(23))


@dataclass
class Tenant:
    """One municipality with its designated office, people and device."""

    municipality_code: str
    post_office_id: str
    designation_id: str
    device_id: str
    device_key: Ed25519PrivateKey
    usernames: dict[Role, str] = field(default_factory=dict)
    integration_key: str = ""
    integration_key_readonly: str = ""


async def make_tenant(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    *,
    prefix: str,
    name: str,
    office_code: str,
    opening_hours: OpeningHours = ALWAYS_OPEN,
    valid_from: dt.date | None = None,
    valid_until: dt.date | None = None,
    procedures: list[Procedure] | None = None,
) -> Tenant:
    """A municipality (code 99xxx + check digit), an office designated for every procedure, one account per role."""
    code = municipality_code(prefix)
    today = clock.now().date()
    async with unit_of_work(sessionmaker) as session:
        await tenancy_service.create_municipality(
            session, actor=SYSTEM, data=MunicipalityCreate(code=code, name=name)
        )
        office = await tenancy_service.create_post_office(
            session,
            actor=SYSTEM,
            data=PostOfficeCreate(office_code=office_code, name=f"{name}郵便局", address="架空町1-1"),
        )
        designation = await tenancy_service.create_designation(
            session,
            actor=SYSTEM,
            data=DesignationCreate(
                municipality_code=code,
                post_office_id=office.id,
                procedures=procedures or list(Procedure),
                valid_from=valid_from or today - dt.timedelta(days=30),
                valid_until=valid_until or today + dt.timedelta(days=365),
                council_resolution_ref="議決第99号 (test)",
                contract_id=f"TEST-{prefix}",
                opening_hours=opening_hours,
            ),
        )
        usernames: dict[Role, str] = {}
        for role in (Role.officer, Role.supervisor, Role.auditor, Role.clerk):
            username = f"{role.value}-{prefix}"
            await accounts_service.create_account(
                session,
                actor=SYSTEM,
                username=username,
                display_name=f"試験 {role.value}",
                role=role,
                password=PASSWORD,
                municipality_code=None if role is Role.clerk else code,
                post_office_id=office.id if role is Role.clerk else None,
            )
            usernames[role] = username
        enrol, _ = await accounts_service.issue_enrolment_code(
            session,
            actor=SYSTEM,
            post_office_id=office.id,
            device_name=f"counter {prefix}",
            settings=settings,
        )
        key = Ed25519PrivateKey.generate()
        device = await accounts_service.enrol_device(
            session, code=enrol, public_key=device_auth.public_key_text(key)
        )
        _, _, api_key = await accounts_service.create_client(
            session,
            actor=SYSTEM,
            municipality_code=code,
            name=f"back office {prefix}",
            scopes=[Scope.cases_read, Scope.cases_write, Scope.audit_read],
            key_ttl_days=30,
        )
        _, _, api_key_ro = await accounts_service.create_client(
            session,
            actor=SYSTEM,
            municipality_code=code,
            name=f"reader {prefix}",
            scopes=[Scope.cases_read],
            key_ttl_days=30,
        )
    return Tenant(code, office.id, designation.id, device.id, key, usernames, api_key, api_key_ro)


async def make_admin(sessionmaker: async_sessionmaker[AsyncSession], username: str = "admin-test") -> str:
    """An admin account; returns its username."""
    async with unit_of_work(sessionmaker) as session:
        await accounts_service.create_account(
            session,
            actor=SYSTEM,
            username=username,
            display_name="管理者",
            role=Role.admin,
            password=PASSWORD,
            municipality_code=None,
            post_office_id=None,
        )
    return username


async def login(client: httpx.AsyncClient, username: str, password: str = PASSWORD) -> dict[str, str]:
    """Bearer headers for a fresh session of `username`."""
    response = await client.post("/api/v1/auth/login", json={"username": username, "password": password})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def device_client(app: object, tenant: Tenant) -> httpx.AsyncClient:
    """A client that signs as the tenant's clerk-agent device."""
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),  # type: ignore[arg-type]
        base_url="http://hub.test",
        # Signed with the hub's (test-movable) clock, so tests that move time keep a fresh timestamp.
        auth=DeviceAuth(tenant.device_id, tenant.device_key, clock=lambda: clock.now().timestamp()),
    )


@dataclass
class World:
    """Two tenants (A, B) and an admin, with logged-in headers for every role."""

    a: Tenant
    b: Tenant
    admin_headers: dict[str, str]
    headers: dict[tuple[str, Role], dict[str, str]]
    device_a: httpx.AsyncClient
    device_b: httpx.AsyncClient

    def h(self, tenant: str, role: Role) -> dict[str, str]:
        """Headers of `role` in tenant 'a' or 'b'."""
        return self.headers[(tenant, role)]

    def api_key(self, tenant: str, *, readonly: bool = False) -> dict[str, str]:
        """Headers of the tenant's integration client."""
        t = self.a if tenant == "a" else self.b
        return {"Authorization": f"ApiKey {t.integration_key_readonly if readonly else t.integration_key}"}


# A step of a synthetic case history: the action, when (after the case opened), and its reason code if it needs one.
Step = tuple[Action, dt.timedelta, str | None]
# Who takes an action in a synthetic history when several may: the first of these the transition allows.
_ACTOR_ORDER = (Actor.device, Actor.officer, Actor.integration, Actor.system, Actor.supervisor)


async def synthetic_case(
    session: AsyncSession,
    *,
    tenant: Tenant,
    procedure: Procedure,
    opened_at: dt.datetime,
    steps: list[Step],
    post_office_id: str | None = None,
    designation_id: str | None = None,
    officer_id: str = "acct_synthetic",
) -> str:
    """A case with a past history written straight into the records, each step checked by the state machine.

    The reports read these rows exactly as the hub writes them (a case row, its state entries); writing them
    directly lets a test lay out a month of activity at chosen times without driving months of real calls.
    Every step must be a legal transition (lifecycle.plan), so a history the hub could not produce fails here.
    """
    office_id = post_office_id or tenant.post_office_id
    case_id = random_id("case")
    state = CaseState.draft
    entries = [
        CaseStateEntry(
            case_id=case_id,
            state=state.value,
            action="create",
            actor_kind="device",
            actor_id=tenant.device_id,
            reason_code=None,
            entered_at=opened_at,
        )
    ]
    for action, after, reason in steps:
        transition = TRANSITIONS[action]
        actor = next(
            (
                a
                for a in _ACTOR_ORDER
                if a in transition.actors and _allowed(state, action, a, procedure, reason)
            ),
            None,
        )
        assert actor is not None, f"{procedure.value}: no actor may {action.value} from {state.value}"
        state = transition.target
        entries.append(
            CaseStateEntry(
                case_id=case_id,
                state=state.value,
                action=action.value,
                actor_kind=actor.value,
                actor_id=officer_id if actor is Actor.officer else tenant.device_id,
                reason_code=reason,
                entered_at=opened_at + after,
            )
        )
    seq = await session.scalar(select(func.count()).select_from(Case)) or 0
    last = entries[-1].entered_at
    session.add(
        Case(
            id=case_id,
            reference=f"S{seq + 1:06d}",
            reference_day=opened_at.date(),
            municipality_code=tenant.municipality_code,
            post_office_id=office_id,
            designation_id=designation_id or tenant.designation_id,
            procedure=procedure.value,
            state=state.value,
            version=1,
            shinseisho_id=None,
            active_shinseisho_id=None,
            created_by_device_id=tenant.device_id,
            officer_id=None,
            created_at=opened_at,
            updated_at=last,
            state_entered_at=last,
        )
    )
    await session.flush()
    session.add_all(entries)
    await session.flush()
    return case_id


async def continue_case(
    session: AsyncSession, *, case_id: str, steps: list[tuple[Action, dt.datetime, str | None]]
) -> None:
    """More steps of a synthetic case's history, at absolute times (a month later, say)."""
    case = await session.get(Case, case_id)
    assert case is not None
    procedure = Procedure(case.procedure)
    state = CaseState(case.state)
    for action, at, reason in steps:
        transition = TRANSITIONS[action]
        actor = next(
            a
            for a in _ACTOR_ORDER
            if a in transition.actors and _allowed(state, action, a, procedure, reason)
        )
        state = transition.target
        session.add(
            CaseStateEntry(
                case_id=case_id,
                state=state.value,
                action=action.value,
                actor_kind=actor.value,
                actor_id="synthetic",
                reason_code=reason,
                entered_at=at,
            )
        )
        case.state = state.value
        case.state_entered_at = at
        case.updated_at = at
    await session.flush()


def _allowed(
    state: CaseState, action: Action, actor: Actor, procedure: Procedure, reason: str | None
) -> bool:
    try:
        plan(state=state, action=action, actor=actor, procedure=procedure, reason_code=reason, attested=True)
    except LifecycleError:
        return False
    return True
