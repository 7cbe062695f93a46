"""One counter case at a time, guided step by step (窓口の手続き): the clerk's and the applicant's screens read it.

Hub writes go through the durable queue (writes.py), so the UI never waits on the network and nothing a clerk
entered is lost. The PIN never waits on the hub: the card challenge is fetched before the applicant's PIN pad
opens, the PIN goes to the card in a worker thread and is wiped, and only the card's signature goes to the hub.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import logging
import uuid
from collections.abc import Callable

from pydantic import ValidationError

from clerk_agent.flows.call import CallStatus, run_call
from clerk_agent.flows.capture import CaptureSteps
from clerk_agent.flows.cardadmin import CardAdmin, LocalCardAdmin, RelayIssuerChannel
from clerk_agent.flows.cardslot import CardSlot
from clerk_agent.flows.cardsteps import CardSteps
from clerk_agent.flows.cardwork import CardWork
from clerk_agent.flows.case import (
    CARD_PROCEDURES,
    CONSENT_VERSIONS,
    MAILED,
    PHOTO_PROCEDURES,
    POLLED_STATES,
    WITHDRAW_REASONS,
    CounterCase,
)
from clerk_agent.flows.desk import Desk
from clerk_agent.flows.idchips import ChipSource, DocumentChips, no_chip_reader
from clerk_agent.flows.pinchoice import PinChoiceRefused, seal_choice
from clerk_agent.flows.writes import Write
from clerk_agent.link.client import HubWrite, Reply
from clerk_agent.link.hub import HubLink, HubRefused, JsonObject
from clerk_agent.link.store import LocalStore
from clerk_agent.media import CounterMedia, synthetic_media
from clerk_agent.photo.preview import Detector
from clerk_agent.wording import texts
from service.wire.calls import Call, CaseOpen, CaseReply, PinRequestBody, StillStored
from service.wire.cases import (
    CERTIFICATE_PROCEDURES,
    FORM_ID_PROCEDURES,
    WAITING_STATES,
    Action,
    CaseState,
    Procedure,
)
from service.wire.certificates import CounterChoice
from service.wire.forms import is_shinseisho_id, normalize_shinseisho_id

logger = logging.getLogger(__name__)


class CounterFlow(Desk):
    """The counter's state and the clerk's actions; `run` owns the hub writer, the poller and the call."""

    def __init__(
        self,
        link: HubLink,
        store: LocalStore,
        slot: CardSlot,
        *,
        municipality_code: str = "",
        poll_s: float = 1.0,
        call_enabled: bool = True,
        media: CounterMedia | None = None,
        face_detector: Detector | None = None,
        chips: ChipSource | None = None,
        card_admin: CardAdmin | None = None,
    ) -> None:
        super().__init__(link, store)
        self.slot = slot
        self.municipality_code = municipality_code
        self.poll_s = poll_s
        self.call_enabled = call_enabled
        self.card = CardSteps(self, slot)
        # The card work after approval: the card's own commands, and the issuer's channel relayed through the hub
        # for resets and certificates (cardadmin.py, docs/card-procedures.md §Seam).
        self.work = CardWork(self, card_admin or LocalCardAdmin(slot, RelayIssuerChannel(link, slot)))
        # The camera and microphone the steps and the calls share (synthetic unless the settings name devices).
        self.media = media or synthetic_media()
        self.capture = CaptureSteps(self, self.media.camera, face_detector)
        # The applicant's ID-document chip (passport, ...), read with access data the clerk types.
        self.chips = DocumentChips(self, chips or no_chip_reader)
        self.queue: JsonObject = {}
        self.call = CallStatus()
        self.office: JsonObject = {}
        self.sealing_key: JsonObject | None = None
        self._call_task: asyncio.Task[None] | None = None
        self._office_known = asyncio.Event()

    # --- lifecycle -------------------------------------------------------------------------------

    async def run(self) -> None:
        """Replay pending writes, resume an unfinished case, then serve writes and poll until cancelled."""
        await self.writes.replay()
        record = await self.store.unfinished_case()
        if record is not None:
            self.case = CounterCase.from_record(record)
            if self.case.case_id is None and self.writes.idle:
                # A create the hub refused before this agent version dropped it: the counter would wait forever.
                await self.new_case()
        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(
                    self.writes.serve(self._prepare_write, self._answered, self._write_refused),
                    name="counter-hub-writes",
                )
                group.create_task(self._poller(), name="counter-poller")
                group.create_task(self._office(), name="counter-office")
        finally:
            await self._stop_call()
            await self.capture.stop_preview()
            await self.media.close()  # the camera is the media's: released once, here
            await self.cancel_tasks()
            self.card.wipe()

    async def _office(self) -> None:
        """Learn the device's post office once the hub answers (the municipality the designation covers)."""
        me = await self.client.device_self()
        self.office = me.model_dump(mode="json")
        if not self.municipality_code and me.designations:
            self.municipality_code = me.designations[0].municipality_code
        self._office_known.set()

    async def _prepare_write(self, write: Write) -> Write:
        body = write.request.body
        if write.call is Call.create_case and body is not None and not body.get("municipality_code"):
            # A case started before the hub first answered: the office's municipality is known only now.
            await self._office_known.wait()
            request = dataclasses.replace(
                write.request, body={**body, "municipality_code": self.municipality_code}
            )
            return dataclasses.replace(write, request=request)
        return write

    async def _write_refused(self, write: Write, exc: HubRefused) -> None:
        case = self.case
        if write.call is Call.create_case and case is not None and case.local_id == write.local_id:
            # The hub refused to open the case: back to the first step, the form ID kept for the clerk to correct.
            form_id = case.shinseisho_id
            await self.new_case()
            self.capture.scanned_form_id = form_id
        self.refused(exc)  # after the step changed, so the message belongs to the step the clerk is on

    async def _answered(self, write: Write, reply: Reply | None) -> None:
        case = self.case
        if case is None or case.local_id != write.local_id:
            return
        if isinstance(reply, StillStored):
            self.capture.still_answered(reply.kind)
        elif isinstance(reply, CaseReply):
            case.case_id = reply.id
            case.reference = reply.reference or case.reference
            case.hub_state = reply.state
            case.reason_code = reply.reason_code  # e.g. a withdrawal's reason, for the clerk's result screen
            if reply.certificate is not None:
                case.certificate_receipt = reply.certificate.receipt_number
            # The hub's answer names the municipality (a case started offline did not know it yet).
            case.municipality_code = reply.municipality_code or case.municipality_code
            if write.call is Call.create_case and reply.state == CaseState.draft:
                # Checked in from the create's answer (also a replayed one), so a restart cannot skip it.
                await self.enqueue(self.client.act(reply.id, Action.check_in))
            if write.action is Action.precheck and reply.precheck is not None:
                # An ineligible answer no longer withdraws at once: the clerk reads the reasons, then withdraws
                # (confirmed on screen) or corrects a wrongly recorded answer (the hub takes new answers).
                case.precheck_reasons = reply.ineligibility()
        await self.save()

    async def _poller(self) -> None:
        while True:
            await asyncio.sleep(self.poll_s)
            case = self.case
            if case is None or case.case_id is None or not self.writes.idle:
                continue
            if case.hub_state not in POLLED_STATES:
                continue
            try:
                read = await self.client.read_case(case.case_id)
                if read.state == CaseState.aborted and case.hub_state != CaseState.aborted:
                    case.aborts += 1
                case.hub_state = read.state
                case.reason_code = read.reason_code or None
                if read.certificate is not None:  # a certificate request: the receipt number once approved
                    case.certificate_receipt = read.certificate.receipt_number
                if case.hub_state == CaseState.queued_for_officer:
                    position = await self.client.queue_position(case.case_id)
                    self.queue = position.model_dump(mode="json")
            except HubRefused as exc:
                logger.warning("polling the case failed: %s", exc.problem_code)
                continue
            await self._on_state(case)

    async def _on_state(self, case: CounterCase) -> None:
        # Joined while the case waits in the queue: the peer is prepared (candidates gathered) before the officer
        # accepts, so accepting → first frame is only the offer/answer and ICE checks.
        if (
            case.hub_state in {CaseState.queued_for_officer, CaseState.session_live}
            and self.call_enabled
            and self._call_task is None
            and case.case_id
        ):
            self.call = CallStatus()
            # Owned here and cancelled in _stop_call (on decision, withdraw or shutdown).
            self._call_task = asyncio.create_task(
                run_call(
                    self.link.http,
                    case.case_id,
                    self.call,
                    source=self.media.call_source(),
                    sink=self.media.speaker,
                ),
                name=f"call-{case.case_id}",
            )
        if case.hub_state == CaseState.session_live:
            if case.procedure in CARD_PROCEDURES and self.card.wants_pin():
                await self.card.prepare_pin()
        elif case.hub_state not in WAITING_STATES:
            await self._stop_call()
            await self.capture.stop_preview()
        if case.hub_state == CaseState.aborted:
            # The officer stopped the session: an open PIN pad must not reach the card for a dead session.
            self.card.reset()
        if case.hub_state == CaseState.approved and case.procedure in MAILED and self.sealing_key is None:
            # Fetched before the applicant chooses PINs, so chosen PINs never wait on the network.
            try:
                self.sealing_key = (await self.client.sealing_key(case.municipality_code)).model_dump()
            except HubRefused as exc:
                self.refused(exc)
        await self.save()

    async def _stop_call(self) -> None:
        task, self._call_task = self._call_task, None
        if task is not None:
            task.cancel()
            # Not `suppress(CancelledError)` around `await task`: when the caller itself is cancelled while the
            # call winds down (the poller, at the agent's shutdown), that swallowed the caller's own cancellation,
            # its loop went on, and the agent's task group waited for it forever.
            await asyncio.gather(task, return_exceptions=True)

    # --- the clerk's actions -----------------------------------------------------------------------

    async def start(
        self, procedure: str, shinseisho_id: str | None = None, certificate: object = None
    ) -> None:
        """Open a case (and check it in: the applicant is at the counter); a certificate request names the
        certificate asked for (the hub checks it against the municipality's configuration)."""
        if procedure not in texts.PROCEDURES:
            raise ValueError(f"unknown procedure {procedure}")
        choice: CounterChoice | None = None
        if procedure in CERTIFICATE_PROCEDURES:
            try:
                choice = CounterChoice.model_validate(certificate)
            except ValidationError:
                self.notice = "certificate_required"
                return
        # The hub cleans the form ID by the same rule (service/wire/forms.py): what passes here passes there.
        shinseisho_id = normalize_shinseisho_id(shinseisho_id) if shinseisho_id else None
        if procedure in FORM_ID_PROCEDURES and not (shinseisho_id and is_shinseisho_id(shinseisho_id)):
            self.notice = "invalid_form_id"
            return
        await self.new_case()
        key = f"agent-{uuid.uuid4()}"
        self.case = CounterCase(
            local_id=uuid.uuid4().hex,
            procedure=procedure,
            idempotency_key=key,
            municipality_code=self.municipality_code,
            shinseisho_id=shinseisho_id if procedure in FORM_ID_PROCEDURES else None,
            certificate=choice.model_dump(mode="json") if choice else None,
            started_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        )
        self.notice = None
        await self.save()
        body = CaseOpen(
            municipality_code=self.municipality_code,
            procedure=Procedure(procedure),
            shinseisho_id=self.case.shinseisho_id,
            certificate=choice,
        )
        await self.enqueue(self.client.create_case(body), key)

    async def _queue_on_case(self, build: Callable[[str], HubWrite]) -> None:
        """Queue a write on the current case; the case id is known once the create is answered."""
        case_id = await self.case_id(settled=True)
        if case_id is not None:
            # Keyed, so a resend after a lost answer gets the first answer back (service/cases/router.py).
            await self.enqueue(build(case_id))

    def _act(self, action: Action, reason: str | None = None) -> None:
        """Take `action` on the current case, queued without holding the clerk's request."""
        self.spawn(self._queue_on_case(lambda case_id: self.client.act(case_id, action, reason=reason)))

    async def answer_eligibility(self, answers: dict[str, bool]) -> None:
        """Record the eligibility answers (precheck); ineligible cases are withdrawn with the matching code."""
        self.spawn(self._queue_on_case(lambda case_id: self.client.precheck(case_id, dict(answers))))

    async def give_consents(self, consents: dict[str, bool]) -> None:
        """Record the applicant's versioned consents, here and at the hub."""
        case = self.require_case()
        if not all(consents.get(name) for name in CONSENT_VERSIONS):
            self.notice = "consents_required"
            return
        now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        case.consents = {name: {"version": v, "at": now} for name, v in CONSENT_VERSIONS.items()}
        self.notice = None
        await self.save()
        # The hub keeps the record (codes and versions, audited), queued like every other write.
        self.spawn(
            self._queue_on_case(lambda case_id: self.client.record_consents(case_id, CONSENT_VERSIONS))
        )

    async def request_verification(self) -> None:
        """Put the case in the municipality's officer queue."""
        self._act(Action.request_verification)

    async def requeue(self) -> None:
        """After an abort: queue again; PIN proof and stills are taken afresh (docs/domain.md §B7)."""
        self.card.reset()
        case = self.case
        if case is not None:
            case.proof_ok = None
            case.evidence_sent = False
            case.documents = []
            await self.save()
        self.notice = None
        self._act(Action.requeue)

    async def withdraw(self, reason_code: str | None = None) -> None:
        """The applicant or clerk ends the case before a decision (by default: the ineligibility, or their wish)."""
        case = self.require_case()
        if reason_code is None:
            first = case.precheck_reasons[0] if case.precheck_reasons else None
            reason_code = (
                "applicant_request" if first is None else first if first in WITHDRAW_REASONS else "ineligible"
            )
        await self._stop_call()
        self._act(Action.withdraw, reason_code)

    async def abort_call(self, reason_code: str = "applicant_left") -> None:
        """The counter interrupts the live session (the applicant leaves, or the call cannot go on)."""
        self.card.reset()
        self._act(Action.abort, reason_code)

    async def submit_pin(self, pin: bytearray) -> None:
        """The applicant's PIN (card steps, cardsteps.py); once the hub has judged the proof, the evidence is in."""
        if await self.card.submit_pin(pin):
            await self.capture_evidence()

    async def capture_evidence(self) -> None:
        """Tell the hub the evidence is in (card read, or the documents' stills and the photo)."""
        case = self.require_case()
        if case.evidence_sent:
            return
        if case.proof_ok is None and case.needs_documents():
            if case.procedure in PHOTO_PROCEDURES and not case.photo_sent:
                self.notice = "photo_required"
                return
            if not any(d["view"] == "front" for d in case.documents):
                self.notice = "documents_required"
                return
        case.evidence_sent = True
        self.notice = None
        await self.save()
        self._act(Action.capture_evidence)

    async def choose_face_auth(self) -> None:
        """顔認証マイナンバーカード: no PINs are set; the hub records the choice and the case is finalized."""
        body = PinRequestBody(face_auth=True)
        self.spawn(self._queue_on_case(lambda case_id: self.client.pin_request(case_id, body)))

    async def submit_pin_choice(self, raw: bytearray) -> None:
        """The applicant's four chosen PINs, each typed twice, sealed to the municipality's key (pinchoice.py).

        `raw` is wiped; a refusal's notice names the field, never the value.
        """
        case = self.require_case()
        try:
            if self.sealing_key is None or case.case_id is None:
                self.notice = "sealing_key_pending"
                return
            sealed = seal_choice(raw, sealing_key=self.sealing_key, case_id=case.case_id)
        except PinChoiceRefused as refused:
            self.notice = refused.notice
            return
        finally:
            raw[:] = bytes(len(raw))
        self.notice = None
        body = PinRequestBody(sealed=sealed)
        self.spawn(self._queue_on_case(lambda case_id: self.client.pin_request(case_id, body)))

    async def close_case(self) -> None:
        """Approved procedures that are not mailed end at the counter."""
        self._act(Action.close)

    async def complete_support(self) -> None:
        """申請サポート done: photo and form only, no identity decision."""
        self._act(Action.complete)

    async def new_case(self) -> None:
        """Finish the current case locally and clear every screen."""
        await self._stop_call()
        await self.capture.stop_preview()
        self.capture.reset()
        self.card.reset()
        self.chips.clear()
        self.work.reset()
        self.queue = {}
        self.sealing_key = None
        if self.case is not None:
            self.case.finished = True
            await self.save()
        self.case = None
