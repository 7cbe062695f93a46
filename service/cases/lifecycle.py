"""The case state machine (docs/domain.md §B3) as plain data: states, actions, who may take them, from where.

Pure: no I/O. The service layer adds tenancy, designation and concurrency checks around `plan()`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from service.tenancy.codes import Procedure


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


TERMINAL_STATES = frozenset(
    {
        CaseState.rejected,
        CaseState.referred_to_counter,
        CaseState.closed,
        CaseState.withdrawn,
        CaseState.cancelled_address_change,
    }
)


class Action(StrEnum):
    check_in = "check_in"
    precheck = "precheck"
    request_verification = "request_verification"
    accept = "accept"
    capture_evidence = "capture_evidence"
    begin_review = "begin_review"
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


# Reason codes, per action that needs one. Codes only: never free text with personal data.
REASONS: dict[Action, frozenset[str]] = {
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

# The officer's decision needs an explicit attestation (docs/domain.md §B3).
ATTESTED_ACTIONS = frozenset({Action.approve, Action.reject, Action.refer_to_counter})

IDENTITY_PROCEDURES = frozenset(
    {Procedure.card_application, Procedure.card_renewal, Procedure.ecert_issue_renew, Procedure.pin_reset}
)
MAILED_PROCEDURES = frozenset({Procedure.card_application, Procedure.card_renewal})
NO_DECISION_PROCEDURES = frozenset({Procedure.application_support, Procedure.certificate_kiosk})
ALL_PROCEDURES = frozenset(Procedure)

S = CaseState
_PRE_DECISION_LIVE = frozenset({S.session_live, S.evidence_captured, S.officer_review})
_POST_SUBMISSION = frozenset(
    {
        S.submitted_to_jlis,
        S.card_produced,
        S.card_received_by_municipality,
        S.pre_issue_setup_done,
        S.mailed,
        S.returned_undelivered,
    }
)


@dataclass(frozen=True)
class Transition:
    """One action: the states it may start from, the state it leads to, who may take it, for which procedures."""

    action: Action
    sources: frozenset[CaseState]
    target: CaseState
    actors: frozenset[Actor]
    procedures: frozenset[Procedure] = ALL_PROCEDURES
    # The designation must be in force now (the clerk's steps and the officer taking the case).
    needs_designation: bool = False

    @property
    def needs_reason(self) -> bool:
        return self.action in REASONS

    @property
    def needs_attestation(self) -> bool:
        return self.action in ATTESTED_ACTIONS


def _t(
    action: Action,
    sources: set[CaseState],
    target: CaseState,
    actors: set[Actor],
    procedures: frozenset[Procedure] = ALL_PROCEDURES,
    *,
    designation: bool = False,
) -> Transition:
    return Transition(action, frozenset(sources), target, frozenset(actors), procedures, designation)


TRANSITIONS: dict[Action, Transition] = {
    t.action: t
    for t in (
        _t(Action.check_in, {S.draft}, S.checked_in, {Actor.device}, designation=True),
        _t(
            Action.precheck,
            {S.checked_in, S.eligibility_precheck},
            S.eligibility_precheck,
            {Actor.device},
            designation=True,
        ),
        _t(
            Action.request_verification,
            {S.eligibility_precheck},
            S.queued_for_officer,
            {Actor.device},
            IDENTITY_PROCEDURES,
            designation=True,
        ),
        _t(
            Action.accept,
            {S.queued_for_officer},
            S.session_live,
            {Actor.officer},
            IDENTITY_PROCEDURES,
            designation=True,
        ),
        _t(
            Action.capture_evidence,
            {S.session_live},
            S.evidence_captured,
            {Actor.device},
            IDENTITY_PROCEDURES,
        ),
        _t(
            Action.begin_review, {S.evidence_captured}, S.officer_review, {Actor.officer}, IDENTITY_PROCEDURES
        ),
        _t(Action.approve, {S.officer_review}, S.approved, {Actor.officer}, IDENTITY_PROCEDURES),
        _t(Action.reject, {S.officer_review}, S.rejected, {Actor.officer}, IDENTITY_PROCEDURES),
        _t(
            Action.refer_to_counter,
            {S.officer_review, S.evidence_captured},
            S.referred_to_counter,
            {Actor.officer},
            IDENTITY_PROCEDURES,
        ),
        _t(
            Action.abort,
            set(_PRE_DECISION_LIVE),
            S.aborted,
            {Actor.officer, Actor.device},
            IDENTITY_PROCEDURES,
        ),
        # After an abort the case may go back to the queue; evidence and liveness are then taken afresh
        # (docs/domain.md §B7).
        _t(
            Action.requeue,
            {S.aborted},
            S.queued_for_officer,
            {Actor.device},
            IDENTITY_PROCEDURES,
            designation=True,
        ),
        _t(
            Action.withdraw,
            {S.draft, S.checked_in, S.eligibility_precheck, S.queued_for_officer, S.aborted},
            S.withdrawn,
            {Actor.device},
        ),
        # 申請サポート and the kiosk end at the counter with no identity decision.
        _t(
            Action.complete,
            {S.eligibility_precheck},
            S.closed,
            {Actor.device},
            NO_DECISION_PROCEDURES,
            designation=True,
        ),
        _t(Action.seal_pin_request, {S.approved}, S.pin_request_sealed, {Actor.device}, MAILED_PROCEDURES),
        _t(
            Action.submit_to_jlis,
            {S.pin_request_sealed},
            S.submitted_to_jlis,
            {Actor.officer, Actor.system},
            MAILED_PROCEDURES,
        ),
        _t(
            Action.record_card_produced,
            {S.submitted_to_jlis},
            S.card_produced,
            {Actor.integration, Actor.system},
            MAILED_PROCEDURES,
        ),
        _t(
            Action.record_card_received,
            {S.card_produced},
            S.card_received_by_municipality,
            {Actor.integration, Actor.officer},
            MAILED_PROCEDURES,
        ),
        _t(
            Action.record_pre_issue_setup,
            {S.card_received_by_municipality},
            S.pre_issue_setup_done,
            {Actor.integration, Actor.officer},
            MAILED_PROCEDURES,
        ),
        _t(
            Action.record_mailed,
            {S.pre_issue_setup_done},
            S.mailed,
            {Actor.integration, Actor.officer},
            MAILED_PROCEDURES,
        ),
        _t(Action.record_delivered, {S.mailed}, S.delivered, {Actor.integration}, MAILED_PROCEDURES),
        _t(
            Action.record_returned, {S.mailed}, S.returned_undelivered, {Actor.integration}, MAILED_PROCEDURES
        ),
        _t(
            Action.record_awaiting_pickup,
            {S.returned_undelivered},
            S.awaiting_counter_pickup,
            {Actor.integration, Actor.officer},
            MAILED_PROCEDURES,
        ),
        # Identity procedures other than a card application end with the decision's follow-up at the counter.
        _t(
            Action.close,
            {S.approved, S.aborted, S.delivered, S.awaiting_counter_pickup},
            S.closed,
            {Actor.device, Actor.integration, Actor.officer},
        ),
        _t(
            Action.cancel_address_change,
            set(_POST_SUBMISSION),
            S.cancelled_address_change,
            {Actor.integration, Actor.officer},
            MAILED_PROCEDURES,
        ),
    )
}


class LifecycleError(Exception):
    """Why an action cannot be taken; `kind` is wrong_state, wrong_actor, wrong_procedure or bad_reason."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


def close_allowed(procedure: Procedure, state: CaseState, actor: Actor) -> bool:
    """Finer rules for `close`: a card application closes only after delivery or pickup, by the back office."""
    if procedure in MAILED_PROCEDURES:
        return state in {S.delivered, S.awaiting_counter_pickup, S.aborted} and (
            actor is not Actor.device or state is S.aborted
        )
    if state in {S.delivered, S.awaiting_counter_pickup}:
        return False
    return state is S.aborted or actor is Actor.device


def plan(
    *,
    state: CaseState,
    action: Action,
    actor: Actor,
    procedure: Procedure,
    reason_code: str | None = None,
    attested: bool = False,
) -> Transition:
    """The transition `action` takes from `state`, or a LifecycleError saying why it may not."""
    transition = TRANSITIONS[action]
    if actor not in transition.actors:
        raise LifecycleError("wrong_actor", f"{actor.value} may not {action.value}")
    if procedure not in transition.procedures:
        raise LifecycleError("wrong_procedure", f"{action.value} does not apply to {procedure.value}")
    if state not in transition.sources or (
        action is Action.close and not close_allowed(procedure, state, actor)
    ):
        raise LifecycleError("wrong_state", f"cannot {action.value} a case in state {state.value}")
    if transition.needs_reason:
        if reason_code not in REASONS[action]:
            allowed = ", ".join(sorted(REASONS[action]))
            raise LifecycleError("bad_reason", f"{action.value} needs reason_code, one of: {allowed}")
    elif reason_code is not None:
        raise LifecycleError("bad_reason", f"{action.value} takes no reason_code")
    if transition.needs_attestation and not attested:
        raise LifecycleError(
            "attestation_required", f"{action.value} needs the officer's explicit attestation"
        )
    return transition
