"""The case state machine (docs/domain.md §B3) as plain data: states, actions, who may take them, from where.

Pure: no I/O. The service layer adds tenancy, designation and concurrency checks around `plan()`.
"""

from __future__ import annotations

from dataclasses import dataclass

from service.wire.cases import (
    ALL_PROCEDURES,
    DECISION_ACTIONS,
    IDENTITY_PROCEDURES,
    LIVE_STATES,
    MAILED_PROCEDURES,
    NO_DECISION_PROCEDURES,
    REASONS,
    TERMINAL_STATES,
    Action,
    Actor,
    CaseState,
    Procedure,
)

__all__ = [
    "ALL_PROCEDURES",
    "ATTESTED_ACTIONS",
    "DECISION_ACTIONS",
    "IDENTITY_PROCEDURES",
    "LIVE_STATES",
    "MAILED_PROCEDURES",
    "NO_DECISION_PROCEDURES",
    "REASONS",
    "TERMINAL_STATES",
    "TRANSITIONS",
    "Action",
    "Actor",
    "CaseState",
    "LifecycleError",
    "Procedure",
    "Transition",
    "plan",
]


# The shared names live in the contract; the state machine re-exports them for the hub's own modules.
ATTESTED_ACTIONS = DECISION_ACTIONS

S = CaseState
_PRE_DECISION_LIVE = LIVE_STATES
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
        # Booth cases only (service/booths): the officer at the booth takes the case into review face to face;
        # `act` refuses it on any other path.
        _t(
            Action.review_in_person,
            {S.eligibility_precheck},
            S.officer_review,
            {Actor.officer},
            IDENTITY_PROCEDURES,
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
