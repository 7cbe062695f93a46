"""The card work after the officer's approval (docs/card-procedures.md): e-certificates and PINs, at the counter.

The clerk chooses the work; the hub plans it (its rules, service/cardwork/rules.py); the applicant types any PIN on
their own screen, twice, checked here against the card's rules and never sent to the hub; the work goes to the
`CardAdmin` seam (cardadmin.py), and what was done is recorded at the hub as codes. Every phase has a way out
(`cancel`), and a PIN found locked during a renewal offers its reset in the same visit.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
from collections.abc import Coroutine
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Final

from pydantic import ValidationError

from clerk_agent.errors import AgentError, PinBlocked, PinIncorrect
from clerk_agent.flows.cardadmin import CardAdmin
from clerk_agent.flows.desk import Desk
from clerk_agent.link.hub import HubRefused, HubUnavailable
from service.wire.cardwork import (
    PIN_RULES,
    CertKind,
    EcertPlan,
    EcertPlanRequest,
    PinMode,
    PinPlanRequest,
    PinWhich,
    Requester,
)

logger = logging.getLogger(__name__)
# The PIN each certificate's renewal needs on the card (a locked one is reset first).
CERT_PINS: Final = {CertKind.sign: PinWhich.sign, CertKind.auth: PinWhich.auth}


class Phase(StrEnum):
    """Where the card work stands; the screens show one panel per phase."""

    choose = "choose"  # the clerk picks the work
    planning = "planning"  # asking the hub, reading the card
    pin_entry = "pin_entry"  # the applicant types on their screen
    working = "working"  # the card is being written
    locked = "locked"  # a PIN the renewal needs is locked: reset it now, or stop
    done = "done"
    failed = "failed"  # nothing was changed on the card; try again or stop


_ENTRY_NOTICES: Final = {
    ("rule", "current"): "pin_work_rule_current",
    ("rule", "new"): "pin_work_rule_new",
    ("mismatch", "new"): "pin_work_mismatch_new",
    ("same", "new"): "pin_work_same_new",
}


class PinEntryRefused(ValueError):
    """The applicant's entry breaks the PIN's rule or the two entries differ; names the field, never the value."""

    def __init__(self, kind: str, field: str) -> None:
        super().__init__(f"{kind} {field}")
        self.code = _ENTRY_NOTICES[(kind, field)]


@dataclass
class CardWorkState:
    """The current card work; PINs are never held here."""

    phase: Phase = Phase.choose
    kind: str | None = None  # "ecert" | "pin"
    plan: dict[str, object] | None = None  # the hub's EcertPlan, as JSON
    pin: PinWhich | None = None
    mode: PinMode | None = None
    locked: PinWhich | None = None
    resume: EcertPlanRequest | None = None  # the renewal to go on with after a reset
    done: list[str] = field(default_factory=list)
    step: str | None = None  # what the long step is doing now, for the progress line


def check_entry(raw: bytearray, which: PinWhich, mode: PinMode) -> tuple[bytearray | None, bytearray]:
    """(current PIN or None, new PIN) from the applicant's lines; `raw` is wiped, refusals wipe every part.

    Lines: for a change the current PIN, then the new one and its confirmation; for a reset the new one twice.
    """
    parts = [bytearray(p) for p in raw.split(b"\n")]
    raw[:] = bytes(len(raw))
    rule = PIN_RULES[which]
    keep: list[bytearray] = []
    try:
        expected = 3 if mode is PinMode.change else 2
        if len(parts) != expected:
            raise PinEntryRefused("rule", "new")
        current = parts[0] if mode is PinMode.change else None
        new, again = parts[-2], parts[-1]
        if current is not None and not rule.pattern.match(current.decode("ascii", "replace")):
            raise PinEntryRefused("rule", "current")
        if not rule.pattern.match(new.decode("ascii", "replace")):
            raise PinEntryRefused("rule", "new")
        if not hmac.compare_digest(bytes(new), bytes(again)):
            raise PinEntryRefused("mismatch", "new")
        if current is not None and hmac.compare_digest(bytes(current), bytes(new)):
            raise PinEntryRefused("same", "new")
        keep = [new] if current is None else [current, new]
        return current, new
    finally:
        for part in parts:
            if not any(part is k for k in keep):
                part[:] = bytes(len(part))


class CardWork:
    """The card-work steps of the counter flow's current (approved) case."""

    def __init__(self, desk: Desk, admin: CardAdmin) -> None:
        self.desk = desk
        self.admin = admin
        self.state = CardWorkState()
        self.pin_retries: int | None = None  # the current PIN's tries, shown before a change
        self.attempt = 0  # counts openings of the applicant's PIN form, so a re-opened form starts empty
        self._task: asyncio.Task[None] | None = None

    def reset(self) -> None:
        """Forget the work (a new case)."""
        if self._task is not None:
            self._task.cancel()
            self._task = None
        self.state = CardWorkState()
        self.pin_retries = None

    def cancel(self) -> None:
        """The way out of any phase but a write in progress: back to the choice, nothing done on the card."""
        if self.state.phase is Phase.working:
            self.desk.notice = "card_work_busy"
            return
        done = self.state.done
        self.reset()
        self.state.done = done
        self.desk.notice = None

    def _case_id(self) -> str:
        case = self.desk.require_case()
        if case.case_id is None:
            raise LookupError("the case is not at the hub yet")
        return case.case_id

    # --- e-certificates -------------------------------------------------------------------------

    async def plan_ecert(self, answers: dict[str, object]) -> None:
        """The clerk's choice and answers; the card's expiry is read here, the hub answers with the plan."""
        case_id = self._case_id()
        self.state = CardWorkState(phase=Phase.planning, kind="ecert", done=self.state.done)
        self.state.step = "reading_card"
        try:
            not_after = await self.admin.not_after()
            # The generation read from the card: the hub plans with that profile's window and validity.
            profile = await self.admin.generation()
            request = EcertPlanRequest.model_validate(
                {**answers, "current_not_after": not_after, "profile": profile}
            )
        except ValidationError:
            self.state.phase = Phase.choose
            self.desk.notice = "card_work_choice_required"
            return
        except AgentError as exc:
            self.state.phase = Phase.choose
            self.desk.notice = exc.code
            return
        await self._ecert(case_id, request)

    async def _ecert(self, case_id: str, request: EcertPlanRequest) -> None:
        self.state.step = "asking_hub"
        try:
            plan = await self.desk.client.ecert_plan(case_id, request)
        except HubRefused as exc:
            self.state.phase = Phase.choose
            self.desk.refused(exc)
            return
        except HubUnavailable:
            self.state.phase = Phase.failed
            self.desk.notice = "card_work_hub_unreachable"
            return
        self.state.plan = plan.model_dump(mode="json")
        # A PIN the renewal needs, locked: offer its reset now, in the same visit.
        needed = [CERT_PINS[p.certificate] for p in plan.certificates]
        try:
            statuses = await self.admin.pin_statuses(needed)
        except AgentError as exc:
            self.state.phase = Phase.failed
            self.desk.notice = exc.code
            return
        locked = next((w for w in needed if w in statuses and statuses[w].blocked), None)
        if locked is not None:
            self.state.phase, self.state.locked, self.state.resume = Phase.locked, locked, request
            self.desk.notice = None
            return
        self._work(self._renew(case_id, plan))

    async def _renew(self, case_id: str, plan: EcertPlan) -> None:
        self.state.step = "writing_certificates"
        done = await self.admin.renew(case_id, plan)
        await self._record(case_id, done)

    async def reset_locked(self) -> None:
        """The clerk chose to reset the locked PIN now; the renewal goes on after it."""
        locked = self.state.locked
        if self.state.phase is not Phase.locked or locked is None:
            raise LookupError("no locked PIN to reset")
        resume = self.state.resume
        await self.plan_pin(locked, PinMode.reset)
        self.state.resume = resume

    # --- PINs -----------------------------------------------------------------------------------

    async def plan_pin(self, which: PinWhich | str, mode: PinMode | str, requester: str = "holder") -> None:
        """Change or reset one PIN: the hub's yes, then the applicant's screen opens for the new PIN."""
        case_id = self._case_id()
        try:
            body = PinPlanRequest(pin=PinWhich(which), mode=PinMode(mode), requester=Requester(requester))
        except ValueError:
            self.desk.notice = "card_work_choice_required"
            return
        self.state = CardWorkState(phase=Phase.planning, kind="pin", done=self.state.done)
        self.state.step = "asking_hub"
        try:
            plan = await self.desk.client.pin_plan(case_id, body)
        except HubRefused as exc:
            self.state.phase = Phase.choose
            self.desk.refused(exc)
            return
        except HubUnavailable:
            self.state.phase = Phase.failed
            self.desk.notice = "card_work_hub_unreachable"
            return
        self.state.pin, self.state.mode = plan.pin, plan.mode
        self.pin_retries = None
        if plan.mode is PinMode.change:
            try:
                statuses = await self.admin.pin_statuses([plan.pin])
            except AgentError as exc:
                self.state.phase = Phase.failed
                self.desk.notice = exc.code
                return
            status = statuses.get(plan.pin)
            if status is not None and status.blocked:
                # A locked PIN cannot be changed with the current one: only a reset helps.
                self.state.phase, self.state.locked = Phase.locked, plan.pin
                return
            self.pin_retries = status.retries_left if status else None
        self.state.phase = Phase.pin_entry
        self.attempt += 1
        self.desk.notice = None

    async def submit_pin(self, raw: bytearray) -> None:
        """The applicant's lines from their screen: checked here, handed to the card work, wiped."""
        state = self.state
        try:
            case = self.desk.case
            if (
                state.phase is not Phase.pin_entry
                or state.pin is None
                or state.mode is None
                or case is None
                or case.case_id is None
            ):
                self.desk.notice = "pin_not_open"
                return
            case_id = case.case_id
            current, new = check_entry(raw, state.pin, state.mode)
        except PinEntryRefused as refused:
            self.desk.notice = refused.code
            return
        finally:
            raw[:] = bytes(len(raw))
        self.desk.notice = None
        self._work(self._set_pin(case_id, state.pin, state.mode, new, current))

    async def _set_pin(
        self, case_id: str, which: PinWhich, mode: PinMode, new: bytearray, current: bytearray | None
    ) -> None:
        self.state.step = "writing_pin"
        try:
            await self.admin.set_pin(case_id, which, mode, new, current)
        except PinBlocked:
            # The last try went wrong: the PIN is locked now, and only a reset helps.
            self.state.phase, self.state.locked = Phase.locked, which
            self.desk.notice = "pin_blocked"
            return
        except PinIncorrect as exc:
            # The current PIN was wrong: the card spent a try; the applicant types again.
            self.pin_retries = exc.retries_left
            self.state.phase = Phase.pin_entry
            self.attempt += 1
            self.desk.notice = "pin_work_current_incorrect"
            return
        finally:
            new[:] = bytes(len(new))
            if current is not None:
                current[:] = bytes(len(current))
        await self._record(case_id, [f"{mode.value}_{which.value}"])
        resume = self.state.resume
        if resume is not None:
            # The reset was for a renewal: go on with it now (the hub plans it again on today's facts).
            done = self.state.done
            self.state = CardWorkState(phase=Phase.planning, kind="ecert", done=done)
            await self._ecert(case_id, resume)

    # --- shared ---------------------------------------------------------------------------------

    def request_ecert(self, answers: dict[str, object]) -> None:
        """Start planning an e-certificate issue or renewal without holding the clerk's request."""
        self._case_id()
        if self._task is not None:
            self.desk.notice = "card_work_busy"
            return
        self.state = CardWorkState(
            phase=Phase.planning, kind="ecert", done=self.state.done, step="reading_card"
        )
        self._background(self.plan_ecert(answers))

    def request_pin(self, which: str, mode: str, requester: str) -> None:
        """Start planning a PIN change or reset without holding the clerk's request."""
        self._case_id()
        if self._task is not None:
            self.desk.notice = "card_work_busy"
            return
        self.state = CardWorkState(phase=Phase.planning, kind="pin", done=self.state.done, step="asking_hub")
        self._background(self.plan_pin(which, mode, requester))

    def _work(self, work: Coroutine[Any, Any, None]) -> None:
        """Run a card write without holding the clerk's request; its outcome lands in the state."""
        self.state.phase = Phase.working
        self._background(work)

    def _background(self, work: Coroutine[Any, Any, None]) -> None:
        async def run() -> None:
            try:
                await work
            except AgentError as exc:
                self.state.phase = Phase.failed
                self.desk.notice = exc.code
            except HubUnavailable:
                self.state.phase = Phase.failed
                self.desk.notice = "card_work_hub_unreachable"
            finally:
                if self._task is asyncio.current_task():
                    self._task = None

        self._task = asyncio.create_task(run(), name="card-work")

    async def _record(self, case_id: str, done: list[str]) -> None:
        self.state.step = "recording"
        self.state.done = sorted({*self.state.done, *done})
        case = self.desk.require_case()
        case.card_work_done = list(self.state.done)
        await self.desk.save()
        try:
            await self.desk.client.card_work_done(case_id, done)
        except HubRefused as exc:
            self.desk.refused(exc)
        self.state.phase = Phase.done
        self.state.step = None

    async def settle(self) -> None:
        """Wait for the card writes in progress, a renewal after a reset included (tests)."""
        while (task := self._task) is not None:
            await asyncio.gather(task, return_exceptions=True)
            if self._task is task:
                self._task = None
