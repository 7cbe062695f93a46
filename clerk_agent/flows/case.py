"""The local record of a counter case and where it stands: procedures, steps, the progress bar's position.

Pure data and rules, no I/O: the flow (counter.py) saves `CounterCase` to the local store and the views read it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from clerk_agent.link.hub import JsonObject

# Procedures whose identity check reads the applicant's own card (PIN on the applicant's screen, code B).
CARD_PROCEDURES = frozenset({"card_renewal", "pin_reset", "ecert_issue_renew"})
# Procedures that start from a 交付申請書 and its 申請書ID (23 digits, also printed as a QR code).
FORM_ID_PROCEDURES = frozenset({"card_renewal", "card_application"})
# The new card is mailed (本人限定受取郵便): the applicant chooses its PINs after approval.
MAILED = frozenset({"card_renewal", "card_application"})
# The application photo (申請用顔写真) is taken at the counter only for a new card application.
PHOTO_PROCEDURES = frozenset({"card_application"})
WAITING_STATES = frozenset({"queued_for_officer", "session_live", "evidence_captured", "officer_review"})
CONSENT_VERSIONS = {"recording": "2026-04", "id_copy": "2026-04", "pin_entry": "2026-04"}
# The hub's withdraw reasons that name an eligibility rule; any other ineligibility is withdrawn as `ineligible`.
WITHDRAW_REASONS = frozenset(
    {
        "proxy_not_allowed",
        "legal_representative_absent",
        "moving_before_delivery",
        "mail_forwarding_registered",
    }
)
RECEIPT_STATES = frozenset({"pin_request_sealed", "submitted_to_jlis", "closed"})


def steps_of(procedure: str) -> list[str]:
    """The progress bar's steps for a procedure."""
    if procedure == "application_support":
        return ["procedure", "eligibility", "consents", "receipt"]
    steps = ["procedure"]
    if procedure in FORM_ID_PROCEDURES:
        steps.append("form_id")
    steps += ["eligibility", "consents"]
    if procedure in CARD_PROCEDURES:
        steps.append("card")
    return [*steps, "queue", "call", "decision", "receipt"]


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
    case_id: str | None = None
    reference: str | None = None  # the hub's 受付番号, what people read (docs/domain.md §B4.1)
    hub_state: str = "new"
    reason_code: str | None = None  # the hub's reason for the last decision or abort
    precheck_reasons: list[str] = field(default_factory=list)
    consents: dict[str, dict[str, str]] = field(default_factory=dict)
    pin_retries: int | None = None
    pin_blocked: bool = False
    code_b_retries: int | None = None  # 照合番号B's own counter, known after a wrong code B
    proof_ok: bool | None = None
    photo_sent: bool = False
    documents: list[dict[str, object]] = field(default_factory=list)
    evidence_sent: bool = False
    aborts: int = 0
    started_at: str = ""
    finished: bool = False

    @classmethod
    def from_record(cls, record: JsonObject) -> CounterCase:
        """Rebuild a saved case, ignoring fields an older agent version wrote and this one dropped."""
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in record.items() if k in known})  # type: ignore[arg-type]

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
    challenge: JsonObject | None = None
    retries_left: int | None = None


def current_step(case: CounterCase | None) -> str:
    """Where the progress bar stands."""
    if case is None:
        return "procedure"
    state = case.hub_state
    if state in {"new", "draft", "checked_in"}:
        return "eligibility"
    if state == "eligibility_precheck":
        if case.precheck_reasons:  # ineligible answers: the clerk withdraws or corrects them first
            return "eligibility"
        if not case.consents or case.procedure == "application_support":
            return "consents"
        return "card" if case.procedure in CARD_PROCEDURES else "queue"
    if state == "queued_for_officer":
        return "queue"
    if state in {"session_live", "evidence_captured"}:
        return "call"
    return "receipt" if state in RECEIPT_STATES else "decision"
