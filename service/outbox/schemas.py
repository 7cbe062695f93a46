"""Request and response models of webhooks and the event feed."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from service.outbox.events import EventType
from service.outbox.sender import DeliveryError

_EVENT_EXAMPLE: dict[str, JsonValue] = {
    "id": "evt_Jq3k9w2ZbT0yS1mQ4uV7xA",
    "type": "case.decided",
    "occurred_at": "2026-11-28T07:41:09.120554Z",
    "municipality_code": "999997",
    "data": {
        "case_id": "case_5f3kP2m9QhR8tN1vX0yZ4w",
        "reference": "12345-1128-007",
        "case_version": 9,
        "procedure": "card_application",
        "post_office_id": "po_A1b2C3d4E5f6G7h8I9j0kL",
        "action": "approve",
        "from_state": "officer_review",
        "state": "approved",
        "decision": "approved",
        "reason_code": None,
    },
}


class SubscriptionCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "url": "https://backoffice.city.example.lg.jp/madoguchi/webhooks",
                    "event_types": ["case.finalized", "card.produced", "mail.returned"],
                    "description": "住基システム連携",
                }
            ]
        },
    )

    url: str = Field(
        max_length=500,
        description=(
            "http(s) endpoint of the back office: a strict absolute URL (no credentials, fragment, control "
            "characters or non-canonical IP forms) whose host is a public address or is on the operator's "
            "allow-list (HUB_WEBHOOK_ALLOWED_DESTINATIONS); stored and returned in canonical form"
        ),
    )
    event_types: list[EventType] = Field(min_length=1, max_length=len(EventType))
    description: str | None = Field(default=None, max_length=100)


class SubscriptionUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"active": False}]})

    url: str | None = Field(default=None, max_length=500, description="as in SubscriptionCreate")
    event_types: list[EventType] | None = Field(default=None, min_length=1, max_length=len(EventType))
    active: bool | None = None
    description: str | None = Field(default=None, max_length=100)


class SubscriptionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    municipality_code: str
    url: str
    event_types: list[EventType]
    description: str | None
    active: bool
    created_at: dt.datetime
    updated_at: dt.datetime


class SubscriptionWithSecret(SubscriptionRead):
    secret: str = Field(description="The signing secret, shown once; store it in the receiver")


class DeliveryRead(BaseModel):
    id: str
    subscription_id: str
    event_id: str
    event_type: EventType
    case_id: str
    status: str = Field(description="pending, succeeded or dead")
    attempts: int
    next_attempt_at: dt.datetime
    last_status_code: int | None = Field(
        description="the receiver's HTTP status at the last attempt, if it answered"
    )
    last_error: DeliveryError | None = Field(
        description=(
            "why the last attempt was not acknowledged: http_status (see last_status_code), unreachable (no "
            "answer), destination_refused (the host is or now resolves to a refused address), invalid_url, "
            "secret_unreadable, internal"
        )
    )
    created_at: dt.datetime
    delivered_at: dt.datetime | None
    dead_at: dt.datetime | None


class EventRead(BaseModel):
    """An event exactly as its webhook body carries it."""

    model_config = ConfigDict(json_schema_extra={"examples": [_EVENT_EXAMPLE]})

    id: str
    type: EventType
    occurred_at: dt.datetime
    municipality_code: str
    data: dict[str, Any]
