"""A PIN change through real PC/SC (pyscard → pcscd → vpcd → the virtual card), as the counter's CardAdmin does it.

The change and the next visit's VERIFY each run on their own exclusive connection, closed (card reset) after, as
the counter's PcscSlot does. Marked `pcsc`.
"""

from __future__ import annotations

import asyncio

import pytest

from clerk_agent.card.protocol import MyNumberCard, PinKind
from clerk_agent.card.virtual.build import person
from clerk_agent.card.virtual.pcscd import VpcdSlot
from clerk_agent.card.virtual.vicc import ViccClient
from clerk_agent.errors import PinIncorrect
from tests.plugins.cardkit import make_card
from tests.plugins.pcsc_slot import plug

try:
    from clerk_agent.card import pcsc
except ImportError:  # pyscard missing: the pcsc_stack fixture reports it (skip locally, fail under CI)
    pcsc = None  # type: ignore[assignment]

pytestmark = pytest.mark.pcsc
HANAKO = person("yamada_hanako")


async def test_a_pin_changed_through_pcscd_opens_the_card_on_the_next_connection(
    vpcd_slot: VpcdSlot, insert: list[ViccClient]
) -> None:
    plug(insert, make_card("yamada_hanako"), vpcd_slot)

    def change() -> None:
        transport = pcsc.connect_with_backoff(vpcd_slot.reader, timeout=10)
        try:
            card = MyNumberCard(transport)
            card.detect()
            card.change_pin(PinKind.JPKI_AUTH, bytearray(HANAKO.auth_pin.encode()), bytearray(b"9406"))
        finally:
            transport.close()

    def verify(pin: str) -> None:
        transport = pcsc.connect_with_backoff(vpcd_slot.reader, timeout=10)
        try:
            card = MyNumberCard(transport)
            card.detect()
            card.verify_auth_pin(bytearray(pin.encode()))
        finally:
            transport.close()

    await asyncio.to_thread(change)
    await asyncio.to_thread(verify, "9406")
    with pytest.raises(PinIncorrect):
        await asyncio.to_thread(verify, HANAKO.auth_pin)
