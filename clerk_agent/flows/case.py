"""The local record of a counter case and where it stands: procedures, steps, the progress bar's position.

Pure data and rules, no I/O: the flow (counter.py) saves `CounterCase` to the local store and the views read it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from service.wire.calls import CardChallenge
from service.wire.cases import (
    FORM_ID_PROCEDURES,
    MAILED_PROCEDURES,
    REASONS,
    WAITING_STATES,
    Action,
    CaseState,
    Procedure,
)
from service.wire.consents import CURRENT as CURRENT_CONSENTS

# Procedures whose identity check reads the applicant's own card (PIN on the applicant's screen, code B).
CARD_PROCEDURES = frozenset({Procedure.card_renewal, Procedure.pin_reset, Procedure.ecert_issue_renew})
# Procedures whose card work is done at the counter after the approval (cardwork.py): a step of its own.
CARD_WORK_PROCEDURES = frozenset({Procedure.pin_reset, Procedure.ecert_issue_renew})
# The new card is mailed (本人限定受取郵便): the applicant chooses its PINs after approval.
MAILED = MAILED_PROCEDURES
# The application photo (申請用顔写真) is taken at the counter only for a new card application.
PHOTO_PROCEDURES = frozenset({Procedure.card_application})
# The consent texts and versions the counter shows and records: the contract's current ones.
CONSENT_VERSIONS: Final = dict(CURRENT_CONSENTS)
# The hub's withdraw reasons: an ineligibility reason among them is sent as it is, any other as `ineligible`.
WITHDRAW_REASONS = REASONS[Action.withdraw]
RECEIPT_STATES = frozenset({CaseState.pin_request_sealed, CaseState.submitted_to_jlis, CaseState.closed})
# Before the hub answered the case's create: not yet checked in, so the clerk is at the eligibility step.
_OPENING_STATES = frozenset({CaseState.draft, CaseState.checked_in})
# Where the counter follows the hub's case by polling: waiting, and the outcomes the counter acts on.
POLLED_STATES = WAITING_STATES | {CaseState.approved, CaseState.aborted}
_KNOWN_STATES = frozenset(s.value for s in CaseState)


def steps_of(procedure: str) -> list[str]:
    """The progress bar's steps for a procedure."""
    if procedure == Procedure.application_support:
        return ["procedure", "eligibility", "consents", "receipt"]
    steps = ["procedure"]
    if procedure in FORM_ID_PROCEDURES:
        steps.append("form_id")
    steps += ["eligibility", "consents"]
    if procedure in CARD_PROCEDURES:
        steps.append("card")
    steps += ["queue", "call", "decision"]
    if procedure in CARD_WORK_PROCEDURES:
        steps.append("card_work")
    return [*steps, "receipt"]


@dataclass
class DocumentStill:
    """One still of an ID document taken at the counter: which document, which view, whether the hub has it."""

    document: int
    view: str  # "front" | "tilt"
    width: int
    height: int
    sent: bool = False


@dataclass
class CounterCase:
    """The local record of one counter case: ids, codes and step flags only (never a PIN or code B)."""

    local_id: str
    procedure: str
    idempotency_key: str
    municipality_code: str
    shinseisho_id: str | None = None
    # A certificate request (証明書の交付請求): the certificate asked for, and the receipt number once approved.
    certificate: dict[str, object] | None = None
    certificate_receipt: str | None = None
    case_id: str | None = None
    reference: str | None = None  # the hub's 受付番号, what people read (docs/domain.md §B4.1)
    hub_state: CaseState | None = None  # None until the hub has answered the create
    reason_code: str | None = None  # the hub's reason for the last decision or abort
    precheck_reasons: list[str] = field(default_factory=list)
    consents: dict[str, dict[str, str]] = field(default_factory=dict)
    pin_retries: int | None = None
    pin_blocked: bool = False
    code_b_retries: int | None = None  # 照合番号B's own counter, known after a wrong code B
    proof_ok: bool | None = None
    card_generation: str | None = None  # the card's generation, once the card check or the read found it
    photo_sent: bool = False
    documents: list[dict[str, object]] = field(default_factory=list)
    evidence_sent: bool = False
    aborts: int = 0
    started_at: str = ""
    card_work_done: list[str] = field(default_factory=list)  # codes (e.g. renew_auth), never a PIN
    finished: bool = False

    @classmethod
    def from_record(cls, record: dict[str, object]) -> CounterCase:
        """Rebuild a saved case, ignoring fields an older agent version wrote and this one dropped."""
        known = set(cls.__dataclass_fields__)
        fields = {k: v for k, v in record.items() if k in known}
        state = fields.get("hub_state")
        # An older record says "new" before the create is answered; a state this version does not know reads
        # as not yet known, and the poller learns it again.
        fields["hub_state"] = CaseState(state) if state in _KNOWN_STATES else None
        return cls(**fields)  # type: ignore[arg-type]

    def document_stills(self) -> list[DocumentStill]:
        """The document stills taken so far (the record stores them as plain dicts)."""
        return [DocumentStill(**d) for d in self.documents]  # type: ignore[arg-type]

    def needs_documents(self) -> bool:
        """Whether the officer must see document stills: no card proof possible, or a new card application."""
        return self.procedure not in CARD_PROCEDURES or self.pin_blocked


@dataclass
class PinPrompt:
    """What the applicant's PIN pad shows; `challenge` is fetched before it opens."""

    open: bool = False
    needs_clerk_confirm: bool = False
    confirmed: bool = False
    challenge: CardChallenge | None = None
    retries_left: int | None = None


def current_step(case: CounterCase | None) -> str:
    """Where the progress bar stands."""
    if case is None:
        return "procedure"
    state = case.hub_state
    if state is None or state in _OPENING_STATES:
        return "eligibility"
    if state == CaseState.eligibility_precheck:
        if case.precheck_reasons:  # ineligible answers: the clerk withdraws or corrects them first
            return "eligibility"
        if not case.consents or case.procedure == Procedure.application_support:
            return "consents"
        return "card" if case.procedure in CARD_PROCEDURES else "queue"
    if state == CaseState.queued_for_officer:
        return "queue"
    if state in {CaseState.session_live, CaseState.evidence_captured}:
        return "call"
    if state == CaseState.approved and case.procedure in CARD_WORK_PROCEDURES:
        return "card_work"
    return "receipt" if state in RECEIPT_STATES else "decision"
