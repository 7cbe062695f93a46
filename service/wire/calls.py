"""The hub calls the clerk agent makes: each request body and the part of each answer it reads (docs/architecture.md §3).

The hub's own schemas (service/cases/schemas.py, service/evidence/schemas.py, service/queue/schemas.py, …) are the
authority and may carry more fields: answers here ignore fields they do not name, so the hub can add one without
breaking a deployed agent. Request bodies mirror the hub's and are checked against them by
tests/clerk_agent/link/test_wire_calls.py. No I/O: clerk_agent/link/client.py sends them.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from service.wire.card_profiles import CardGeneration
from service.wire.cases import Action, CaseState, Procedure
from service.wire.certificates import (
    CaseCertificate,
    Catalogue,
    CounterChoice,
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
from service.wire.pin_seal import SealedPinRequest


class Call(StrEnum):
    """Every kind of hub call the agent makes; a queued write records its own (clerk_agent/link/store.py)."""

    device_self = "device_self"  # GET  /devices/me
    create_case = "create_case"  # POST /cases
    read_case = "read_case"  # GET  /cases/{id}
    act = "act"  # POST /cases/{id}/{action}: the write also records which Action
    consents = "consents"  # POST /cases/{id}/consents
    pin_request = "pin_request"  # POST /cases/{id}/pin-request
    still = "still"  # POST /cases/{id}/stills (an upload)
    queue_position = "queue_position"  # GET  /cases/{id}/queue-position
    sealing_key = "sealing_key"  # GET  /municipalities/{code}/pin-sealing-key
    card_challenge = "card_challenge"  # POST /cases/{id}/card-challenges
    card_proof = "card_proof"  # POST /cases/{id}/card-proofs
    signaling_ticket = "signaling_ticket"  # POST /cases/{id}/signaling-ticket
    connection_metrics = "connection_metrics"  # POST /cases/{id}/connection-metrics
    case_officer = "case_officer"  # GET  /cases/{id}/officer
    # Certificates at the post office (service/wire/certificates.py): the lobby terminal …
    certificate_catalogue = "certificate_catalogue"  # GET  /certificates/catalogue?municipality_code=
    certificate_request = "certificate_request"  # POST /certificates/requests
    certificate_proof = "certificate_proof"  # POST /certificates/requests/{id}/proof
    # … and the clerk's print station.
    certificate_scan = "certificate_scan"  # POST /certificates/scans
    certificate_job = "certificate_job"  # GET  /certificates/jobs/{id}
    certificate_document = "certificate_document"  # GET  /certificates/jobs/{id}/document (the PDF)
    certificate_printed = "certificate_printed"  # POST /certificates/jobs/{id}/printed
    certificate_print_failed = "certificate_print_failed"  # POST /certificates/jobs/{id}/print-failed
    certificate_reprint = "certificate_reprint"  # POST /certificates/jobs/{id}/reprint
    certificate_fee = "certificate_fee"  # POST /certificates/jobs/{id}/fee
    certificate_hand_over = "certificate_hand_over"  # POST /certificates/jobs/{id}/hand-over
    certificate_void = "certificate_void"  # POST /certificates/jobs/{id}/void


# Calls whose answer is the case (service/cases/schemas.py CaseRead).
CASE_ANSWERS = frozenset({Call.create_case, Call.read_case, Call.act, Call.consents, Call.pin_request})

# Certificate calls: the body each sends (None: none) and the answer it reads (None: not JSON, the PDF).
# The models live in service/wire/certificates.py; the print station's calls answer the job (PrintJob).
CERTIFICATE_CALLS: dict[Call, tuple[type[BaseModel] | None, type[BaseModel] | None]] = {
    Call.certificate_catalogue: (None, Catalogue),
    Call.certificate_request: (KioskRequestBody, KioskChallenge),
    Call.certificate_proof: (KioskProofBody, KioskAnswer),
    Call.certificate_scan: (ScanBody, PrintJob),
    Call.certificate_job: (None, PrintJob),
    Call.certificate_document: (None, None),
    Call.certificate_printed: (PrintedBody, PrintJob),
    Call.certificate_print_failed: (PrintFailedBody, PrintJob),
    Call.certificate_reprint: (ReprintBody, PrintJob),
    Call.certificate_fee: (FeeBody, PrintJob),
    Call.certificate_hand_over: (None, PrintJob),
    Call.certificate_void: (VoidBody, PrintJob),
}


class _Answer(BaseModel):
    """An answer from the hub: fields the agent does not read are ignored."""

    model_config = ConfigDict(extra="ignore")


class _Body(BaseModel):
    """A request body: exactly the fields the hub accepts (it refuses others)."""

    model_config = ConfigDict(extra="forbid")


# --- the device and its office ---------------------------------------------------------------------------


class DesignationBrief(_Answer):
    municipality_code: str
    procedures: list[str] = Field(default_factory=list)


class DeviceSelf(_Answer):
    """GET /devices/me: the calling device and its post office's designations."""

    id: str
    post_office_id: str
    name: str = ""
    designations: list[DesignationBrief] = Field(default_factory=list)


# --- cases -------------------------------------------------------------------------------------------------


class CaseOpen(_Body):
    """POST /cases (service/cases/schemas.py CaseCreate); an empty municipality is filled in before sending."""

    municipality_code: str
    procedure: Procedure
    shinseisho_id: str | None = None
    certificate: CounterChoice | None = None  # certificate_request only (docs/certificates.md §Counter)


class CaseReply(_Answer):
    """The case as the hub answers every case call (service/cases/schemas.py CaseRead)."""

    id: str
    reference: str | None = None  # the 受付番号 people read (docs/domain.md §B4.1)
    municipality_code: str = ""
    procedure: Procedure
    state: CaseState
    version: int = 1
    precheck: dict[str, object] | None = None
    reason_code: str | None = None
    certificate: CaseCertificate | None = (
        None  # a certificate request: what it asks for, the receipt once issued
    )

    def ineligibility(self) -> list[str]:
        """The precheck's reason codes (empty when eligible or not prechecked)."""
        reasons = (self.precheck or {}).get("reasons")
        return [str(r) for r in reasons] if isinstance(reasons, list) else []


class ActionBody(_Body):
    """POST /cases/{id}/{action} (service/cases/schemas.py ActionRequest), the fields a device sends."""

    reason_code: str | None = None
    answers: dict[str, bool] | None = None


class ConsentsBody(_Body):
    """POST /cases/{id}/consents (service/cases/consents.py ConsentsGiven): code → version of the text shown."""

    consents: dict[str, str]


class PinRequestBody(_Body):
    """POST /cases/{id}/pin-request (service/evidence/router.py PinRequestSubmit): sealed PINs or 顔認証."""

    sealed: SealedPinRequest | None = None
    face_auth: bool = False


# The action the pin-request call takes, as the hub's lifecycle names it.
PIN_REQUEST_ACTION = Action.seal_pin_request


# --- evidence ----------------------------------------------------------------------------------------------


class StillStored(_Answer):
    """POST /cases/{id}/stills (service/evidence/schemas.py EvidenceRead): the stored still."""

    id: str
    kind: str
    ok: bool = True


class CardChallenge(_Answer):
    """POST /cases/{id}/card-challenges (service/evidence/schemas.py CardChallengeIssued)."""

    challenge_id: str
    nonce: str
    origin: str
    case_id: str


class CardProof(_Body):
    """POST /cases/{id}/card-proofs (service/evidence/schemas.py CardProofSubmit): base64 and hex, no PIN."""

    challenge_id: str
    certificate: str
    signature: str
    atr: str
    card_face: str | None = None
    card_face_signature: str | None = None
    # Which card the agent detected (docs/card.md §3); the hub checks it against the certificate's algorithms.
    card_generation: CardGeneration | None = None


class EvidenceBrief(_Answer):
    id: str
    kind: str
    ok: bool


class CardProofOutcome(_Answer):
    """The hub's verdict on a card proof (service/evidence/schemas.py CardProofOutcome)."""

    evidence: EvidenceBrief
    card_swap_detected: bool = False


# --- queue, sealing key, signaling -------------------------------------------------------------------------


class QueuePosition(_Answer):
    """GET /cases/{id}/queue-position (service/queue/schemas.py QueuePosition), shown at the counter."""

    case_id: str
    state: CaseState
    position: int | None = None
    waiting_seconds: float = 0.0
    estimated_wait_seconds: float | None = None
    available_officers: int = 0
    offered: bool = False


class SealingKey(_Answer):
    """GET /municipalities/{code}/pin-sealing-key (service/tenancy/router.py SealingKeyOut)."""

    municipality_code: str
    public_key: str
    key_id: str


class SignalingTicket(_Answer):
    """POST /cases/{id}/signaling-ticket (service/signaling/schemas.py SignalingTicketRead), the parts read."""

    ticket: str
    ws_url: str


class CaseOfficer(_Answer):
    """GET /cases/{id}/officer (service/cases/schemas.py CaseOfficerRead): who verifies, by the hub's names."""

    display_name: str | None = None
    municipality_code: str | None = None
    municipality_name: str | None = None
