"""Response models of the audit trail."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict


class AuditEventRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    chain: str
    seq: int
    occurred_at: dt.datetime
    action: str
    actor_kind: str
    actor_id: str
    actor_role: str
    device_id: str | None
    case_id: str | None
    object_type: str | None
    object_id: str | None
    from_state: str | None
    to_state: str | None
    reason_code: str | None
    prev_hash: str
    hash: str


class AuditPage(BaseModel):
    items: list[AuditEventRead]
    next_after_seq: int | None


class ChainStatus(BaseModel):
    chain: str
    rows: int
    ok: bool
    first_broken_seq: int | None
    problem: str | None
