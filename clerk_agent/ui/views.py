"""What each screen is told: the clerk sees the case and its status; the applicant sees only their steps and PIN pad."""

from __future__ import annotations

from collections.abc import Sequence

from clerk_agent.flows.cardsteps import CODE_B_NOTICES
from clerk_agent.flows.cardwork import CardWork, Phase
from clerk_agent.flows.case import CARD_PROCEDURES, MAILED, PHOTO_PROCEDURES, RECEIPT_STATES, steps_of
from clerk_agent.flows.counter import CounterFlow
from clerk_agent.flows.idchips_jp import VirtualDocuments
from clerk_agent.flows.pinchoice import FIELDS, KINDS, refusal_of, refusal_text
from clerk_agent.photo.camera import SceneCamera
from clerk_agent.photo.guidance import ADVICE_TEXT, Advice
from clerk_agent.ui.display import en_datetime, ja_datetime
from clerk_agent.wording import chips as chip_words
from clerk_agent.wording import texts
from clerk_agent.wording.problems import problem_text
from service.wire.cardwork import PIN_RULES, CertKind, PinMode
from service.wire.cases import CaseState
from service.wire.idchips import CHIP_REFUSAL_LABELS, ChipKind, ChipRefusal

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
    """The chosen document, the last chip read with the hub's verdict in words, and the demo's virtual reader."""
    chips = flow.chips
    source = chips.source
    last = chips.last
    return {
        "reading": chips.reading,
        "document": chips.document.value if chips.document else None,
        "declined": chips.declined,
        "documents": [
            {"code": kind.value, **texts.pair(words)} for kind, words in chip_words.DOCUMENTS.items()
        ],
        # The codes stay for the tests and the help desk; the screens show `outcome`.
        "last": {k: last[k] for k in ("kind", "verdict", "refusal_reason", "pin", "tries_left") if k in last}
        if last
        else None,
        "outcome": texts.pair(chip_words.read_outcome(last)) if last else None,
        "refusal": _chip_refusal(last.get("refusal_reason")) if last else None,
        "virtual": {
            "document": source.document,
            "choices": [
                {"code": code, **texts.pair(chip_words.DOCUMENTS[ChipKind(code)])} for code in source.choices
            ],
        }
        if isinstance(source, VirtualDocuments)
        else None,
    }


def _chip_refusal(reason: object) -> JsonView | None:
    """The refusal's short label: the hub's by the contract's labels, a counter failure by its notice."""
    if not isinstance(reason, str) or not reason:
        return None
    label = (
        CHIP_REFUSAL_LABELS.get(ChipRefusal(reason))
        if reason in set(ChipRefusal)
        else texts.NOTICES.get(reason)
    )
    return {**texts.pair(label or chip_words.read_outcome({"refusal_reason": reason}))}


def _licence(flow: CounterFlow) -> JsonView | None:
    """The applicant's licence PIN form: open while the call takes document reads and the clerk chose a licence."""
    case = flow.case
    if (
        flow.chips.document is not ChipKind.driving_licence
        or case is None
        or case.evidence_sent
        or flow.chips.declined
        or flow.current_step() != "call"
    ):
        return None
    last = flow.chips.last
    mine = last if last and last.get("kind") == ChipKind.driving_licence.value else None
    return {
        "reading": flow.chips.reading,
        "verdict": mine.get("verdict") if mine else None,
        "outcome": texts.pair(chip_words.read_outcome(mine, applicant=True)) if mine else None,
        "tries_left": mine.get("tries_left") if mine else None,
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
        "started_en": en_datetime(case.started_at),  # the same moment for the English screen
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
        "next_steps": _next_steps(case.hub_state, case.procedure, case.card_work_done),
        "mailed": case.procedure in MAILED,
        "card_procedure": case.procedure in CARD_PROCEDURES,
    }
    view["card_work"] = card_work_view(flow.work)
    return view


def _next_steps(state: CaseState | None, procedure: str, card_work_done: list[str]) -> dict[str, str] | None:
    """What comes next, by the outcome: the procedure's own text only once it went through."""
    if state in texts.OUTCOME_NEXT_STEPS:
        return texts.pair(texts.OUTCOME_NEXT_STEPS[state])
    if state == CaseState.approved or state in RECEIPT_STATES:
        return texts.pair(texts.next_steps_after(procedure, card_work_done, closed=state in RECEIPT_STATES))
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
    if flow.work.state.phase is Phase.pin_entry:
        # The card work's new PIN: the same form, one PIN, sent to the agent only (docs/card-procedures.md).
        view["choose_pins"] = True
        view["pin_choice"] = _pin_work_choice(flow)
        if (flow.notice or "").startswith("pin_work_"):
            view["notice"] = None  # told next to the field itself
    view["card_work"] = _applicant_card_work(flow.work)
    view["photo_review"] = flow.capture.candidate is not None
    view["licence"] = _licence(flow)
    # The 受付番号 is no personal data: the applicant may note it to ask about the case later.
    view["reference"] = case.reference if case else None
    view["ineligible"] = (
        [texts.pair(texts.INELIGIBLE.get(r, (r, r))) for r in case.precheck_reasons] if case else []
    )
    return view


def _labelled(codes: list[str], words: dict[str, tuple[str, str]]) -> list[JsonView]:
    return [{"code": c, **texts.pair(words.get(c, (c, c)))} for c in codes]


def card_work_view(work: CardWork) -> JsonView:
    """The clerk's card-work panel: the phase, the plan as the hub answered it, what was done; never a PIN."""
    state = work.state
    plan = state.plan or {}
    rows = plan.get("certificates")
    certificates: list[JsonView] = []
    for row in rows if isinstance(rows, list) else []:
        certificates.append(
            {
                "certificate": row["certificate"],
                "action": row["action"],
                "label": texts.pair(texts.CERTIFICATES[row["certificate"]]),
                "reason": texts.pair(texts.PLAN_REASONS.get(row["reason"], (row["reason"], row["reason"]))),
            }
        )
    return {
        "phase": state.phase.value,
        "kind": state.kind,
        "step": texts.pair(texts.CARD_WORK_STEPS[state.step])
        if state.step in texts.CARD_WORK_STEPS
        else None,
        "certificates": certificates,
        "renewal_opens": plan.get("renewal_opens"),
        "pin": {"key": state.pin.value, "label": texts.pair(PIN_RULES[state.pin].label)}
        if state.pin
        else None,
        "mode": state.mode.value if state.mode else None,
        "locked": (
            {"key": state.locked.value, "label": texts.pair(PIN_RULES[state.locked].label)}
            if state.locked
            else None
        ),
        "resuming": state.resume is not None,
        "pin_retries": work.pin_retries,
        "done": _labelled(state.done, texts.DONE),
        "choices": {
            "certificates": [{"key": c.value, **texts.pair(texts.CERTIFICATES[c.value])} for c in CertKind],
            "pins": [
                {"key": r.which.value, "label": texts.pair(r.label), "rule": texts.pair(r.rule)}
                for r in PIN_RULES.values()
            ],
        },
    }


def _applicant_card_work(work: CardWork) -> JsonView | None:
    state = work.state
    if state.kind is None and not state.done:
        return None
    return {
        "phase": state.phase.value,
        "step": texts.pair(texts.CARD_WORK_STEPS[state.step])
        if state.step in texts.CARD_WORK_STEPS
        else None,
        "done": _labelled(state.done, texts.DONE),
    }


_PIN_WORK_FIELD_ERRORS = {
    "current": {"rule": "pin_work_rule_current", "mismatch": "pin_work_rule_current"},
    "new": {"rule": "pin_work_rule_new", "mismatch": "pin_work_mismatch_new"},
}


def _pin_work_choice(flow: CounterFlow) -> JsonView | None:
    """The applicant's form for one PIN of the card work: the current PIN once (a change), the new one twice."""
    work = flow.work
    which, mode = work.state.pin, work.state.mode
    if which is None or mode is None:
        return None
    rule = PIN_RULES[which]
    ja, en = rule.label

    def field(key: str, label: tuple[str, str], once: bool) -> JsonView:
        return {
            "key": key,
            "label": texts.pair(label),
            "rule": texts.pair(rule.rule),
            "pattern": rule.pattern.pattern,
            "max": rule.max_length,
            "letters": rule.letters,
            "once": once,
            "errors": {k: texts.pair(texts.NOTICES[code]) for k, code in _PIN_WORK_FIELD_ERRORS[key].items()},
        }

    fields = [field("new", (f"新しい{ja}", f"New {en.lower()}"), False)]
    if mode is PinMode.change:
        fields.insert(0, field("current", (f"現在の{ja}", f"Current {en.lower()}"), True))
    notice = flow.notice or ""
    error = None
    if notice.startswith("pin_work_"):
        target = "current" if notice in {"pin_work_rule_current", "pin_work_current_incorrect"} else "new"
        error = {"field": target, **texts.pair(texts.NOTICES[notice])}
    retries = work.pin_retries
    intro = (
        (
            f"暗証番号を変更します。現在の暗証番号と、新しい暗証番号（2回）を入力してください。"
            f"{f'現在の暗証番号の残り回数: {retries}回。' if retries is not None else ''}",
            f"Changing your PIN: enter the current PIN, then the new PIN twice."
            f"{f' Tries left for the current PIN: {retries}.' if retries is not None else ''}",
        )
        if mode is PinMode.change
        else (
            "暗証番号を初期化（再設定）します。新しい暗証番号を2回入力してください。",
            "Resetting your PIN: enter the new PIN twice.",
        )
    )
    return {
        "fields": fields,
        "error": error,
        "notice_error": error,
        "attempt": work.attempt,
        "endpoint": "/api/applicant/card-pin",
        "intro": texts.pair(intro),
        "privacy": texts.pair(
            (
                "入力した暗証番号は、このカードにだけ届きます。係員にも市区町村のシステムにも送られません。",
                "The PIN you type goes only to this card; neither the clerk nor the municipal system receives it.",
            )
        ),
        "done_text": texts.pair(
            (
                "受け付けました。カードに設定しています。係員の案内をお待ちください。",
                "Accepted. Setting it on the card; please wait for the clerk.",
            )
        ),
    }
