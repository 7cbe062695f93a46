"""The counter's card reader as the flow sees it: present or not, and one exclusive session per read."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

from clerk_agent.card.protocol import MyNumberCard
from clerk_agent.errors import AgentError, CardAbsent, ReaderUnavailable

logger = logging.getLogger(__name__)


class CardSlot(Protocol):
    """A reader slot: `present` is kept current by `watch`; `session` opens the card (blocking, in a thread)."""

    present: bool
    reader_ok: bool
    name: str

    async def watch(self) -> None:
        """Keep `present` and `reader_ok` current until cancelled."""

    def session(self) -> contextlib.AbstractContextManager[MyNumberCard]:
        """Connect to the card for one read; closes (and resets) it afterwards."""


class VirtualSlot:
    """The Virtual My Number Card in-process; `remove`/`insert` simulate the applicant taking the card out."""

    def __init__(self, pki_dir: Path, person_key: str) -> None:
        from clerk_agent.card.virtual.build import build_virtual_card, load_card_material, person
        from clerk_agent.card.virtual.transport import InProcessTransport

        self.name = f"virtual:{person_key}"
        self._card = build_virtual_card(person(person_key), load_card_material(pki_dir, person_key))
        self._transport = InProcessTransport(self._card)
        self.present = True
        self.reader_ok = True

    def remove(self) -> None:
        """Take the card out of the virtual slot."""
        self._transport.remove()
        self.present = False

    def insert(self) -> None:
        """Put the card back."""
        self._transport.insert(self._card)
        self.present = True

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
    """A PC/SC reader chosen by exact name, polled for presence (cheap: no connection to the card)."""

    def __init__(self, reader: str, *, interval_s: float = 0.5) -> None:
        self.name = reader
        self.present = False
        self.reader_ok = False
        self._interval_s = interval_s

    async def watch(self) -> None:
        """Poll the reader's state; an unplugged reader or a stopped pcscd shows as reader_ok=False."""
        from clerk_agent.card.pcsc import reader_state

        while True:
            try:
                present, _events = await asyncio.to_thread(reader_state, self.name)
            except AgentError as exc:
                if self.reader_ok:
                    logger.warning("card reader %s unavailable: %s", self.name, exc.code)
                self.reader_ok, self.present = False, False
            else:
                self.reader_ok, self.present = True, present
            await asyncio.sleep(self._interval_s)

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
