"""What the card protocol needs from a reader: send one APDU, get data+SW back (httpx-style injectable transport)."""

from __future__ import annotations

from typing import Protocol, runtime_checkable


@runtime_checkable
class Transport(Protocol):
    """A connection to one card. Implementations raise clerk_agent.errors, never a library's own exceptions."""

    @property
    def atr(self) -> bytes:
        """The card's answer-to-reset."""
        ...

    def transmit(self, apdu: bytes | bytearray) -> bytes:
        """Send one command APDU; return response data followed by SW1 SW2."""
        ...


@runtime_checkable
class PinPadTransport(Transport, Protocol):
    """A transport whose reader can take the PIN on its own keypad (PC/SC Part 10 FEATURE_VERIFY_PIN_DIRECT)."""

    @property
    def has_pinpad(self) -> bool:
        """Whether the reader offers FEATURE_VERIFY_PIN_DIRECT."""
        ...

    def verify_pin_direct(self, verify_header: bytes, pin_length: int) -> bytes:
        """Let the reader collect a PIN of exactly `pin_length` ASCII digits and send VERIFY; returns SW."""
        ...
