"""Hashing rules of the audit chain (pure functions, shared by append and verify)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from service.kit.hashing import canonical_json, sha256_hex

GENESIS_HASH = "0" * 64
SYSTEM_CHAIN = "system"


@dataclass(frozen=True)
class AuditFields:
    """The content of one audit row, as hashed."""

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


def row_hash(fields: AuditFields, prev_hash: str) -> str:
    """SHA-256 over the canonical JSON of the row's fields and the previous hash."""
    body = {
        "chain": fields.chain,
        "seq": fields.seq,
        # Microsecond precision and UTC, so every backend round-trips the same text.
        "occurred_at": fields.occurred_at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "action": fields.action,
        "actor_kind": fields.actor_kind,
        "actor_id": fields.actor_id,
        "actor_role": fields.actor_role,
        "device_id": fields.device_id,
        "case_id": fields.case_id,
        "object_type": fields.object_type,
        "object_id": fields.object_id,
        "from_state": fields.from_state,
        "to_state": fields.to_state,
        "reason_code": fields.reason_code,
        "prev_hash": prev_hash,
    }
    return sha256_hex(canonical_json(body))
