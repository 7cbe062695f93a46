"""The seam where the counter hands card work to whoever can do it (docs/card-procedures.md §Seam).

`CardAdmin` is what the counter flow calls: renew the planned certificates, set a PIN. `LocalCardAdmin` does what
the card allows the holder to do alone — a PIN change, VERIFY of the current PIN then CHANGE REFERENCE DATA — and
hands the rest (a reset, a certificate write, which need the issuer's administrative keys) to an `IssuerChannel`
when one is plugged in; without one it raises CardAdminUnavailable before touching the card.

Every PIN given here is a bytearray and is wiped here, whatever happens.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Protocol

from cryptography import x509

from clerk_agent.card.protocol import PinKind, PinStatus
from clerk_agent.errors import CardAdminUnavailable
from clerk_agent.flows.cardslot import CardSlot
from service.wire.cardwork import EcertPlan, PinMode, PinWhich

# The card's key for each PIN the virtual and real cards let the holder change alone. 住基 (the resident
# registry AP) is not on the virtual card: its change goes to the issuer's channel like a reset.
PIN_KEYS: dict[PinWhich, PinKind] = {
    PinWhich.auth: PinKind.JPKI_AUTH,
    PinWhich.sign: PinKind.JPKI_SIGN,
    PinWhich.kenhojo: PinKind.KENHOJO_PIN,
}


class CardAdmin(Protocol):
    """Card work at the counter after the officer's approval."""

    async def renew(self, case_id: str, plan: EcertPlan) -> list[str]:
        """Issue or renew the planned certificates on the card; the codes done (e.g. `renew_auth`)."""

    async def set_pin(
        self, case_id: str, which: PinWhich, mode: PinMode, new_pin: bytearray, current_pin: bytearray | None
    ) -> None:
        """Change (current PIN given) or reset a PIN to `new_pin`; both bytearrays are wiped."""

    async def pin_statuses(self, which: list[PinWhich]) -> dict[PinWhich, PinStatus]:
        """The tries left of each PIN, read without spending one (a PIN the card cannot say is left out)."""

    async def not_after(self) -> dt.date | None:
        """The expiry of the 利用者証明用 certificate on the card (readable without a PIN), None if none."""


class IssuerChannel(Protocol):
    """The issuer's secure channel to the card (issue #16 item 1): what needs its administrative keys."""

    async def renew_certificates(self, case_id: str, plan: EcertPlan) -> list[str]:
        """Key pair on the card, certificate written and verified, the old one revoked; the codes done."""

    async def reset_pin(self, case_id: str, which: PinWhich, new_pin: bytearray) -> None:
        """Set `which` to `new_pin` under the issuer's authority (初期化); wipes `new_pin`."""


def _wipe(*secrets: bytearray | None) -> None:
    for secret in secrets:
        if secret is not None:
            secret[:] = bytes(len(secret))


class LocalCardAdmin:
    """The card in the counter's reader; the issuer's channel for what the holder cannot do alone."""

    def __init__(self, slot: CardSlot, issuer: IssuerChannel | None = None) -> None:
        self.slot = slot
        self.issuer = issuer

    async def renew(self, case_id: str, plan: EcertPlan) -> list[str]:
        """Needs the issuer's channel: a certificate is never written by the post office's own means."""
        if self.issuer is None:
            raise CardAdminUnavailable("certificate issue needs the issuer's channel")
        return await self.issuer.renew_certificates(case_id, plan)

    async def set_pin(
        self, case_id: str, which: PinWhich, mode: PinMode, new_pin: bytearray, current_pin: bytearray | None
    ) -> None:
        """A change on the card itself where it can; a reset (or a PIN the card cannot change here) by the issuer."""
        try:
            key = PIN_KEYS.get(which)
            if mode is PinMode.change and key is not None and current_pin is not None:
                await asyncio.to_thread(self._change, key, current_pin, new_pin)
                return
            if self.issuer is None:
                raise CardAdminUnavailable(f"{mode.value} of {which.value} needs the issuer's channel")
            await self.issuer.reset_pin(case_id, which, new_pin)
        finally:
            _wipe(new_pin, current_pin)

    def _change(self, key: PinKind, current: bytearray, new: bytearray) -> None:
        with self.slot.session() as card:
            card.detect()
            card.change_pin(key, current, new)

    async def pin_statuses(self, which: list[PinWhich]) -> dict[PinWhich, PinStatus]:
        """Tries left, for the PINs the card can report here."""
        keys = {w: PIN_KEYS[w] for w in which if w in PIN_KEYS}

        def read() -> dict[PinWhich, PinStatus]:
            with self.slot.session() as card:
                card.detect()
                statuses = card.pin_statuses(keys.values())
            return {w: statuses[k] for w, k in keys.items()}

        return await asyncio.to_thread(read)

    async def not_after(self) -> dt.date | None:
        """The 利用者証明用 certificate's last day (its notAfter, in Japan)."""

        def read() -> bytes:
            with self.slot.session() as card:
                card.detect()
                return card.read_auth_certificate()

        der = await asyncio.to_thread(read)
        if not der or der.strip(b"\xff") == b"":
            return None
        cert = x509.load_der_x509_certificate(der)
        return cert.not_valid_after_utc.astimezone(dt.timezone(dt.timedelta(hours=9))).date()
