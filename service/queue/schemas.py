"""Request and response models of the queue."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class PresenceStatus(StrEnum):
    available = "available"  # 受付可
    on_break = "on_break"  # 休憩中
    offline = "offline"  # 離席・オフライン


class PresenceUpdate(BaseModel):
    status: PresenceStatus


class PresenceRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    account_id: str
    status: PresenceStatus
    effective_status: PresenceStatus = Field(description="offline when the heartbeat is stale")
    heartbeat_at: dt.datetime
    wrapup_until: dt.datetime | None
    penalty_until: dt.datetime | None


class OfferRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    case_id: str
    officer_id: str
    outcome: str
    assigned_by: str | None
    offered_at: dt.datetime
    expires_at: dt.datetime
    procedure: str | None = None
    post_office_id: str | None = None
    waiting_seconds: float | None = None
    # What the officer reads: the 受付番号 and the names, not the ids (docs/domain.md §B4.1).
    case_reference: str | None = None
    post_office_name: str | None = None
    municipality_name: str | None = None


class DeclineReason(StrEnum):
    conflict_of_interest = "conflict_of_interest"  # the pair is never offered again
    other = "other"


class OfferDecline(BaseModel):
    reason: DeclineReason


class QueuePosition(BaseModel):
    case_id: str
    state: str
    position: int | None = Field(description="1 = next; None when the case is not waiting")
    waiting_seconds: float
    estimated_wait_seconds: float | None
    available_officers: int
    offered: bool


class Reassign(BaseModel):
    officer_id: str = Field(max_length=40)
    reason_code: str = Field(pattern=r"^(workload|conflict_of_interest|language|escalation|other)$")


class QueuedCaseRow(BaseModel):
    case_id: str
    case_reference: str | None = None
    post_office_id: str
    post_office_name: str | None = None
    procedure: str
    waiting_seconds: float
    offered_to: str | None
    offered_to_name: str | None = None


class OfficerRow(BaseModel):
    """One officer of the municipality as the supervisor sees them (offline when never seen or stale)."""

    account_id: str
    display_name: str
    status: PresenceStatus
    effective_status: PresenceStatus
    heartbeat_at: dt.datetime | None
    wrapup_until: dt.datetime | None
    penalty_until: dt.datetime | None
    live_case_id: str | None = Field(
        default=None, description="The case the officer is verifying now (supervisors only)"
    )


class LiveCaseRow(BaseModel):
    case_id: str
    case_reference: str | None = None
    post_office_id: str
    post_office_name: str | None
    procedure: str
    state: str
    officer_id: str | None
    officer_name: str | None
    live_seconds: float
    on_hold: bool


class FlaggedCaseRow(BaseModel):
    """A case flagged (e.g. suspected impersonation): its evidence is on legal hold, retention suspended."""

    case_id: str
    case_reference: str | None = None
    state: str
    post_office_id: str
    post_office_name: str | None = None
    reason_code: str
    set_by: str
    set_by_name: str | None
    set_at: dt.datetime


class QueueOverview(BaseModel):
    municipality_code: str
    municipality_name: str | None = None
    queued: list[QueuedCaseRow]
    officers: list[OfficerRow]
    live: list[LiveCaseRow] = Field(default_factory=list, description="Supervisors only")
    flagged: list[FlaggedCaseRow] = Field(default_factory=list, description="Supervisors only")
