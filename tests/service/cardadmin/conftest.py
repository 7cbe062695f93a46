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


async def approved_case(driver: CaseDriver, procedure: str = "ecert_issue_renew") -> str:
    """A case of tenant A that the officer approved after the identity review."""
    case = await driver.to_review(procedure)
    await driver.officer(case["id"], "approve", attested=True)
    return str(case["id"])


@pytest.fixture
def card_and_applet(dev_pki_dir: Path) -> tuple[VirtualMyNumberCard, CardAdminApplet]:
    """花子's card, fresh from the factory."""
    return factory_card(dev_pki_dir)


@pytest.fixture
def link(world: World) -> HubLink:
    """Tenant A's counter device's link to the hub (in-process ASGI), without retry pauses."""
    return HubLink(world.device_a, backoff_initial_s=0.01, backoff_max_s=0.01)


__all__ = ["HANAKO", "Role", "approved_case", "factory_card", "quick_approved_case"]


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
        return await synthetic_case(
            session,
            tenant=tenant,
            procedure=procedure,
            opened_at=clock.now() - dt.timedelta(hours=1),
            steps=steps,
        )
