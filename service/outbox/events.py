"""Which case transitions are events, and their minimal payloads (pure, no I/O)."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any

from service.cases.lifecycle import CaseState


class EventType(StrEnum):
    """Event types a webhook subscription can ask for."""

    case_queued = "case.queued"
    case_decided = "case.decided"
    # The application is complete and sealed (暗証番号設定依頼 sealed): ready for the back office and J-LIS.
    case_finalized = "case.finalized"
    case_submitted = "case.submitted"
    card_produced = "card.produced"
    mail_dispatched = "mail.dispatched"  # 本人限定受取郵便 (特例型)
    mail_delivered = "mail.delivered"
    mail_returned = "mail.returned"
    # The case ended without a decision event: closed, withdrawn, or mailing voided by an address change.
    case_closed = "case.closed"


_BY_STATE: dict[CaseState, EventType] = {
    CaseState.queued_for_officer: EventType.case_queued,
    CaseState.approved: EventType.case_decided,
    CaseState.rejected: EventType.case_decided,
    CaseState.referred_to_counter: EventType.case_decided,
    CaseState.pin_request_sealed: EventType.case_finalized,
    CaseState.submitted_to_jlis: EventType.case_submitted,
    CaseState.card_produced: EventType.card_produced,
    CaseState.mailed: EventType.mail_dispatched,
    CaseState.delivered: EventType.mail_delivered,
    CaseState.returned_undelivered: EventType.mail_returned,
    CaseState.closed: EventType.case_closed,
    CaseState.withdrawn: EventType.case_closed,
    CaseState.cancelled_address_change: EventType.case_closed,
}


def event_type_for(to_state: CaseState) -> EventType | None:
    """The event a case entering `to_state` emits, if any."""
    return _BY_STATE.get(to_state)


def envelope(
    *,
    event_id: str,
    event_type: EventType,
    occurred_at: dt.datetime,
    municipality_code: str,
    data: dict[str, Any],
) -> dict[str, Any]:
    """The JSON body of an event, as stored and as sent (ids, states, codes and timestamps only)."""
    return {
        "id": event_id,
        "type": event_type.value,
        "occurred_at": occurred_at.astimezone(dt.UTC).isoformat().replace("+00:00", "Z"),
        "municipality_code": municipality_code,
        "data": data,
    }
