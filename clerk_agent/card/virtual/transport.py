"""An in-process Transport over a VirtualMyNumberCard, with insertion, removal and removal mid-exchange."""

from __future__ import annotations

from clerk_agent.card.virtual.card import VirtualMyNumberCard
from clerk_agent.errors import CardAbsent, CardRemoved


class InProcessTransport:
    """Connects the card protocol straight to an emulator; no pcscd involved."""

    def __init__(self, card: VirtualMyNumberCard | None = None) -> None:
        self._card: VirtualMyNumberCard | None = None
        self._removed_since_connect = False
        self._remaining: int | None = None
        if card is not None:
            self.insert(card)

    @property
    def card(self) -> VirtualMyNumberCard | None:
        """The card in the slot, if any."""
        return self._card

    @property
    def atr(self) -> bytes:
        """The ATR of the inserted card."""
        if self._card is None:
            raise CardAbsent("no card in the virtual slot")
        return self._card.atr

    def insert(self, card: VirtualMyNumberCard) -> None:
        """Put a card in the slot and power it on."""
        card.power_on()
        self._card = card
        self._removed_since_connect = False
        self._remaining = None

    def remove(self) -> None:
        """Pull the card out; the next transmit fails with CardRemoved."""
        if self._card is not None:
            self._card.power_off()
        self._card = None
        self._removed_since_connect = True

    def remove_after(self, count: int) -> None:
        """Let `count` more APDUs through, then pull the card before the next one reaches it."""
        self._remaining = count

    def transmit(self, apdu: bytes | bytearray) -> bytes:
        """Send one APDU to the emulator."""
        if self._remaining is not None:
            if self._remaining == 0:
                self.remove()
            else:
                self._remaining -= 1
        if self._card is None:
            if self._removed_since_connect:
                raise CardRemoved("the card was removed")
            raise CardAbsent("no card in the virtual slot")
        return self._card.process(bytes(apdu))
