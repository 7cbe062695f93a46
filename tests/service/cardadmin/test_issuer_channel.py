"""The counter's seam over the issuer's relay (clerk_agent/flows/cardadmin.py `RelayIssuerChannel`), in one process:
the planned renewal's codes, a retry after a finished renewal counted as done, and what the channel cannot do said
as `CardAdminUnavailable` before the card is touched — the new PIN wiped whatever happens."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from clerk_agent.card.protocol import JPKI_AID, MyNumberCard
from clerk_agent.card.virtual.admin import CardAdminApplet
from clerk_agent.card.virtual.card import VirtualMyNumberCard
from clerk_agent.card.virtual.transport import InProcessTransport
from clerk_agent.errors import CardAdminUnavailable
from clerk_agent.flows.cardadmin import LocalCardAdmin, RelayIssuerChannel
from clerk_agent.flows.cardslot import SlotListener
from clerk_agent.link.hub import HubLink
from service.db import unit_of_work
from service.tenancy.codes import Procedure
from service.wire.card_profiles import CardGeneration
from service.wire.cardwork import EcertPlan, PinMode, PinWhich
from tests.factories import World
from tests.plugins.cardkit import make_card
from tests.service.cardadmin.conftest import plan, quick_approved_case


class CardInHand:
    """A slot holding one in-process card (what VirtualSlot does, without the person's build)."""

    def __init__(self, card: VirtualMyNumberCard) -> None:
        self.card = card
        self.present = self.reader_ok = True
        self.name = "in-hand"
        self.listeners: list[SlotListener] = []
        self.sessions = 0

    async def watch(self) -> None:
        """Nothing to watch."""

    @contextlib.contextmanager
    def session(self) -> Iterator[MyNumberCard]:
        self.sessions += 1
        try:
            yield MyNumberCard(InProcessTransport(self.card))
        finally:
            self.card.reset()


def _plan(case_id: str) -> EcertPlan:
    return EcertPlan.model_validate(
        {
            "case_id": case_id,
            "certificates": [
                {"certificate": "sign", "action": "renew", "reason": "within_window"},
                {"certificate": "auth", "action": "renew", "reason": "within_window"},
            ],
            "renewal_opens": None,
        }
    )


async def test_the_seam_renews_over_the_relay_and_a_retry_after_it_finished_is_done(
    sessionmaker: async_sessionmaker[AsyncSession],
    world: World,
    link: HubLink,
    card_and_applet: tuple[VirtualMyNumberCard, CardAdminApplet],
) -> None:
    card, applet = card_and_applet
    slot = CardInHand(card)
    admin = LocalCardAdmin(slot, RelayIssuerChannel(link, slot))
    case_id = await quick_approved_case(sessionmaker, world.a)
    before = card.file(JPKI_AID, 0x000A).data
    assert await admin.renew(case_id, _plan(case_id)) == ["renew_sign", "renew_auth"]
    assert card.file(JPKI_AID, 0x000A).data != before
    assert applet.commits == 1
    # The counter lost the hub's answer to its record and asks again: done, nothing written twice.
    assert await admin.renew(case_id, _plan(case_id)) == ["renew_sign", "renew_auth"]
    assert applet.commits == 1
    assert await admin.generation() == "gen2016"
    # The next-generation card says so: the counter plans its renewal with that profile's terms.
    next_slot = CardInHand(make_card("yamada_hanako", generation=CardGeneration.GEN2028))
    assert await LocalCardAdmin(next_slot).generation() == "gen2028"


async def test_what_the_channel_cannot_do_is_unavailable_and_the_pin_is_wiped(
    sessionmaker: async_sessionmaker[AsyncSession],
    world: World,
    link: HubLink,
    card_and_applet: tuple[VirtualMyNumberCard, CardAdminApplet],
) -> None:
    card, applet = card_and_applet
    slot = CardInHand(card)
    admin = LocalCardAdmin(slot, RelayIssuerChannel(link, slot))
    case_id = await quick_approved_case(sessionmaker, world.a, Procedure.pin_reset)
    # 住基: no target on the card's management applet; nothing sent to the card.
    juki = bytearray(b"4821")
    with pytest.raises(CardAdminUnavailable):
        await admin.set_pin(case_id, PinWhich.juki, PinMode.reset, juki, None)
    assert juki == bytearray(4)
    assert slot.sessions == 0
    # Not in the case's plan: the hub refuses before any command, the counter says "not possible here".
    async with unit_of_work(sessionmaker) as session:
        await plan(session, case_id, ["reset_sign"])
    new = bytearray(b"4821")
    with pytest.raises(CardAdminUnavailable):
        await admin.set_pin(case_id, PinWhich.auth, PinMode.reset, new, None)
    assert new == bytearray(4)
    assert applet.sessions_seen == []
