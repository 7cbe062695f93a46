"""The shared pcscd + vpcd stack for `pcsc` tests: one stack and one vpcd slot per test session, wherever used.

Session-scoped so that the card-layer tests and the hub's card tests share one slot: pcscd has two vpcd slots for
the whole machine, and a concurrent run may hold the other one.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from clerk_agent.card.virtual.pcscd import PcscdStack, StackUnavailable, VpcdSlot
from clerk_agent.card.virtual.vicc import ViccClient, VirtualChip
from tests._services import missing_service

try:
    from clerk_agent.card import pcsc
except ImportError:  # pyscard missing: the pcsc_stack fixture reports it (skip locally, fail under CI)
    pcsc = None  # type: ignore[assignment]


@pytest.fixture(scope="session")
def pcsc_stack() -> Iterator[PcscdStack]:
    """The shared pcscd with our vpcd reader (started here if nobody runs it; stopped only if started here)."""
    if pcsc is None:
        missing_service("pyscard (pip install pyscard; needs swig and libpcsclite-dev)")
    stack = PcscdStack()
    try:
        stack.acquire()
    except StackUnavailable as exc:
        missing_service(f"pcscd + vsmartcard-vpcd: {exc}")
    yield stack
    stack.release()


@pytest.fixture(scope="session")
def vpcd_slot(pcsc_stack: PcscdStack) -> VpcdSlot:
    """A vpcd slot of our own for this session."""
    try:
        return pcsc_stack.allocate_slot()
    except StackUnavailable as exc:
        missing_service(f"a free vpcd slot: {exc}")
        raise  # missing_service never returns


@pytest.fixture
def insert(vpcd_slot: VpcdSlot) -> Iterator[list[ViccClient]]:
    """Cards inserted into our slot by `plug`; all removed at teardown, and pcscd has seen the removal."""
    clients: list[ViccClient] = []
    yield clients
    for client in clients:
        client.stop()
    pcsc.wait_for_card_event(vpcd_slot.reader, present=False)


def plug(clients: list[ViccClient], card: VirtualChip, slot: VpcdSlot) -> ViccClient:
    """Insert `card` into `slot` and wait until pcscd has seen this insertion (not a previous card)."""
    _present, before = pcsc.reader_state(slot.reader)
    client = ViccClient(card, port=slot.port, netns=slot.netns).start()
    clients.append(client)
    pcsc.wait_for_card_event(slot.reader, present=True, after=before)
    return client


def unplug(client: ViccClient, slot: VpcdSlot) -> None:
    """Remove the card and wait until pcscd has seen it go."""
    client.stop()
    pcsc.wait_for_card_event(slot.reader, present=False)
