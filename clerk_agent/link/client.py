"""The typed hub client: one method per hub call the agent makes, answering with the wire models (service/wire/calls.py).

The only module of the agent that knows the hub's URL paths. Reads go out at once through the link's retry loop
(clerk_agent/link/hub.py); writes are built here as `HubWrite`s, queued durably by clerk_agent/flows/writes.py and
sent by `send`, and each carries its `Call` (and `Action`), so its answer is dispatched on what was asked, never on
the URL.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Final

import httpx
from pydantic import ValidationError

from clerk_agent.link.hub import HubLink, JsonObject
from service.wire.calls import (
    CASE_ANSWERS,
    PIN_REQUEST_ACTION,
    ActionBody,
    Call,
    CardChallenge,
    CardProof,
    CardProofOutcome,
    CaseOfficer,
    CaseOpen,
    CaseReply,
    ConsentsBody,
    DeviceSelf,
    PinRequestBody,
    QueuePosition,
    SealingKey,
    StillStored,
)
from service.wire.cardwork import CardWorkDone, EcertPlan, EcertPlanRequest, PinPlan, PinPlanRequest
from service.wire.cases import Action
from service.wire.certificates import (
    HEADER_CONTENT_SHA256,
    HEADER_NONCE_SHA256,
    HEADER_RECEIPT,
    Catalogue,
    FeeBody,
    KioskAnswer,
    KioskChallenge,
    KioskProofBody,
    KioskRequestBody,
    PrintedBody,
    PrintFailedBody,
    PrintJob,
    ReprintBody,
    ScanBody,
    VoidBody,
)
from service.wire.evidence import StillKind
from service.wire.idchips import ChipReadout, ChipVerificationRead
from service.wire.rtc_metrics import ConnectionMetrics

logger = logging.getLogger(__name__)

API: Final = "/api/v1"
_CASES: Final = f"{API}/cases"
# Case calls with their own path segment; every other case write is an action (`/cases/{id}/{action}`).
_CERTIFICATES: Final = f"{API}/certificates"
_SEGMENTS: Final = {Call.consents: "consents", Call.pin_request: "pin-request", Call.still: "stills"}

Reply = CaseReply | StillStored


@dataclass(frozen=True)
class ReleasedDocument:
    """A certificate PDF the hub released for one receipt, with the binding its headers declare."""

    pdf: bytes
    receipt_number: str
    nonce_sha256: str
    content_sha256: str


def case_path(case_id: str, segment: str = "") -> str:
    """The path of a case, or of one of its sub-resources."""
    return f"{_CASES}/{case_id}/{segment}" if segment else f"{_CASES}/{case_id}"


def card_admin_runs_path(case_id: str, run_id: str | None = None) -> str:
    """The issuer's card-admin runs of a case (the relay in clerk_agent/flows/cardrelay.py posts to them)."""
    base = case_path(case_id, "card-admin/runs")
    return f"{base}/{run_id}/answers" if run_id else base


def _job_path(job_id: str, segment: str = "") -> str:
    return f"{_CERTIFICATES}/jobs/{job_id}/{segment}" if segment else f"{_CERTIFICATES}/jobs/{job_id}"


def signaling_ticket_path(case_id: str) -> str:
    """Where a participant asks for a ticket to the case's signaling room (clerk_agent/link/signaling.py)."""
    return case_path(case_id, "signaling-ticket")


# The outreach booth's calls (clerk_agent/booth/hub.py, docs/booths.md): the officer's login, then the session.
LOGIN_PATH: Final = f"{API}/auth/login"
BOOTH_SESSIONS_PATH: Final = f"{API}/booth-sessions"


def booth_session_path(session_id: str, segment: str = "") -> str:
    """The path of a booth session, or of one of its sub-resources (`pending`, `cases`)."""
    base = f"{BOOTH_SESSIONS_PATH}/{session_id}"
    return f"{base}/{segment}" if segment else base


def action_segment(action: Action) -> str:
    """An action's path segment, as the hub's router names it (e.g. `request-verification`)."""
    return action.value.replace("_", "-")


@dataclass(frozen=True)
class HubWrite:
    """One hub write as queued: what it is (`call`, `action`), and the request that carries it."""

    call: Call
    method: str
    path: str
    body: JsonObject | None
    action: Action | None = None
    blob: tuple[str, bytes] | None = None  # an upload: (media type, bytes); `body` then holds its query


def classify(method: str, path: str) -> tuple[Call, Action | None]:
    """What a write stored by an older agent (path only, no call recorded) carries."""
    if method == "POST" and path.rstrip("/") == _CASES:
        return Call.create_case, None
    segment = path.rstrip("/").rsplit("/", 1)[-1]
    for call, known in _SEGMENTS.items():
        if segment == known:
            return call, PIN_REQUEST_ACTION if call is Call.pin_request else None
    return Call.act, Action(segment.replace("-", "_"))


class HubClient:
    """The agent's hub calls over one signed, retrying link."""

    def __init__(self, link: HubLink) -> None:
        self.link = link

    # --- reads and immediate calls ----------------------------------------------------------------------

    async def device_self(self) -> DeviceSelf:
        """The device and its post office's designations (retried until the hub answers)."""
        return DeviceSelf.model_validate(await self.link.request("GET", f"{API}/devices/me"))

    async def read_case(self, case_id: str) -> CaseReply:
        """The case as the hub has it now."""
        return CaseReply.model_validate(await self.link.request("GET", case_path(case_id)))

    async def queue_position(self, case_id: str) -> QueuePosition:
        """Where the waiting case stands in the officers' queue."""
        return QueuePosition.model_validate(
            await self.link.request("GET", case_path(case_id, "queue-position"))
        )

    async def sealing_key(self, municipality_code: str) -> SealingKey:
        """The municipality's key the chosen PINs are sealed to."""
        path = f"{API}/municipalities/{municipality_code}/pin-sealing-key"
        return SealingKey.model_validate(await self.link.request("GET", path))

    async def card_challenge(self, case_id: str) -> CardChallenge:
        """A fresh single-use challenge for the card-possession proof."""
        return CardChallenge.model_validate(
            await self.link.request("POST", case_path(case_id, "card-challenges"))
        )

    async def submit_card_proof(self, case_id: str, proof: CardProof) -> CardProofOutcome:
        """The card's signature over the challenge; the hub verifies it and answers with its verdict."""
        answer = await self.link.request("POST", case_path(case_id, "card-proofs"), proof.model_dump())
        return CardProofOutcome.model_validate(answer)

    async def submit_chip_readout(self, case_id: str, readout: ChipReadout) -> ChipVerificationRead:
        """An ID document's chip objects (never its access data); the hub verifies them and names each check."""
        answer = await self.link.request(
            "POST", case_path(case_id, "chip-readouts"), readout.model_dump(mode="json")
        )
        return ChipVerificationRead.model_validate(answer)

    # --- card work after approval (service/wire/cardwork.py) ---------------------------------------------
    # Not retried: the clerk and the applicant are at the counter and are told at once; nothing is done on the
    # card before the plan is answered.

    async def ecert_plan(self, case_id: str, body: EcertPlanRequest) -> EcertPlan:
        """Issue or renew which e-certificates; the hub's rules refuse with their own codes."""
        answer = await self.link.request(
            "POST", case_path(case_id, "card-work/ecert-plan"), body.model_dump(mode="json"), retry=False
        )
        return EcertPlan.model_validate(answer)

    async def pin_plan(self, case_id: str, body: PinPlanRequest) -> PinPlan:
        """Change or reset which PIN (the PIN itself never goes to the hub)."""
        answer = await self.link.request(
            "POST", case_path(case_id, "card-work/pin-plan"), body.model_dump(mode="json"), retry=False
        )
        return PinPlan.model_validate(answer)

    async def card_work_done(self, case_id: str, done: list[str]) -> list[str]:
        """Record what was done on the card, as codes; retried, as the card already holds the result."""
        answer = await self.link.request(
            "POST", case_path(case_id, "card-work/done"), CardWorkDone(done=done).model_dump()
        )
        done_now = answer.get("done")
        return [str(code) for code in done_now] if isinstance(done_now, list) else []

    # --- certificates: the lobby terminal and the print station (service/wire/certificates.py) -------------
    # Not queued and not retried: the resident at the terminal and the clerk at the station are told at once
    # that the hub is unreachable (HubUnavailable), and nothing is left half done.

    async def certificate_catalogue(self, municipality_code: str) -> Catalogue:
        """What the terminal may offer now: kinds, options, fees, whether the service is open."""
        answer = await self.link.request(
            "GET",
            f"{_CERTIFICATES}/catalogue",
            params={"municipality_code": municipality_code},
            retry=False,
        )
        return Catalogue.model_validate(answer)

    async def certificate_request(self, body: KioskRequestBody) -> KioskChallenge:
        """The resident's choice; the hub answers with the nonce the card signs."""
        answer = await self.link.request(
            "POST", f"{_CERTIFICATES}/requests", body.model_dump(mode="json"), retry=False
        )
        return KioskChallenge.model_validate(answer)

    async def certificate_proof(self, request_id: str, body: KioskProofBody) -> KioskAnswer:
        """The card's signature; the hub verifies it, applies the municipality's rules and answers."""
        path = f"{_CERTIFICATES}/requests/{request_id}/proof"
        return KioskAnswer.model_validate(
            await self.link.request("POST", path, body.model_dump(), retry=False)
        )

    async def certificate_scan(self, receipt_number: str) -> PrintJob:
        """The clerk scanned (or typed) a receipt: the hub answers with that receipt's job only."""
        body = ScanBody(receipt_number=receipt_number).model_dump()
        return PrintJob.model_validate(
            await self.link.request("POST", f"{_CERTIFICATES}/scans", body, retry=False)
        )

    async def certificate_job(self, job_id: str) -> PrintJob:
        """The job as the hub has it now."""
        return PrintJob.model_validate(await self.link.request("GET", _job_path(job_id), retry=False))

    async def certificate_document(self, job_id: str, receipt_number: str) -> ReleasedDocument:
        """The released PDF of this job, for the receipt the clerk scanned, and the binding its headers declare."""
        pdf, headers = await self.link.download(
            _job_path(job_id, "document"), params={"receipt_number": receipt_number}
        )
        return ReleasedDocument(
            pdf=pdf,
            receipt_number=headers.get(HEADER_RECEIPT, ""),
            nonce_sha256=headers.get(HEADER_NONCE_SHA256, ""),
            content_sha256=headers.get(HEADER_CONTENT_SHA256, ""),
        )

    async def certificate_printed(self, job_id: str, body: PrintedBody) -> PrintJob:
        """The printer finished: echo the binding the station checked."""
        return await self._job_call(job_id, "printed", body.model_dump())

    async def certificate_print_failed(self, job_id: str, body: PrintFailedBody) -> PrintJob:
        """The print failed (printer offline, paper out, a binding that did not match)."""
        return await self._job_call(job_id, "print-failed", body.model_dump(mode="json"))

    async def certificate_reprint(self, job_id: str, body: ReprintBody) -> PrintJob:
        """Void the spoiled copy and release a new one (no second fee)."""
        return await self._job_call(job_id, "reprint", body.model_dump(mode="json"))

    async def certificate_fee(self, job_id: str, amount_yen: int) -> PrintJob:
        """The cash the clerk took."""
        return await self._job_call(job_id, "fee", FeeBody(amount_yen=amount_yen).model_dump())

    async def certificate_hand_over(self, job_id: str) -> PrintJob:
        """The certificate is in the resident's hands; the hub destroys its copy."""
        return await self._job_call(job_id, "hand-over", None)

    async def certificate_void(self, job_id: str, reason: str) -> PrintJob:
        """Void the job (the resident left, a mistake)."""
        return await self._job_call(job_id, "void", VoidBody(reason=reason).model_dump())

    async def _job_call(self, job_id: str, segment: str, body: JsonObject | None) -> PrintJob:
        return PrintJob.model_validate(
            await self.link.request("POST", _job_path(job_id, segment), body, retry=False)
        )

    # --- writes: built here, queued by clerk_agent/flows/writes.py, sent by `send` -----------------------------

    @staticmethod
    def create_case(body: CaseOpen) -> HubWrite:
        """Open a case at this device's post office."""
        return HubWrite(Call.create_case, "POST", _CASES, body.model_dump(mode="json", exclude_none=True))

    @staticmethod
    def act(case_id: str, action: Action, *, reason: str | None = None) -> HubWrite:
        """Take `action` on the case (with its reason code, for the actions that need one)."""
        body = ActionBody(reason_code=reason).model_dump(exclude_none=True)
        return HubWrite(Call.act, "POST", case_path(case_id, action_segment(action)), body, action)

    @staticmethod
    def precheck(case_id: str, answers: dict[str, bool]) -> HubWrite:
        """Record the eligibility answers."""
        body = ActionBody(answers=dict(answers)).model_dump(exclude_none=True)
        return HubWrite(
            Call.act, "POST", case_path(case_id, action_segment(Action.precheck)), body, Action.precheck
        )

    @staticmethod
    def record_consents(case_id: str, consents: dict[str, str]) -> HubWrite:
        """Record the applicant's consents, each with the version of the text shown."""
        body = ConsentsBody(consents=dict(consents)).model_dump()
        return HubWrite(Call.consents, "POST", case_path(case_id, _SEGMENTS[Call.consents]), body)

    @staticmethod
    def pin_request(case_id: str, body: PinRequestBody) -> HubWrite:
        """The sealed PIN request, or the choice of a 顔認証 card."""
        return HubWrite(
            Call.pin_request,
            "POST",
            case_path(case_id, _SEGMENTS[Call.pin_request]),
            body.model_dump(exclude_defaults=True),
            PIN_REQUEST_ACTION,
        )

    @staticmethod
    def upload_still(case_id: str, kind: StillKind, jpeg: bytes) -> HubWrite:
        """A document still or the application photo (JPEG)."""
        path = case_path(case_id, _SEGMENTS[Call.still])
        return HubWrite(Call.still, "POST", path, {"kind": kind.value}, blob=("image/jpeg", jpeg))

    async def send(self, write: HubWrite, *, key: str | None) -> Reply | None:
        """Send a queued write (retried while the hub is unreachable); None for an answer the agent cannot read."""
        if write.blob is not None:
            params = {k: str(v) for k, v in (write.body or {}).items()}
            answer = await self.link.upload(
                write.path, write.blob[1], write.blob[0], params, idempotency_key=key
            )
        else:
            answer = await self.link.request(write.method, write.path, write.body, idempotency_key=key)
        try:
            if write.call in CASE_ANSWERS:
                return CaseReply.model_validate(answer)
            return StillStored.model_validate(answer)
        except ValidationError as exc:
            logger.warning("unreadable hub answer to %s (%d errors)", write.call, exc.error_count())
            return None


async def report_connection_metrics(
    http: httpx.AsyncClient, case_id: str, metrics: ConnectionMetrics
) -> None:
    """Report how the counter's side of a call connected (once, no retry: the figures are a nicety)."""
    try:
        response = await http.post(
            case_path(case_id, "connection-metrics"),
            content=metrics.model_dump_json(),
            headers={"content-type": "application/json"},
        )
    except httpx.HTTPError as exc:
        logger.warning("connection metrics not reported: %s", exc)
        return
    if response.status_code != 201:
        logger.warning("connection metrics refused: HTTP %s", response.status_code)


async def case_officer(http: httpx.AsyncClient, case_id: str) -> CaseOfficer | None:
    """The officer verifying the case and their municipality, as the hub names them (None when unknown)."""
    try:
        response = await http.get(case_path(case_id, "officer"))
    except httpx.HTTPError as exc:
        logger.warning("the officer's name is unknown: %s", exc)
        return None
    if response.status_code != 200:
        logger.warning("the officer's name is unknown: HTTP %s", response.status_code)
        return None
    return CaseOfficer.model_validate(response.json())
