"""The card steps of a counter case: retry counters, code B, the applicant's PIN, the possession proof.

The PIN never waits on the hub: the card challenge is fetched before the applicant's PIN pad opens, the PIN
goes to the card in a worker thread and is wiped, and only the card's signature goes to the hub. Code B
(照合番号B) is checked against the card on its own, as soon as the clerk types it and before the PIN pad opens:
a wrong code B spends a code-B try (its own counter, shown to the clerk), never the applicant's PIN. It is kept
in memory only, until the card read.
"""

from __future__ import annotations

import asyncio
import base64
import re
import unicodedata

from clerk_agent.card.protocol import PinKind, PinStatus
from clerk_agent.card.reading import CounterRead, PossessionChallenge, read_at_counter
from clerk_agent.errors import (
    AgentError,
    CodeBBlocked,
    CodeBIncorrect,
    LastTryConfirmationRequired,
    PinIncorrect,
)
from clerk_agent.flows.cardslot import CardSlot
from clerk_agent.flows.case import CounterCase, PinPrompt
from clerk_agent.flows.desk import Desk
from clerk_agent.link.hub import HubRefused
from service.wire.calls import CardChallenge, CardProof
from service.wire.cases import CaseState

_SLOT_NOTICES = frozenset({"reader_unavailable", "card_absent", "card_removed", "transaction_failed"})
# The clerk's own notices about code B: the applicant's screen does not show them.
CODE_B_NOTICES = frozenset({"invalid_code_b", "code_b_incorrect", "code_b_blocked", "code_b_last_try"})


class CardSteps:
    """The card reader side of the flow's current case."""

    def __init__(self, desk: Desk, slot: CardSlot) -> None:
        self.desk = desk
        self.slot = slot
        self.pin = PinPrompt()
        self._code_b: bytearray | None = None
        self._lock = asyncio.Lock()
        self._preparing = False  # the clerk's code B and the poller may both ask for the PIN pad
        self.generation: str | None = None  # the generation the last card check detected
        slot.listeners.append(self.slot_changed)

    async def check(self) -> None:
        """Read the card's retry counters (no try spent) and show them before any PIN is asked for."""
        case = self.desk.require_case()
        try:
            async with self._lock:
                statuses = await asyncio.to_thread(self._statuses)
        except AgentError as exc:
            self.desk.notice = exc.code
            return
        auth = statuses[PinKind.JPKI_AUTH]
        case.card_generation = self.generation
        case.pin_retries = auth.retries_left
        case.pin_blocked = auth.blocked
        self.desk.notice = "pin_blocked" if auth.blocked else None
        await self.desk.save()

    def _statuses(self) -> dict[PinKind, PinStatus]:
        with self.slot.session() as card:
            card.detect()
            self.generation = card.generation.value  # which card is in the reader (docs/card.md §3)
            return dict(card.pin_statuses([PinKind.JPKI_AUTH]))

    def slot_changed(self) -> None:
        """The reader or the card came or went: say so now, and clear it once it is back (nothing was spent)."""
        if not self.slot.reader_ok:
            self.desk.notice = "reader_unavailable"
        elif not self.slot.present:
            if self.desk.case is not None and (self.pin.open or self.desk.current_step() == "card"):
                self.desk.notice = "card_absent"
        elif self.desk.notice in _SLOT_NOTICES:
            self.desk.notice = None

    def code_b_entered(self) -> bool:
        """Whether the clerk has typed code B (the digits themselves are never shown back)."""
        return self._code_b is not None

    async def set_code_b(self, code_b: str, *, confirm_last_try: bool = False) -> None:
        """照合番号B typed by the clerk from the card face: checked against the card before the PIN pad opens."""
        case = self.desk.require_case()
        # Full-width digits and the spaces a clerk types between the three parts are cleaned, nothing else.
        code_b = re.sub(r"\s+", "", unicodedata.normalize("NFKC", code_b))
        if len(code_b) != 14 or not code_b.isascii() or not code_b.isdigit():
            self.desk.notice = "invalid_code_b"
            return
        typed = bytearray(code_b.encode())
        try:
            async with self._lock:
                await asyncio.to_thread(self._check_code_b, bytearray(typed), confirm_last_try)
        except CodeBIncorrect as exc:
            typed[:] = bytes(len(typed))
            case.code_b_retries = exc.retries_left
            self.desk.notice = "code_b_incorrect"
            await self.desk.save()
            return
        except CodeBBlocked:
            typed[:] = bytes(len(typed))
            case.code_b_retries = 0
            self.desk.notice = "code_b_blocked"
            await self.desk.save()
            return
        except LastTryConfirmationRequired:
            typed[:] = bytes(len(typed))
            case.code_b_retries = 1
            self.desk.notice = "code_b_last_try"
            await self.desk.save()
            return
        except AgentError as exc:
            typed[:] = bytes(len(typed))
            self.desk.notice = exc.code
            return
        self.wipe()
        self._code_b = typed
        case.code_b_retries = None  # a right code B resets the card's counter
        self.desk.notice = None
        await self.desk.save()
        if case.hub_state == CaseState.session_live:
            await self.prepare_pin()

    def _check_code_b(self, code_b: bytearray, confirm_last_try: bool) -> None:
        with self.slot.session() as card:
            card.detect()
            card.verify_card_face_code(code_b, confirm_last_try=confirm_last_try)

    def wants_pin(self) -> bool:
        """Whether the PIN pad should be prepared now (code B typed, no challenge fetched yet)."""
        return self._code_b is not None and self.pin.challenge is None and not self._preparing

    async def confirm_last_try(self) -> None:
        """The clerk confirmed spending the last PIN try (「残り1回です…」)."""
        self.pin.confirmed = True
        self.pin.needs_clerk_confirm = False

    async def prepare_pin(self) -> None:
        """Fetch the card challenge, read the counters, then open the applicant's PIN pad."""
        case = self.desk.require_case()
        if self._preparing:
            return
        if case.case_id is None:
            return
        self._preparing = True
        try:
            challenge = await self.desk.client.card_challenge(case.case_id)
        except HubRefused as exc:
            self.desk.refused(exc)
            return
        finally:
            self._preparing = False
        self.pin.challenge = challenge
        await self.check()
        self.pin.retries_left = case.pin_retries
        self.pin.needs_clerk_confirm = case.pin_retries == 1 and not self.pin.confirmed
        self.pin.open = not case.pin_blocked

    async def submit_pin(self, pin: bytearray) -> bool:
        """The applicant's PIN, once: to the card in a worker thread, wiped; the signature goes to the hub.

        True once the hub has judged the proof: the evidence is then in, and the counter flow says so.
        """
        case = self.desk.require_case()
        try:
            if not self.pin.open or self.pin.challenge is None or self._code_b is None:
                self.desk.notice = "pin_not_open"
                return False
            if self.pin.needs_clerk_confirm and not self.pin.confirmed:
                self.desk.notice = "last_try_confirmation_required"
                return False
            challenge = self.pin.challenge
            possession = PossessionChallenge(challenge.origin, challenge.nonce, challenge.case_id)
            try:
                async with self._lock:
                    read = await asyncio.to_thread(self._read, pin, bytearray(self._code_b), possession)
            except (CodeBIncorrect, CodeBBlocked) as exc:
                # Checked when typed, so only a card swapped since: code B is typed again, the PIN was right.
                self.desk.notice = exc.code
                case.code_b_retries = exc.retries_left if isinstance(exc, CodeBIncorrect) else 0
                self.reset()
                return False
            except PinIncorrect as exc:
                self.desk.notice = exc.code
                case.pin_retries = self.pin.retries_left = exc.retries_left
                self.pin.needs_clerk_confirm = exc.retries_left == 1
                self.pin.confirmed = False
                return False
            except AgentError as exc:
                self.desk.notice = exc.code
                if exc.code == "pin_blocked":
                    case.pin_blocked, self.pin.open = True, False
                return False
        finally:
            pin[:] = bytes(len(pin))
        self.reset()
        self.desk.notice = None
        return await self._post_proof(case, challenge, read)

    def _read(self, pin: bytearray, code_b: bytearray, challenge: PossessionChallenge) -> CounterRead:
        try:
            with self.slot.session() as card:
                return read_at_counter(
                    card,
                    auth_pin=pin,
                    code_b=code_b,
                    challenge=challenge,
                    confirm_last_try=self.pin.confirmed,
                )
        finally:
            code_b[:] = bytes(len(code_b))

    async def _post_proof(self, case: CounterCase, challenge: CardChallenge, read: CounterRead) -> bool:
        def b64(data: bytes | None) -> str | None:
            return base64.b64encode(data).decode() if data else None

        proof = CardProof(
            challenge_id=challenge.challenge_id,
            certificate=base64.b64encode(read.auth_certificate).decode(),
            signature=base64.b64encode(read.signature).decode(),
            atr=read.atr.hex(),
            card_face=b64(read.card_face.raw) if read.card_face else None,
            card_face_signature=b64(read.card_face_signature),
            card_generation=read.generation,
        )
        try:
            outcome = await self.desk.client.submit_card_proof(challenge.case_id, proof)
        except HubRefused as exc:
            self.desk.refused(exc)
            case.proof_ok = False
            return False
        case.proof_ok = outcome.evidence.ok
        case.card_generation = read.generation.value
        if not case.proof_ok:
            self.desk.notice = "proof_failed"
        return True

    def wipe(self) -> None:
        """Forget code B."""
        if self._code_b is not None:
            self._code_b[:] = bytes(len(self._code_b))
            self._code_b = None

    def reset(self) -> None:
        """Close the PIN pad and forget code B (after a read, an abort, a new case)."""
        self.pin = PinPrompt()
        self.wipe()
