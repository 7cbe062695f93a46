"""Fixtures for the card layer: an in-process virtual card, and the shared pcscd + vpcd stack for `pcsc` tests."""

from __future__ import annotations

import pytest

from clerk_agent.card.protocol import MyNumberCard
from clerk_agent.card.virtual.card import VirtualMyNumberCard
from clerk_agent.card.virtual.transport import InProcessTransport
from tests.plugins.cardkit import make_card


@pytest.fixture
def hanako_card() -> VirtualMyNumberCard:
    """山田 花子's virtual card with fresh counters."""
    return make_card("yamada_hanako")


@pytest.fixture
def slot(hanako_card: VirtualMyNumberCard) -> InProcessTransport:
    """An in-process reader slot with 花子's card inserted."""
    return InProcessTransport(hanako_card)


@pytest.fixture
def card(slot: InProcessTransport) -> MyNumberCard:
    """The protocol object on that slot."""
    return MyNumberCard(slot)


@pytest.fixture
def local_violations() -> list[str]:
    """A private violation list for tests that provoke My Number access on purpose."""
    seen: list[str] = []
    return seen
