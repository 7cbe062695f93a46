"""The counter's card reader as the flow sees it: present or not, and one exclusive session per read."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from clerk_agent.card.protocol import MyNumberCard
from clerk_agent.errors import CardAbsent, ReaderUnavailable

if TYPE_CHECKING:
    from clerk_agent.card.pcsc import CardEvent

logger = logging.getLogger(__name__)
SlotListener = Callable[[], None]


class CardSlot(Protocol):
    """A reader slot: `present` is kept current by `watch`; `session` opens the card (blocking, in a thread)."""

    present: bool
    reader_ok: bool
    name: str
    listeners: list[SlotListener]

    async def watch(self) -> None:
        """Keep `present` and `reader_ok` current until cancelled."""

    def session(self) -> contextlib.AbstractContextManager[MyNumberCard]:
        """Connect to the card for one read; closes (and resets) it afterwards."""


class VirtualSlot:
    """The Virtual My Number Card in-process; `remove`/`insert` simulate the applicant taking the card out."""

    def __init__(self, pki_dir: Path, person_key: str, generation: str = "gen2016") -> None:
        from clerk_agent.card.virtual.build import build_virtual_card, load_card_material, person
        from clerk_agent.card.virtual.transport import InProcessTransport
        from service.wire.card_profiles import CardGeneration

        self.name = f"virtual:{person_key}"
        material = load_card_material(pki_dir, person_key, CardGeneration(generation))
        self._card = build_virtual_card(person(person_key), material)
        if CardGeneration(generation) is CardGeneration.GEN2016:
            from clerk_agent.card.virtual.admin import factory_install

            # The issuer's management applet, as a factory installs it (the next card's is not simulated yet).
            factory_install(self._card, pki_dir, person_key)
        self._transport = InProcessTransport(self._card)
        self.present = True
        self.reader_ok = True
        self.listeners: list[SlotListener] = []

    def remove(self) -> None:
        """Take the card out of the virtual slot."""
        self._transport.remove()
        self.present = False
        _tell(self.listeners)

    def insert(self) -> None:
        """Put the card back."""
        self._transport.insert(self._card)
        self.present = True
        _tell(self.listeners)

    async def watch(self) -> None:
        """Nothing to watch in-process: insert/remove set `present` directly."""
        await asyncio.Event().wait()

    @contextlib.contextmanager
    def session(self) -> Iterator[MyNumberCard]:
        """The card over the in-process transport; reset afterwards, as PcscSlot does, so no PIN stays verified."""
        if not self.present:
            raise CardAbsent("no card in the virtual slot")
        try:
            yield MyNumberCard(self._transport)
        finally:
            if self._transport.card is not None:
                self._transport.card.reset()


class PcscSlot:
    """A PC/SC reader chosen by exact name, kept current by PcscMonitor's events (reader and card come and go)."""

    def __init__(self, reader: str) -> None:
        self.name = reader
        self.present = False
        self.reader_ok = False
        self.listeners: list[SlotListener] = []

    async def watch(self) -> None:
        """Run the monitor thread until cancelled; an unplugged reader or a stopped pcscd is reader_ok=False."""
        from clerk_agent.card.pcsc import PcscMonitor

        monitor = PcscMonitor(
            asyncio.get_running_loop(), self.on_event, reader_filter=lambda n: n == self.name
        )
        monitor.start()
        try:
            await asyncio.Event().wait()
        finally:
            await asyncio.to_thread(monitor.stop)

    def on_event(self, event: CardEvent) -> None:
        """One monitor event (on the loop thread): update the slot and tell the flow."""
        from clerk_agent.card.pcsc import CardEventKind

        if event.kind is CardEventKind.READER_ADDED:
            self.reader_ok = True
        elif event.kind is CardEventKind.READER_REMOVED:
            logger.warning("card reader %s unavailable", self.name)
            self.reader_ok, self.present = False, False
        else:
            self.present = event.kind is CardEventKind.CARD_INSERTED
        _tell(self.listeners)

    @contextlib.contextmanager
    def session(self) -> Iterator[MyNumberCard]:
        """Connect exclusively; the transport resets the card on close so a verified PIN does not linger."""
        from clerk_agent.card.pcsc import PcscTransport

        if not self.reader_ok:
            raise ReaderUnavailable(f"reader {self.name} is not available")
        transport = PcscTransport(self.name).connect()
        try:
            yield MyNumberCard(transport)
        finally:
            transport.close()


def _tell(listeners: list[SlotListener]) -> None:
    for listener in listeners:
        listener()
