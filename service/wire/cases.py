"""The case contract shared by the hub, the clerk agent and both browser UIs (docs/architecture.md, "The contract").

Names only, no I/O, no SQLAlchemy or FastAPI: the agent imports this module, and the browser UIs read a module
generated from it. The hub's state machine (service/cases/lifecycle.py) adds the transitions and `plan()`.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final


class Procedure(StrEnum):
    """Counter procedures a designation may cover (取扱事務)."""

    card_application = "card_application"  # 交付申請受付
    card_renewal = "card_renewal"  # 更新
    ecert_issue_renew = "ecert_issue_renew"  # 電子証明書の発行・更新
    pin_reset = "pin_reset"  # 暗証番号の初期化・変更
    application_support = "application_support"  # 申請サポート (no identity decision)
    certificate_kiosk = "certificate_kiosk"  # 証明書交付
    certificate_request = "certificate_request"  # 証明書の交付請求 (窓口, カードなし)


# One label per procedure, everywhere a person reads one: (Japanese, English).
PROCEDURE_LABELS: Final[dict[Procedure, tuple[str, str]]] = {
    Procedure.card_application: ("交付申請受付", "Card application"),
    Procedure.card_renewal: ("カード更新", "Card renewal"),
    Procedure.ecert_issue_renew: ("電子証明書の発行・更新", "E-certificate issue / renewal"),
    Procedure.pin_reset: ("暗証番号の初期化・変更", "PIN reset / change"),
    Procedure.application_support: ("申請サポート", "Application support"),
    Procedure.certificate_kiosk: ("証明書交付", "Certificate issuance"),
    Procedure.certificate_request: ("証明書の交付請求", "Certificate request"),
}

# Procedures whose identity only a municipal officer decides (docs/domain.md).
IDENTITY_PROCEDURES: Final = frozenset(
    {
        Procedure.card_application,
        Procedure.card_renewal,
        Procedure.ecert_issue_renew,
        Procedure.pin_reset,
        Procedure.certificate_request,
    }
)
# Procedures that end with a card made by J-LIS and mailed as 本人限定受取郵便.
MAILED_PROCEDURES: Final = frozenset({Procedure.card_application, Procedure.card_renewal})
# Procedures that end at the counter with no identity decision.
NO_DECISION_PROCEDURES: Final = frozenset({Procedure.application_support, Procedure.certificate_kiosk})
ALL_PROCEDURES: Final = frozenset(Procedure)
# Procedures that start from a 交付申請書 and its 申請書ID (23 digits, also printed as a QR code).
FORM_ID_PROCEDURES: Final = frozenset({Procedure.card_application, Procedure.card_renewal})
# Procedures whose case carries a requested certificate, issued for printing at the office on approval.
CERTIFICATE_PROCEDURES: Final = frozenset({Procedure.certificate_request})


class CaseState(StrEnum):
    draft = "draft"
    checked_in = "checked_in"
    eligibility_precheck = "eligibility_precheck"
    queued_for_officer = "queued_for_officer"
    session_live = "session_live"
    evidence_captured = "evidence_captured"
    officer_review = "officer_review"
    approved = "approved"
    rejected = "rejected"
    aborted = "aborted"
    referred_to_counter = "referred_to_counter"  # 交付時来庁へ切替
    pin_request_sealed = "pin_request_sealed"
    submitted_to_jlis = "submitted_to_jlis"
    card_produced = "card_produced"
    card_received_by_municipality = "card_received_by_municipality"
    pre_issue_setup_done = "pre_issue_setup_done"  # 交付前設定
    mailed = "mailed"  # 本人限定受取郵便 (特例型)
    delivered = "delivered"
    returned_undelivered = "returned_undelivered"
    awaiting_counter_pickup = "awaiting_counter_pickup"
    closed = "closed"
    withdrawn = "withdrawn"
    cancelled_address_change = "cancelled_address_change"


TERMINAL_STATES: Final = frozenset(
    {
        CaseState.rejected,
        CaseState.referred_to_counter,
        CaseState.closed,
        CaseState.withdrawn,
        CaseState.cancelled_address_change,
    }
)
# The live review: an officer is connected and has not yet decided.
LIVE_STATES: Final = frozenset(
    {CaseState.session_live, CaseState.evidence_captured, CaseState.officer_review}
)
# The applicant waits at the counter for an officer or for the officer's decision.
WAITING_STATES: Final = frozenset({CaseState.queued_for_officer} | LIVE_STATES)


class Action(StrEnum):
    check_in = "check_in"
    precheck = "precheck"
    request_verification = "request_verification"
    accept = "accept"
    capture_evidence = "capture_evidence"
    begin_review = "begin_review"
    # At an outreach booth the officer sees the applicant face to face (identity_check: in_person, docs/booths.md).
    review_in_person = "review_in_person"
    approve = "approve"
    reject = "reject"
    refer_to_counter = "refer_to_counter"
    abort = "abort"
    requeue = "requeue"
    withdraw = "withdraw"
    complete = "complete"
    seal_pin_request = "seal_pin_request"
    submit_to_jlis = "submit_to_jlis"
    record_card_produced = "record_card_produced"
    record_card_received = "record_card_received"
    record_pre_issue_setup = "record_pre_issue_setup"
    record_mailed = "record_mailed"
    record_delivered = "record_delivered"
    record_returned = "record_returned"
    record_awaiting_pickup = "record_awaiting_pickup"
    close = "close"
    cancel_address_change = "cancel_address_change"


class Actor(StrEnum):
    """Who takes an action, as far as the state machine cares."""

    device = "device"  # the clerk-agent device at the designated post office
    officer = "officer"  # the municipal officer assigned to the case
    supervisor = "supervisor"
    integration = "integration"  # the municipality's back office
    system = "system"


# The officer's identity decisions; each needs an explicit attestation (docs/domain.md §B3).
DECISION_ACTIONS: Final = frozenset({Action.approve, Action.reject, Action.refer_to_counter})

# Reason codes, per action that needs one. Codes only: never free text with personal data.
REASONS: Final[dict[Action, frozenset[str]]] = {
    Action.reject: frozenset(
        {
            "face_mismatch",
            "attribute_mismatch",
            "document_invalid",
            "document_expired",
            "ineligible",
            "suspected_impersonation",
            "other",
        }
    ),
    Action.abort: frozenset(
        {"network", "picture_quality", "audio_quality", "applicant_left", "officer_unavailable", "other"}
    ),
    Action.refer_to_counter: frozenset(
        {
            "document_unreadable",
            "id_combination_not_accepted",
            "applicant_preference",
            "special_handling",
            "other",
        }
    ),
    Action.withdraw: frozenset(
        {
            "applicant_request",
            "ineligible",
            "proxy_not_allowed",
            "legal_representative_absent",
            "moving_before_delivery",
            "mail_forwarding_registered",
            "duplicate_application",
            "other",
        }
    ),
    Action.cancel_address_change: frozenset({"address_change", "name_change"}),
    Action.record_returned: frozenset({"hold_expired", "addressee_unknown", "refused"}),
}
