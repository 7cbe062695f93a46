"""A card reader unplugged mid-step: PcscMonitor's events reach the slot, the clerk is told at once, and recovery clears it."""

from __future__ import annotations

from pathlib import Path

import httpx

from clerk_agent.card.pcsc import CardEvent, CardEventKind
from clerk_agent.flows.cardslot import PcscSlot
from clerk_agent.flows.case import CounterCase
from clerk_agent.flows.counter import CounterFlow
from clerk_agent.link.hub import HubLink
from clerk_agent.link.store import LocalStore
from service.wire.cases import CaseState

READER = "Virtual PCD 00 00"


async def test_reader_unplugged_while_the_pin_pad_is_open_is_shown_and_recovered(tmp_path: Path) -> None:
    slot = PcscSlot(READER)
    store = LocalStore(tmp_path / "agent.sqlite3")
    async with httpx.AsyncClient(base_url="http://127.0.0.1:9") as http:
        flow = CounterFlow(HubLink(http), store, slot)
        flow.case = CounterCase(
            "local", "pin_reset", "key", "999997", case_id="case_x", hub_state=CaseState.session_live
        )
        flow.card.pin.open, flow.card.pin.retries_left = True, 3

        slot.on_event(CardEvent(CardEventKind.READER_ADDED, READER))
        slot.on_event(CardEvent(CardEventKind.CARD_INSERTED, READER, b"\x3b"))
        assert (slot.reader_ok, slot.present, flow.notice) == (True, True, None)

        slot.on_event(CardEvent(CardEventKind.CARD_REMOVED, READER))
        slot.on_event(CardEvent(CardEventKind.READER_REMOVED, READER))
        assert (slot.reader_ok, slot.present) == (False, False)
        assert flow.notice == "reader_unavailable"
        # Nothing reached the card: the applicant's PIN pad stays open with the same tries.
        assert flow.card.pin.open is True
        assert flow.card.pin.retries_left == 3

        slot.on_event(CardEvent(CardEventKind.READER_ADDED, READER))
        assert flow.notice == "card_absent"  # the reader is back, the card not yet
        slot.on_event(CardEvent(CardEventKind.CARD_INSERTED, READER, b"\x3b"))
        assert flow.notice is None

        # A refusal from the hub is not a reader notice: a card coming back does not hide it.
        flow.notice = "hub_refused"
        slot.on_event(CardEvent(CardEventKind.CARD_INSERTED, READER, b"\x3b"))
        assert flow.notice == "hub_refused"
    store.close()


async def test_a_card_lifted_with_no_case_open_is_not_an_error(tmp_path: Path) -> None:
    slot = PcscSlot(READER)
    store = LocalStore(tmp_path / "agent.sqlite3")
    async with httpx.AsyncClient(base_url="http://127.0.0.1:9") as http:
        flow = CounterFlow(HubLink(http), store, slot)
        slot.on_event(CardEvent(CardEventKind.READER_ADDED, READER))
        slot.on_event(CardEvent(CardEventKind.CARD_REMOVED, READER))
        assert flow.notice is None
    store.close()
