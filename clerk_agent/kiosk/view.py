"""The lobby terminal's screen as JSON for kiosk.js: the step, the progress bar, the choices, the slip's facts."""

from __future__ import annotations

from clerk_agent.kiosk.flow import PROGRESS, PROGRESS_STEPS, KioskFlow, KioskStep
from clerk_agent.wording.kiosk import PROGRESS_LABELS, STEPS, kiosk_notice
from service.wire.certificates import KIND_LABELS, OPTION_LABELS, REFUSAL_WORDING, SCOPE_LABELS

JsonObject = dict[str, object]


def _pair(text: tuple[str, str] | None) -> dict[str, str] | None:
    return {"ja": text[0], "en": text[1]} if text else None


def kiosk_view(flow: KioskFlow) -> JsonObject:
    """Everything the terminal's screen shows now (nothing about the resident beyond their own choice)."""
    session = flow.session
    view: JsonObject = {
        "step": flow.step.value,
        "title": _pair(STEPS[flow.step.value]),
        "progress": {
            "index": PROGRESS[flow.step] - 1,
            "of": PROGRESS_STEPS,
            "steps": [_pair(label) for label in PROGRESS_LABELS],
        },
        "notice": _pair(kiosk_notice(flow.notice)),
        "notice_code": flow.notice,
        "card_present": flow.slot.present,
        "unprinted_receipt": flow.unprinted_receipt,
        "idle_timeout_s": flow.idle_timeout_s,
    }
    if flow.step is KioskStep.choose and flow.catalogue is not None:
        view["kinds"] = [
            {
                "kind": offer.kind.value,
                "label": _pair(KIND_LABELS.get(offer.kind, (offer.ja, offer.en))),
                "fee_yen": offer.kiosk_fee_yen,
                "max_count": offer.max_count,
                "scopes": [{"scope": s.value, "label": _pair(SCOPE_LABELS[s])} for s in offer.scopes],
                "options": [{"option": o.value, "label": _pair(OPTION_LABELS[o])} for o in offer.options],
            }
            for offer in flow.catalogue.kinds
        ]
    if session.kind is not None:
        view["choice"] = {
            "kind": _pair(KIND_LABELS[session.kind]),
            "count": session.count,
            "scope": _pair(SCOPE_LABELS[session.scope]) if session.scope else None,
            "options": [_pair(OPTION_LABELS[o]) for o in session.options],
        }
    if flow.step is KioskStep.pin:
        view["pin_retries"] = session.pin_retries
    answer = session.answer
    if answer is not None and answer.receipt is not None:
        receipt = answer.receipt
        view["receipt"] = {
            "receipt_number": receipt.receipt_number,
            "kind": _pair(KIND_LABELS[receipt.kind]),
            "count": receipt.count,
            "fee_yen": receipt.fee_yen,
            "expires_at": receipt.expires_at.isoformat(),
            "slip_printed": session.slip_printed,
            "slip_problem": _pair(kiosk_notice(session.slip_problem or None)),
        }
    if answer is not None and answer.refusal is not None:
        wording = REFUSAL_WORDING.get(answer.refusal)
        # The terminal's own neutral words first: a record-based refusal never shows why (支援措置).
        view["refusal"] = _pair(wording) if wording else {"ja": answer.message_ja, "en": answer.message_en}
    return view
