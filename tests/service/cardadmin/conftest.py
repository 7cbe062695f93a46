"""Fixtures of card-management tests: an approved case of tenant A, and the applicant's virtual card as a factory
made it (the management applet with keys diversified from the issuer simulator's master key)."""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from clerk_agent.card.virtual.admin import CardAdminApplet, install
from clerk_agent.card.virtual.build import build_virtual_card, load_card_material, person
from clerk_agent.card.virtual.card import VirtualMyNumberCard
from clerk_agent.link.hub import HubLink
from service.accounts.roles import Role
from service.cardadmin.issuer import diversify, load_master_key
from service.cases.lifecycle import Action
from service.cases.models import Case
from service.db import unit_of_work
from service.kit import clock
from service.tenancy.codes import Procedure
from tests.factories import Step, Tenant, World, synthetic_case
from tests.service.conftest import CaseDriver

HANAKO = person("yamada_hanako")


def factory_card(pki: Path, who: str = "yamada_hanako") -> tuple[VirtualMyNumberCard, CardAdminApplet]:
    """`who`'s card with its management applet; the diversification data names the card (10 bytes)."""
    card = build_virtual_card(person(who), load_card_material(pki, who), label=f"card-admin {who}")
    diversification = hashlib.sha256(f"card:{who}".encode()).digest()[:10]
    applet = install(card, diversify(load_master_key(pki), diversification), diversification)
    return card, applet


# What the counter's card-work plan allows (service/cardwork; the card-admin runs only planned work).
PLANNED = ["renew_auth", "renew_sign", "reset_auth", "reset_kenhojo", "reset_sign"]


async def approved_case(driver: CaseDriver, procedure: str = "ecert_issue_renew") -> str:
    """A case of tenant A that the officer approved after the identity review, its card work planned by the hub."""
    case = await driver.to_review(procedure)
    await driver.officer(case["id"], "approve", attested=True)
    device = driver.world.device_a
    base = f"/api/v1/cases/{case['id']}/card-work"
    if procedure == "ecert_issue_renew":
        soon = (dt.datetime.now(dt.UTC) + dt.timedelta(days=40)).date().isoformat()
        body = {"certificates": ["sign", "auth"], "requester": "holder", "under_15": False}
        body |= {"adult_ward": False, "basic4_changed": False, "current_not_after": soon}
        assert (await device.post(f"{base}/ecert-plan", json=body)).status_code == 200
    if procedure in ("ecert_issue_renew", "pin_reset"):
        for pin in ("auth", "sign", "kenhojo"):
            body = {"pin": pin, "mode": "reset", "requester": "holder"}
            assert (await device.post(f"{base}/pin-plan", json=body)).status_code == 200
    return str(case["id"])


@pytest.fixture
def card_and_applet(dev_pki_dir: Path) -> tuple[VirtualMyNumberCard, CardAdminApplet]:
    """花子's card, fresh from the factory."""
    return factory_card(dev_pki_dir)


@pytest.fixture
def link(world: World) -> HubLink:
    """Tenant A's counter device's link to the hub (in-process ASGI), without retry pauses."""
    return HubLink(world.device_a, backoff_initial_s=0.01, backoff_max_s=0.01)


__all__ = ["HANAKO", "PLANNED", "Role", "approved_case", "factory_card", "plan", "quick_approved_case"]


async def quick_approved_case(
    sessionmaker: async_sessionmaker[AsyncSession],
    tenant: Tenant,
    procedure: Procedure = Procedure.ecert_issue_renew,
) -> str:
    """An approved case written straight into the records, each step checked by the state machine (many per test)."""
    steps: list[Step] = [
        (action, dt.timedelta(minutes=minute), None)
        for minute, action in enumerate(
            (
                Action.check_in,
                Action.precheck,
                Action.request_verification,
                Action.accept,
                Action.capture_evidence,
                Action.begin_review,
                Action.approve,
            )
        )
    ]
    async with unit_of_work(sessionmaker) as session:
        case_id = await synthetic_case(
            session,
            tenant=tenant,
            procedure=procedure,
            opened_at=clock.now() - dt.timedelta(hours=1),
            steps=steps,
        )
        await plan(session, case_id, PLANNED)
        return case_id


async def plan(session: AsyncSession, case_id: str, codes: list[str]) -> None:
    """The case's card-work plan as service/cardwork records it (`precheck.card_work.planned`)."""
    case = await session.get(Case, case_id)
    assert case is not None
    work = {**((case.precheck or {}).get("card_work") or {}), "planned": sorted(codes)}
    case.precheck = {**(case.precheck or {}), "card_work": work}
    await session.flush()
