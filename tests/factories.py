"""Typed async factories of synthetic tenants, people and devices, reached through the real API and services."""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass, field

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from clerk_agent.link.auth import DeviceAuth
from service.accounts import service as accounts_service
from service.accounts.roles import SYSTEM, Role, Scope
from service.config import Settings
from service.db import unit_of_work
from service.kit import clock
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
