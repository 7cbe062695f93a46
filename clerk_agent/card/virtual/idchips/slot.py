"""An in-process Transport over a virtual chip (no pcscd): for unit tests and the bench's APDU floor."""

from __future__ import annotations

from clerk_agent.card.virtual.vicc import VirtualChip


class InProcessChipSlot:
    """Hands each APDU straight to the chip."""

    def __init__(self, chip: VirtualChip) -> None:
        self.chip = chip
        chip.reset()

    @property
    def atr(self) -> bytes:
        """The chip's ATR."""
        return self.chip.atr

    def transmit(self, apdu: bytes | bytearray) -> bytes:
        """One APDU to the chip."""
        return self.chip.process(bytes(apdu))
