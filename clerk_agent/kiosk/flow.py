"""The lobby terminal's steps: card → certificate and options → 4-digit PIN → the hub decides → slip → take the card.

One resident at a time. Nothing about them is kept after the session: the choice, the hub's challenge and the
answer live in a `KioskSession` that is dropped when the card leaves, when the resident cancels, or after
`idle_timeout_s` without a touch. The PIN goes from the request body to the card in a worker thread and is wiped
(it never reaches the hub); the card signs the hub's nonce for this request only, with the counter's card-proof
code (clerk_agent/card/reading.py). The terminal refuses to spend the last PIN try: a resident with one try left is
sent to the municipal counter, as the counter does (docs/certificate-printing.md §Terminal).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import time
from dataclasses import dataclass, field
from enum import StrEnum

from clerk_agent.card.protocol import PinKind, PinStatus
from clerk_agent.card.reading import CounterRead, PossessionChallenge, read_at_counter
from clerk_agent.errors import AgentError, CardAbsent, CardRemoved, PinIncorrect, PrinterError
from clerk_agent.flows.cardslot import CardSlot
from clerk_agent.link.client import HubClient
from clerk_agent.link.hub import HubRefused, HubUnavailable
from clerk_agent.printing.ipp import IppPrinter
from service.wire.certificates import (
    Catalogue,
    CertificateKind,
    CertificateOption,
    KindOffer,
    KioskAnswer,
    KioskChallenge,
    KioskProofBody,
    KioskRequestBody,
    Receipt,
    Scope,
)

logger = logging.getLogger(__name__)


class KioskStep(StrEnum):
    """Where the resident is; `progress` numbers the forward steps for the progress bar."""

    insert = "insert"  # カードを置いてください
    choose = "choose"  # 証明書と記載事項を選ぶ
    pin = "pin"  # 利用者証明用暗証番号（4桁）
    working = "working"  # the card signs, the hub decides, the slip prints
    receipt = "receipt"  # the slip is out: take it to the counter
    refused = "refused"  # the neutral "please ask at the counter"
    take_card = "take_card"  # alarm until the card is removed


PROGRESS: dict[KioskStep, int] = {
    KioskStep.insert: 1,
    KioskStep.choose: 2,
    KioskStep.pin: 3,
    KioskStep.working: 4,
    KioskStep.receipt: 5,
    KioskStep.refused: 5,
    KioskStep.take_card: 5,
}
PROGRESS_STEPS = 5


@dataclass
class KioskSession:
    """One resident's session: dropped whole at the end (no name, no number, no PIN in it)."""

    kind: CertificateKind | None = None
    count: int = 1
    scope: Scope | None = None
    options: list[CertificateOption] = field(default_factory=list)
    challenge: KioskChallenge | None = None
    pin_retries: int | None = None
    answer: KioskAnswer | None = None
    slip_printed: bool | None = None
    slip_problem: str = ""


class KioskFlow:
    """The terminal's state, driven by the touch UI and the card slot; `run` watches the idle timeout."""

    def __init__(
        self,
        client: HubClient,
        slot: CardSlot,
        printer: IppPrinter | None,
        *,
        municipality_code: str = "",
        idle_timeout_s: float = 60.0,
    ) -> None:
        self.client = client
        self.slot = slot
        self.printer = printer
        self.municipality_code = municipality_code
        self.idle_timeout_s = idle_timeout_s
        self.step = KioskStep.insert
        self.notice: str | None = None
        self.problem_code = ""
        self.catalogue: Catalogue | None = None
        self.session = KioskSession()
        self.unprinted_receipt = ""
        self.last_touch = time.monotonic()
        self._lock = asyncio.Lock()
        self._card_changed = asyncio.Event()
        slot.listeners.append(self._slot_changed)

    # --- the card slot ----------------------------------------------------------------------------------

    def _slot_changed(self) -> None:
        self._card_changed.set()

    async def run(self) -> None:
        """React to the card and the clock until cancelled."""
        while True:
            with contextlib.suppress(TimeoutError):  # the idle clock is looked at twice a second
                await asyncio.wait_for(self._card_changed.wait(), timeout=0.5)
            self._card_changed.clear()
            await self.tick()

    async def tick(self) -> None:
        """One look at the card and the idle clock (the UI's state poll calls it too)."""
        present = self.slot.present and self.slot.reader_ok
        if self.step is KioskStep.insert and present:
            await self._card_inserted()
        elif self.step in {KioskStep.take_card, KioskStep.receipt, KioskStep.refused} and not present:
            answer = self.session.answer
            unprinted = answer.receipt if answer is not None and self.session.slip_printed is False else None
            notice = "slip_not_printed" if unprinted and self.step is KioskStep.receipt else None
            self.end_session(notice=notice)
            # The slip did not print: its number stays on the waiting screen until the next card.
            self.unprinted_receipt = unprinted.receipt_number if unprinted and notice else ""
        elif not present and self.step in {KioskStep.choose, KioskStep.pin}:
            # Card taken out mid-way: nothing was sent that stands on its own; start over.
            self.end_session(notice="card_removed")
        elif self.step in {KioskStep.choose, KioskStep.pin} and self.idle():
            self._finish(KioskStep.take_card, notice="idle_timeout")

    def idle(self) -> bool:
        """No touch for longer than the idle timeout."""
        return time.monotonic() - self.last_touch > self.idle_timeout_s

    def touch(self) -> None:
        """The resident touched the screen."""
        self.last_touch = time.monotonic()

    async def _card_inserted(self) -> None:
        self.touch()
        self.session = KioskSession()
        self.notice, self.problem_code, self.unprinted_receipt = None, "", ""
        try:
            if not self.municipality_code:
                device = await self.client.device_self()
                self.municipality_code = next((d.municipality_code for d in device.designations), "")
            self.catalogue = await self.client.certificate_catalogue(self.municipality_code)
        except HubUnavailable:
            self._finish(KioskStep.take_card, notice="hub_unavailable")
            return
        except HubRefused as exc:
            self._finish(KioskStep.take_card, notice="hub_refused", problem=exc.problem_code)
            return
        if not self.catalogue.open_now:
            self._finish(KioskStep.take_card, notice="service_closed")
            return
        self.step = KioskStep.choose

    # --- the resident's choice ----------------------------------------------------------------------------

    def offer(self, kind: CertificateKind) -> KindOffer:
        """The catalogue's offer of `kind` (ValueError when the terminal does not offer it)."""
        for offer in self.catalogue.kinds if self.catalogue else []:
            if offer.kind == kind:
                return offer
        raise ValueError(f"{kind} is not offered")

    async def choose(
        self,
        kind: CertificateKind,
        *,
        count: int = 1,
        scope: Scope | None = None,
        options: list[CertificateOption] | None = None,
    ) -> None:
        """The certificate, count, scope and options; then the card's tries and the hub's challenge."""
        if self.step is not KioskStep.choose:
            raise LookupError("not choosing now")
        self.touch()
        offer = self.offer(kind)
        chosen = list(dict.fromkeys(options or []))
        if any(option not in offer.options for option in chosen):
            raise ValueError("option not offered")  # 個人番号 stays off unless the municipality offers it
        if not 1 <= count <= offer.max_count:
            raise ValueError("count out of range")
        if offer.scopes and scope not in offer.scopes:
            raise ValueError("choose a scope")
        self.session.kind, self.session.count = kind, count
        self.session.scope = scope if offer.scopes else None
        self.session.options = chosen
        async with self._lock:
            try:
                status = await asyncio.to_thread(self._auth_status)
            except AgentError as exc:
                self._card_problem(exc)
                return
        self.session.pin_retries = status.retries_left
        if status.blocked:
            self._finish(KioskStep.take_card, notice="pin_blocked")
            return
        if status.retries_left == 1:
            # The counter asks the clerk before the last try; a terminal has no clerk, so it does not try.
            self._finish(KioskStep.take_card, notice="pin_last_try")
            return
        body = KioskRequestBody(
            municipality_code=self.municipality_code,
            kind=kind,
            count=count,
            scope=self.session.scope,
            options=chosen,
        )
        try:
            self.session.challenge = await self.client.certificate_request(body)
        except HubUnavailable:
            self._finish(KioskStep.take_card, notice="hub_unavailable")
            return
        except HubRefused as exc:
            self._finish(KioskStep.take_card, notice="hub_refused", problem=exc.problem_code)
            return
        self.notice = None
        self.step = KioskStep.pin

    def _auth_status(self) -> PinStatus:
        with self.slot.session() as card:
            card.detect()
            return card.pin_status(PinKind.JPKI_AUTH)

    # --- the PIN, the card's proof, the hub's decision, the slip ------------------------------------------

    async def submit_pin(self, pin: bytearray) -> None:
        """The 4-digit 利用者証明用 PIN: to the card in a worker thread and wiped; only the signature leaves."""
        try:
            challenge = self.session.challenge
            if self.step is not KioskStep.pin or challenge is None:
                raise LookupError("no PIN asked for now")
            self.touch()
            if len(pin) != 4 or not bytes(pin).isdigit():
                self.notice = "pin_format"
                return
            possession = PossessionChallenge(challenge.origin, challenge.nonce, challenge.request_id)
            self.step = KioskStep.working
            async with self._lock:
                try:
                    read = await asyncio.to_thread(self._read, pin, possession)
                except PinIncorrect as exc:
                    self.session.pin_retries = exc.retries_left
                    if exc.retries_left <= 1:
                        self._finish(KioskStep.take_card, notice="pin_last_try")
                    else:
                        self.step, self.notice = KioskStep.pin, "pin_incorrect"
                    return
                except AgentError as exc:
                    self._card_problem(exc)
                    return
        finally:
            pin[:] = bytes(len(pin))
        await self._decide(challenge, read)

    def _read(self, pin: bytearray, challenge: PossessionChallenge) -> CounterRead:
        with self.slot.session() as card:
            return read_at_counter(card, auth_pin=pin, challenge=challenge)

    async def _decide(self, challenge: KioskChallenge, read: CounterRead) -> None:
        proof = KioskProofBody(
            certificate=base64.b64encode(read.auth_certificate).decode(),
            signature=base64.b64encode(read.signature).decode(),
            atr=read.atr.hex(),
        )
        try:
            answer = await self.client.certificate_proof(challenge.request_id, proof)
        except HubUnavailable:
            self._finish(KioskStep.take_card, notice="hub_unavailable")
            return
        except HubRefused as exc:
            self._finish(KioskStep.take_card, notice="hub_refused", problem=exc.problem_code)
            return
        self.session.answer = answer
        self.session.challenge = None  # single use: the hub has spent it
        if answer.receipt is None:
            self.step, self.notice = KioskStep.refused, None
            return
        await self._print_slip(answer.receipt)
        self.step = KioskStep.receipt

    async def _print_slip(self, receipt: Receipt) -> None:
        from clerk_agent.kiosk.slip import render_slip

        if self.printer is None:
            self.session.slip_printed = False
            self.session.slip_problem = "no_printer"
            return
        catalogue_name = self.catalogue.municipality_name if self.catalogue else ""
        try:
            pdf = await asyncio.to_thread(render_slip, receipt, catalogue_name)
            await self.printer.print_pdf(pdf, job_name=f"receipt-{receipt.receipt_number}", deadline_s=60)
        except PrinterError as exc:
            # The receipt stands at the hub; the screen shows its number large instead.
            logger.warning("receipt slip not printed: %s", exc)
            self.session.slip_printed, self.session.slip_problem = False, exc.code
            return
        self.session.slip_printed = True

    # --- ends -----------------------------------------------------------------------------------------------

    def _card_problem(self, exc: AgentError) -> None:
        if isinstance(exc, CardAbsent | CardRemoved) or not self.slot.present:
            self.end_session(notice="card_removed")
        else:
            self._finish(KioskStep.take_card, notice=exc.code)

    def _finish(self, step: KioskStep, *, notice: str | None, problem: str = "") -> None:
        """Stop here with a message; the resident takes the card and the session is then dropped."""
        self.session.challenge = None
        self.step, self.notice, self.problem_code = step, notice, problem
        if step is KioskStep.take_card and not self.slot.present:
            self.end_session(notice=notice)

    async def cancel(self) -> None:
        """The resident pressed 「やめる」: take the card back."""
        self._finish(KioskStep.take_card, notice="cancelled")

    def end_session(self, *, notice: str | None) -> None:
        """Drop everything about the resident and wait for the next card."""
        self.session = KioskSession()
        self.step, self.notice, self.problem_code = KioskStep.insert, notice, ""
        self.touch()
