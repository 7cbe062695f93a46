"""The case state machine as plain data: property tests over random action sequences."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.cases.eligibility import EligibilityAnswers, ineligibility_reasons
from service.cases.lifecycle import (
    REASONS,
    TERMINAL_STATES,
    TRANSITIONS,
    Action,
    Actor,
    CaseState,
    LifecycleError,
    plan,
)
from service.tenancy.codes import Procedure

DECISION_ACTIONS = {Action.approve, Action.reject, Action.refer_to_counter}


def _reachable(procedure: Procedure) -> set[CaseState]:
    seen = {CaseState.draft}
    frontier = [CaseState.draft]
    while frontier:
        state = frontier.pop()
        for t in TRANSITIONS.values():
            if procedure in t.procedures and state in t.sources and t.target not in seen:
                seen.add(t.target)
                frontier.append(t.target)
    return seen


steps = st.lists(
    st.tuples(st.sampled_from(list(Action)), st.sampled_from(list(Actor)), st.booleans(), st.integers(0, 7)),
    max_size=40,
)


@settings(max_examples=400, deadline=None)
@given(procedure=st.sampled_from(list(Procedure)), sequence=steps)
def test_random_sequences_stay_legal(
    procedure: Procedure, sequence: list[tuple[Action, Actor, bool, int]]
) -> None:
    """Whatever is tried, the case only ever moves along the table, and never out of a terminal state."""
    reachable = _reachable(procedure)
    state = CaseState.draft
    decided_by: list[Actor] = []
    for action, actor, attested, reason_index in sequence:
        reasons = sorted(REASONS.get(action, ()))
        reason = reasons[reason_index % len(reasons)] if reasons else None
        try:
            transition = plan(
                state=state,
                action=action,
                actor=actor,
                procedure=procedure,
                reason_code=reason,
                attested=attested,
            )
        except LifecycleError:
            continue
        assert state not in TERMINAL_STATES, f"left terminal state {state} by {action}"
        assert actor in transition.actors
        state = transition.target
        assert state in reachable
        if action in DECISION_ACTIONS:
            decided_by.append(actor)
    # Separation of duties: only an officer ever decides.
    assert set(decided_by) <= {Actor.officer}


def test_only_officer_decides() -> None:
    for action in DECISION_ACTIONS:
        assert TRANSITIONS[action].actors == frozenset({Actor.officer})


def test_terminal_states_have_no_way_out() -> None:
    for t in TRANSITIONS.values():
        assert not (t.sources & TERMINAL_STATES), t.action


def test_no_decision_procedures_never_reach_the_queue() -> None:
    for procedure in (Procedure.application_support, Procedure.certificate_kiosk):
        reachable = _reachable(procedure)
        assert CaseState.queued_for_officer not in reachable
        assert CaseState.approved not in reachable
        assert CaseState.closed in reachable


def test_mail_states_only_for_card_procedures() -> None:
    assert CaseState.mailed in _reachable(Procedure.card_application)
    assert CaseState.mailed not in _reachable(Procedure.pin_reset)


def test_certificate_request_is_decided_by_the_officer_and_never_mailed() -> None:
    # The counter's certificate request (docs/certificates.md §Counter): the identity review, then the device closes.
    reachable = _reachable(Procedure.certificate_request)
    assert {
        CaseState.queued_for_officer,
        CaseState.approved,
        CaseState.rejected,
        CaseState.closed,
    } <= reachable
    assert CaseState.pin_request_sealed not in reachable
    assert CaseState.mailed not in reachable
    with pytest.raises(LifecycleError):
        plan(
            state=CaseState.officer_review,
            action=Action.approve,
            actor=Actor.device,
            procedure=Procedure.certificate_request,
            attested=True,
        )
    closed = plan(
        state=CaseState.approved,
        action=Action.close,
        actor=Actor.device,
        procedure=Procedure.certificate_request,
    )
    assert closed.target is CaseState.closed


def test_every_state_is_reachable_for_card_application() -> None:
    assert _reachable(Procedure.card_application) == set(CaseState)


@pytest.mark.parametrize(
    ("action", "attested", "reason", "kind"),
    [
        (Action.approve, False, None, "attestation_required"),
        (Action.reject, True, None, "bad_reason"),
        (Action.reject, True, "nonsense", "bad_reason"),
        (Action.approve, True, "face_mismatch", "bad_reason"),
    ],
)
def test_decision_needs_attestation_and_reason(
    action: Action, attested: bool, reason: str | None, kind: str
) -> None:
    with pytest.raises(LifecycleError) as caught:
        plan(
            state=CaseState.officer_review,
            actor=Actor.officer,
            procedure=Procedure.card_application,
            action=action,
            attested=attested,
            reason_code=reason,
        )
    assert caught.value.kind == kind


def test_reject_with_reason_and_attestation() -> None:
    transition = plan(
        state=CaseState.officer_review,
        actor=Actor.officer,
        procedure=Procedure.card_application,
        action=Action.reject,
        attested=True,
        reason_code="face_mismatch",
    )
    assert transition.target is CaseState.rejected


@pytest.mark.parametrize("state", [CaseState.approved, CaseState.pin_request_sealed])
def test_card_application_closes_only_after_delivery(state: CaseState) -> None:
    with pytest.raises(LifecycleError) as caught:
        plan(state=state, action=Action.close, actor=Actor.device, procedure=Procedure.card_application)
    assert caught.value.kind == "wrong_state"
    assert (
        plan(
            state=CaseState.approved, action=Action.close, actor=Actor.device, procedure=Procedure.pin_reset
        ).target
        is CaseState.closed
    )


def test_eligibility_rules() -> None:
    base = EligibilityAnswers(
        applicant_present=True,
        resident_of_municipality=True,
        proxy_applicant=False,
        minor_or_adult_ward=False,
    )
    assert ineligibility_reasons(base, Procedure.card_application) == []
    proxy = base.model_copy(update={"proxy_applicant": True})
    assert ineligibility_reasons(proxy, Procedure.card_application) == ["proxy_not_allowed"]
    minor = base.model_copy(update={"minor_or_adult_ward": True})
    assert ineligibility_reasons(minor, Procedure.card_application) == ["legal_representative_absent"]
    assert (
        ineligibility_reasons(
            minor.model_copy(update={"legal_representative_present": True}), Procedure.card_application
        )
        == []
    )
    moving = base.model_copy(
        update={"moving_or_name_change_before_delivery": True, "mail_forwarding_registered": True}
    )
    assert ineligibility_reasons(moving, Procedure.card_application) == [
        "moving_before_delivery",
        "mail_forwarding_registered",
    ]
    # A PIN reset is finished at the counter: a planned move does not matter there.
    assert ineligibility_reasons(moving, Procedure.pin_reset) == []
