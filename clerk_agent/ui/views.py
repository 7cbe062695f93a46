"""What each screen is told: the clerk sees the case and its status; the applicant sees only their steps and PIN pad."""

from __future__ import annotations

from collections.abc import Sequence

from clerk_agent.flows.cardsteps import CODE_B_NOTICES
from clerk_agent.flows.case import CARD_PROCEDURES, MAILED, PHOTO_PROCEDURES, RECEIPT_STATES, steps_of
from clerk_agent.flows.counter import CounterFlow
from clerk_agent.flows.pinchoice import FIELDS, KINDS, refusal_of, refusal_text
from clerk_agent.photo.camera import SceneCamera
from clerk_agent.photo.guidance import ADVICE_TEXT, Advice
from clerk_agent.ui.display import ja_datetime
from clerk_agent.wording import texts
from clerk_agent.wording.problems import problem_text
from service.wire.cases import CaseState
from service.wire.idchips import CHIP_REFUSAL_LABELS, ChipRefusal

JsonView = dict[str, object]
# The state the clerk screen is told before the hub has answered the case's create.
NOT_OPENED = "new"
# Outcomes whose reason the clerk may tell the applicant (unless it must be withheld).
_TOLD_STATES = frozenset({CaseState.rejected, CaseState.referred_to_counter})


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


def _notice(flow: CounterFlow) -> JsonView | None:
    if not flow.notice:
        return None
    if flow.notice == "hub_refused" and flow.problem_code:
        # The hub's own reason, in the clerk's words; the code is shown too, for the help desk.
        return {
            "code": flow.notice,
            "problem": flow.problem_code,
            **texts.pair(problem_text(flow.problem_code)),
        }
    refused = refusal_of(flow.notice)
    if refused:
        return {"code": flow.notice, **texts.pair(refusal_text(*refused))}
    return {"code": flow.notice, **texts.pair(texts.NOTICES.get(flow.notice, ("", "")))}


def _advice(advice: tuple[Advice, ...] | list[Advice]) -> list[JsonView]:
    return [{"code": a.value, **texts.pair(ADVICE_TEXT[a])} for a in advice]


def _common(flow: CounterFlow) -> JsonView:
    online = flow.link.status.online
    pin = flow.card.pin
    return {
        "hub": {
            "online": online,
            "message": texts.pair(texts.NOTICES["hub_offline"]) if online is False else None,
            "retry_in_s": round(flow.link.status.next_retry_s, 1),
        },
        "progress": _progress(flow),
        "procedure": texts.pair(texts.PROCEDURES[flow.case.procedure]) if flow.case else None,
        "pin": {
            "open": pin.open,
            "retries_left": pin.retries_left,
            "needs_clerk_confirm": pin.needs_clerk_confirm,
        },
        "notice": _notice(flow),
    }


def _photo(flow: CounterFlow) -> JsonView:
    capture = flow.capture
    latest = capture.preview.latest
    live = capture.preview_running() and latest is not None
    return {
        "preview": capture.preview_running(),
        "frames": capture.preview.frames,
        "advice": _advice(latest.advice) if live and latest else [],
        "candidate": capture.candidate is not None,
        "candidate_advice": _advice(capture.candidate_advice) if capture.candidate is not None else [],
    }


def _chip(flow: CounterFlow) -> JsonView:
    """The last ID-document chip read and the hub's verdict, with the refusal in Japanese and English."""
    last = flow.chips.last
    if last is None:
        return {"reading": flow.chips.reading, "last": None}
    reason = last.get("refusal_reason")
    # The hub's refusals by their contract labels; a read that failed at the counter by the agent error's notice.
    label = (
        CHIP_REFUSAL_LABELS.get(ChipRefusal(reason))
        if isinstance(reason, str) and reason in set(ChipRefusal)
        else texts.NOTICES.get(str(reason))
    )
    return {
        "reading": flow.chips.reading,
        "last": last,
        "refusal": {"ja": label[0], "en": label[1]}
        if label
        else ({"ja": reason, "en": reason} if reason else None),
    }


def clerk_view(flow: CounterFlow) -> JsonView:
    """The clerk screen's state."""
    view = _common(flow)
    case = flow.case
    view["card"] = {"present": flow.slot.present, "reader_ok": flow.slot.reader_ok, "name": flow.slot.name}
    view["call"] = {
        "phase": flow.call.phase,
        "detail": flow.call.detail,
        "officer_audio": flow.call.officer_audio,
    }
    view["queue"] = dict(flow.queue)
    view["scan"] = {"scanning": flow.capture.scanning, "form_id": flow.capture.scanned_form_id}
    camera = flow.capture.camera
    view["camera"] = {
        "synthetic": isinstance(camera, SceneCamera),
        "person": camera.seated if isinstance(camera, SceneCamera) and camera.cardholder else None,
    }
    view["photo"] = _photo(flow)
    view["chip"] = _chip(flow)
    if case is None:
        view["case"] = None
        return view
    decision = texts.DECISIONS.get(case.hub_state) if case.hub_state else None
    abort = (
        texts.ABORT_REASONS.get(case.reason_code or "other") if case.hub_state == CaseState.aborted else None
    )
    view["case"] = {
        "procedure": case.procedure,
        "case_id": case.case_id,  # the key of the hub's URLs; screens show `reference`
        "reference": case.reference,
        "started": ja_datetime(case.started_at),
        "state": case.hub_state or NOT_OPENED,
        "shinseisho_id": case.shinseisho_id,
        "certificate": case.certificate,
        "certificate_receipt": case.certificate_receipt,
        "ineligible": [
            {"code": r, **texts.pair(texts.INELIGIBLE.get(r, (r, r)))} for r in case.precheck_reasons
        ],
        "consents": case.consents,
        "pin_retries": case.pin_retries,
        "pin_blocked": case.pin_blocked,
        "code_b_entered": flow.card.code_b_entered(),
        "code_b_retries": case.code_b_retries,
        "card_generation": case.card_generation,
        "proof_ok": case.proof_ok,
        "evidence_sent": case.evidence_sent,
        "photo_needed": case.procedure in PHOTO_PROCEDURES,
        "photo_sent": case.photo_sent,
        "documents": case.documents,
        "documents_needed": case.needs_documents(),
        "abort_reason": {"code": case.reason_code, **texts.pair(abort)} if abort else None,
        "aborts": case.aborts,
        "decision": texts.pair(decision) if decision else None,
        "decision_reason": _decision_reason(case.hub_state, case.reason_code, case.precheck_reasons),
        "next_steps": _next_steps(case.hub_state, case.procedure),
        "mailed": case.procedure in MAILED,
        "card_procedure": case.procedure in CARD_PROCEDURES,
    }
    return view


def _next_steps(state: CaseState | None, procedure: str) -> dict[str, str] | None:
    """What comes next, by the outcome: the procedure's own text only once it went through."""
    if state in texts.OUTCOME_NEXT_STEPS:
        return texts.pair(texts.OUTCOME_NEXT_STEPS[state])
    if state == CaseState.approved or state in RECEIPT_STATES:
        return texts.pair(texts.NEXT_STEPS[procedure])
    return None


def _decision_reason(
    state: CaseState | str | None, code: str | None, precheck_reasons: Sequence[str] = ()
) -> dict[str, str] | None:
    """What the clerk may tell the applicant about a withdrawal, rejection or referral (a withheld reason names no code)."""
    if state == CaseState.withdrawn:
        if precheck_reasons:  # listed one by one from the eligibility answers (`ineligible`)
            return None
        withdrawn = texts.WITHDRAW_REASONS.get(code or "other", texts.WITHDRAW_REASONS["other"])
        return {"code": code or "other", **texts.pair(withdrawn)}
    if state not in _TOLD_STATES:
        return None
    told = texts.DECISION_REASONS.get(code or "")
    return (
        {"code": code or "", **texts.pair(told)}
        if told
        else {"code": "withheld", **texts.pair(texts.WITHHELD_REASON)}
    )


def _pin_choice(flow: CounterFlow) -> JsonView:
    """The new-PIN form's fields and rules, as the agent enforces them, and which field the agent refused."""
    refused = refusal_of(flow.notice)
    error = None
    if refused:
        kind, field = refused
        error = {"kind": kind, "field": field, **texts.pair(refusal_text(kind, field))}
    return {
        "fields": [
            {
                "key": f.key,
                "label": texts.pair(f.label),
                "rule": texts.pair(f.rule),
                "pattern": f.pattern.pattern,
                "max": f.max_length,
                "letters": f.letters,
                "errors": {kind: texts.pair(refusal_text(kind, f.key)) for kind in KINDS},
            }
            for f in FIELDS
        ],
        "error": error,
    }


def applicant_view(flow: CounterFlow) -> JsonView:
    """The applicant's screen: steps, PIN pad, the photo to approve, plain messages and the 受付番号; no ids."""
    view = _common(flow)
    if flow.notice in CODE_B_NOTICES:
        view["notice"] = None  # code B is the clerk's to type again; the applicant has nothing to do
    if refusal_of(flow.notice):
        view["notice"] = None  # told next to the field itself (pin_choice.error)
    case = flow.case
    decision = texts.DECISIONS.get(case.hub_state) if case and case.hub_state else None
    if case and case.hub_state == CaseState.aborted:
        decision = texts.APPLICANT_ABORTED
    view["decision"] = texts.pair(decision) if decision else None
    # The applicant chooses the new card's PINs only once the case is approved for mailing, and only once the
    # municipality's sealing key is here: chosen PINs are sealed at once and never wait on the network.
    view["choose_pins"] = bool(
        case
        and case.hub_state == CaseState.approved
        and case.procedure in MAILED
        and flow.sealing_key is not None
    )
    view["pin_choice"] = _pin_choice(flow) if view["choose_pins"] else None
    view["photo_review"] = flow.capture.candidate is not None
    # The 受付番号 is no personal data: the applicant may note it to ask about the case later.
    view["reference"] = case.reference if case else None
    view["ineligible"] = (
        [texts.pair(texts.INELIGIBLE.get(r, (r, r))) for r in case.precheck_reasons] if case else []
    )
    return view
