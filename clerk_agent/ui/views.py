"""What each screen is told: the clerk sees the case and its status; the applicant sees only their steps and PIN pad."""

from __future__ import annotations

from clerk_agent.flows import texts
from clerk_agent.flows.counter import CounterFlow, steps_of
from clerk_agent.photo.guidance import ADVICE_TEXT, Advice

JsonView = dict[str, object]


def _progress(flow: CounterFlow) -> JsonView:
    procedure = flow.case.procedure if flow.case else ""
    steps = steps_of(procedure) if procedure else ["procedure"]
    current = flow.current_step()
    index = steps.index(current) if current in steps else 0
    return {
        "steps": [{"key": s, **texts.pair(texts.STEPS[s])} for s in steps],
        "current": current,
        "index": index,
        "percent": round(100 * index / max(len(steps) - 1, 1)),
    }


def _common(flow: CounterFlow) -> JsonView:
    online = flow.link.status.online
    return {
        "hub": {
            "online": online,
            "message": texts.pair(texts.NOTICES["hub_offline"]) if online is False else None,
            "retry_in_s": round(flow.link.status.next_retry_s, 1),
        },
        "progress": _progress(flow),
        "procedure": texts.pair(texts.PROCEDURES[flow.case.procedure]) if flow.case else None,
        "pin": {
            "open": flow.pin.open,
            "retries_left": flow.pin.retries_left,
            "needs_clerk_confirm": flow.pin.needs_clerk_confirm,
        },
        "notice": (
            {"code": flow.notice, **texts.pair(texts.NOTICES.get(flow.notice, ("", "")))}
            if flow.notice
            else None
        ),
    }


def clerk_view(flow: CounterFlow) -> JsonView:
    """The clerk screen's state."""
    view = _common(flow)
    case = flow.case
    view["card"] = {"present": flow.slot.present, "reader_ok": flow.slot.reader_ok, "name": flow.slot.name}
    view["call"] = {"phase": flow.call.phase, "detail": flow.call.detail}
    view["queue"] = dict(flow.queue)
    if case is None:
        view["case"] = None
        return view
    decision = texts.DECISIONS.get(case.hub_state)
    view["case"] = {
        "procedure": case.procedure,
        "case_id": case.case_id,
        "state": case.hub_state,
        "shinseisho_id": case.shinseisho_id,
        "ineligible": [
            {"code": r, **texts.pair(texts.INELIGIBLE.get(r, (r, r)))} for r in case.precheck_reasons
        ],
        "consents": case.consents,
        "pin_retries": case.pin_retries,
        "pin_blocked": case.pin_blocked,
        "code_b_entered": flow.code_b_entered(),
        "proof_ok": case.proof_ok,
        "evidence_sent": case.evidence_sent,
        "photo_sent": case.photo_sent,
        "photo_advice": [{"code": a, **texts.pair(ADVICE_TEXT[Advice(a)])} for a in flow.photo_advice],
        "decision": texts.pair(decision) if decision else None,
        "next_steps": texts.pair(texts.NEXT_STEPS[case.procedure]),
        "mailed": case.procedure in {"card_renewal", "card_application"},
        "card_procedure": case.procedure in {"card_renewal", "pin_reset"},
    }
    return view


def applicant_view(flow: CounterFlow) -> JsonView:
    """The applicant's screen: steps, PIN pad and plain messages; no ids."""
    view = _common(flow)
    case = flow.case
    decision = texts.DECISIONS.get(case.hub_state) if case else None
    view["decision"] = texts.pair(decision) if decision else None
    # The applicant chooses the new card's PINs only once the case is approved for mailing.
    view["choose_pins"] = bool(
        case and case.hub_state == "approved" and case.procedure in {"card_renewal", "card_application"}
    )
    view["ineligible"] = (
        [texts.pair(texts.INELIGIBLE.get(r, (r, r))) for r in case.precheck_reasons] if case else []
    )
    return view
