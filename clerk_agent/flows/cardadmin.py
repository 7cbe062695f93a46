"""The seam where the counter hands card work to whoever can do it (docs/card-procedures.md §Seam).

`CardAdmin` is what the counter flow calls: renew the planned certificates, set a PIN. `LocalCardAdmin` does what
the card allows the holder to do alone — a PIN change, VERIFY of the current PIN then CHANGE REFERENCE DATA — and
hands the rest (a reset, a certificate write, which need the issuer's administrative keys) to an `IssuerChannel`:
`RelayIssuerChannel`, the issuer's SCP03 channel relayed through the hub (cardrelay.py), is the counter's default;
without a channel it raises CardAdminUnavailable before touching the card.

Every PIN given here is a bytearray and is wiped here, whatever happens.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections.abc import AsyncIterator
from typing import Protocol

from cryptography import x509

from clerk_agent.card.protocol import MyNumberCard, PinKind, PinStatus
from clerk_agent.errors import CardAdminUnavailable, CardError
from clerk_agent.flows import cardrelay
from clerk_agent.flows.cardslot import CardSlot
from clerk_agent.link.hub import HubLink, HubRefused
from service.wire.cardadmin import CardState, PinName
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

    async def generation(self) -> str:
        """The card's generation (`gen2016`, `gen2028`): the hub plans with that profile's terms."""


class IssuerChannel(Protocol):
    """The issuer's secure channel to the card (issue #16 item 1): what needs its administrative keys."""

    async def renew_certificates(self, case_id: str, plan: EcertPlan) -> list[str]:
        """Key pair on the card, certificate written and verified, the old one revoked; the codes done."""

    async def reset_pin(self, case_id: str, which: PinWhich, new_pin: bytearray) -> None:
        """Set `which` to `new_pin` under the issuer's authority (初期化); wipes `new_pin`."""


# The PINs the issuer's channel can reset (the virtual and real cards' JPKI and 券面事項入力補助 PINs); 住基 is not
# reachable through it.
RELAY_PINS: dict[PinWhich, PinName] = {
    PinWhich.auth: PinName.auth,
    PinWhich.sign: PinName.sign,
    PinWhich.kenhojo: PinName.kenhojo,
}


class RelayIssuerChannel:
    """The issuer's SCP03 channel, relayed opaque through the hub to the card in the counter's slot.

    The hub (for the issuer) makes every command and checks every answer; this side connects the card and hands
    the bytes over (cardrelay.py). The whole run is one card session: the channel lives only while the card is
    connected. A renewal the hub already finished (a retry after the record was lost) counts as done.
    """

    def __init__(self, link: HubLink, slot: CardSlot, *, on_step: cardrelay.StepHook | None = None) -> None:
        self.link = link
        self.slot = slot
        self.on_step = on_step

    async def renew_certificates(self, case_id: str, plan: EcertPlan) -> list[str]:
        """Key pairs on the card, certificates from the issuer, written, verified at the hub, the old revoked."""
        codes = [f"{p.action.value}_{p.certificate.value}" for p in plan.certificates]
        async with _session(self.slot) as card:
            try:
                result = await cardrelay.renew_certificates(
                    self.link, card.transport, case_id, on_step=self.on_step
                )
            except HubRefused as refused:
                if refused.problem_code == "card_admin_done":
                    return codes
                raise _refusal(refused) from refused
        if result.outcome not in ("renewed", "renewed_revocation_pending"):
            # The card is new but the hub could not verify what it holds: not reported as done.
            raise cardrelay.CardAdminRefused(result.outcome, result.card_state)
        return codes

    async def reset_pin(self, case_id: str, which: PinWhich, new_pin: bytearray) -> None:
        """The issuer authorises one reset; `new_pin` goes from here to the card only, and is wiped."""
        try:
            name = RELAY_PINS.get(which)
            if name is None:
                raise CardAdminUnavailable(f"the issuer's channel does not reach the {which.value} PIN")
            async with _session(self.slot) as card:
                try:
                    await cardrelay.reset_pin(
                        self.link, card.transport, case_id, name, new_pin, on_step=self.on_step
                    )
                except HubRefused as refused:
                    raise _refusal(refused) from refused
        finally:
            _wipe(new_pin)


@contextlib.asynccontextmanager
async def _session(slot: CardSlot) -> AsyncIterator[MyNumberCard]:
    """The slot's card session, connected and closed off the event loop (a PC/SC connect blocks)."""
    manager = slot.session()
    card = await asyncio.to_thread(manager.__enter__)
    try:
        yield card
    finally:
        await asyncio.to_thread(manager.__exit__, None, None, None)


def _refusal(refused: HubRefused) -> CardError:
    """The hub refused the run before a command left it: the card is as it was."""
    if refused.problem_code == "card_admin_not_allowed":
        # No issuer at this hub, or work the case's plan does not hold: not possible here.
        return CardAdminUnavailable(f"the hub refused the issuer's channel ({refused.problem_code})")
    return cardrelay.CardAdminRefused(refused.problem_code or "hub_refused", CardState.old)


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

    async def generation(self) -> str:
        """The generation `detect` finds on the card."""

        def read() -> str:
            with self.slot.session() as card:
                card.detect()
                return card.generation.value

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
