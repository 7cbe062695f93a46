"""Outreach booths (出張申請受付): what the booth laptop and the hub exchange (docs/booths.md).

A supervisor schedules a booth (office, days, officers, slots with booking counts only); an officer opens a booth
session on an enrolled laptop before leaving; the laptop records cases offline and syncs each one later, once, by
its own case id and sequence. No I/O here: the hub's routes (service/booths/router.py) and the agent's client
(clerk_agent/booth/hub.py) both use these models.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from service.wire.cases import Procedure
from service.wire.pin_seal import SealedPinRequest

# A booth case id is made by the laptop, offline, and becomes the hub's case id (the PIN request is sealed to it).
BOOTH_CASE_ID_PATTERN = r"^case_[A-Za-z0-9_-]{16,34}$"
# Booths receive card applications only: the applicant is seen face to face and the card comes by mail.
BOOTH_PROCEDURES = frozenset({Procedure.card_application})
# The laptop's local data key: 32 bytes for AES-256-GCM, base64url without padding.
DATA_KEY_BYTES = 32
# Code of the refusal a revoked booth session or device gets: the laptop wipes its store when it sees one.
WIPE_CODES = frozenset({"booth_session_revoked", "device_revoked"})
# Refusals that are not an answer about the case: the laptop sends the case again later.
RETRY_CODES = frozenset({"booth_sync_in_progress"})


class SlotIn(BaseModel):
    """One appointment slot of a booth day; residents book it by count, no personal data."""

    model_config = ConfigDict(extra="forbid")

    day: dt.date
    starts_at: str = Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$", description="HH:MM, Tokyo time")
    capacity: int = Field(ge=1, le=50)


class BoothCreate(BaseModel):
    """A supervisor schedules a booth at a post office for some days, with its officers and slots."""

    model_config = ConfigDict(extra="forbid")

    post_office_id: str = Field(max_length=40)
    starts_on: dt.date
    ends_on: dt.date
    officer_ids: list[str] = Field(min_length=1, max_length=20)
    slots: list[SlotIn] = Field(default_factory=list, max_length=200)
    note: str = Field(default="", max_length=200, description="e.g. the lobby corner; no personal data")


class Slot(BaseModel):
    id: str
    day: dt.date
    starts_at: str
    capacity: int
    booked: int


class Booth(BaseModel):
    """A scheduled booth as the supervisor and the booth laptop see it."""

    id: str
    municipality_code: str
    municipality_name: str = ""
    post_office_id: str
    office_name: str = ""
    starts_on: dt.date
    ends_on: dt.date
    officer_ids: list[str]
    slots: list[Slot]
    note: str = ""
    created_at: dt.datetime | None = None


class BookingBody(BaseModel):
    """Bookings of a slot change by a count (a cancellation is negative); never a name."""

    model_config = ConfigDict(extra="forbid")

    change: int = Field(ge=-50, le=50)


class SessionOpen(BaseModel):
    """The officer, logged in on the enrolled laptop, opens the booth session (a device-signed request)."""

    model_config = ConfigDict(extra="forbid")

    booth_id: str = Field(max_length=40)
    officer_token: str = Field(min_length=8, max_length=200, description="the officer's access token")


class SessionRead(BaseModel):
    """What the laptop takes with it: the booth, the local data key, the sealing key, who accepts forwarding."""

    id: str
    booth: Booth
    officer_id: str
    device_id: str
    data_key: str = Field(
        description="AES-256-GCM key of the laptop's local store, base64url; the hub can revoke it"
    )
    sealing_key: str | None = Field(description="the municipality's X25519 PIN-sealing key, base64url")
    sealing_key_id: str | None
    forwarding_from: list[str] = Field(
        default_factory=list,
        description="residence municipalities that accept applications received at this booth and forwarded",
    )
    forwarding_names: dict[str, str] = Field(
        default_factory=dict,
        description="the name of each municipality in forwarding_from, by code, for the booth's residence choice",
    )
    opened_at: dt.datetime


class PendingCase(BaseModel):
    model_config = ConfigDict(extra="forbid")

    client_case_id: str = Field(pattern=BOOTH_CASE_ID_PATTERN)
    sequence: int = Field(ge=1, le=100_000)


class PendingBody(BaseModel):
    """The laptop announces the cases it holds but has not synced yet (listed if the device is lost)."""

    model_config = ConfigDict(extra="forbid")

    cases: list[PendingCase] = Field(max_length=500)


class Checklist(BaseModel):
    """The same checklist as the console's (service/review/schemas.py Checklist), ticked face to face."""

    model_config = ConfigDict(extra="forbid")

    id_combination: str = Field(max_length=40)
    face_match: bool
    attributes_match: bool
    eligibility_confirmed: bool
    documents_authentic: bool


class DecisionAction(StrEnum):
    approve = "approve"
    reject = "reject"
    refer_to_counter = "refer_to_counter"


class Decision(BaseModel):
    """The officer's in-person decision: same actions, reason codes and attestation as the console."""

    model_config = ConfigDict(extra="forbid")

    action: DecisionAction
    reason_code: str | None = Field(default=None, max_length=60)
    attested: bool
    checklist: Checklist
    decided_at: dt.datetime


class Still(BaseModel):
    """A still taken at the booth (document sides, the application photo), base64 in the case's sync."""

    model_config = ConfigDict(extra="forbid")

    kind: str = Field(max_length=40)
    content_type: str = Field(max_length=40)
    data: str = Field(max_length=3_000_000, description="standard base64")


class CaseSync(BaseModel):
    """One booth case, synced once (replays answer the same): made offline, decided face to face."""

    model_config = ConfigDict(extra="forbid")

    client_case_id: str = Field(pattern=BOOTH_CASE_ID_PATTERN)
    sequence: int = Field(ge=1, le=100_000)
    recorded_at: dt.datetime
    procedure: Procedure = Procedure.card_application
    residence_municipality_code: str = Field(pattern=r"^\d{6}$")
    shinseisho_id: str = Field(pattern=r"^\d{23}$")
    answers: dict[str, bool]
    consents: dict[str, str] = Field(default_factory=dict, max_length=10, description="code → version")
    stills: list[Still] = Field(default_factory=list, max_length=6)
    decision: Decision
    sealed: SealedPinRequest | None = None
    face_auth: bool = False


class SyncOutcome(StrEnum):
    accepted = "accepted"  # the case exists at the hub
    conflict = "conflict"  # the applicant applied elsewhere meanwhile: recorded and listed, no case made
    refused = "refused"  # the hub refused the case (a rule): recorded with its code, not retried


class HoldStatus(StrEnum):
    """Where an accepted booth case stands before J-LIS."""

    awaiting_recheck = "awaiting_recheck"  # approved; the hub's resident-record re-check has not answered yet
    held = "held"  # the re-check found a planned move or mail forwarding: not submitted
    cleared = "cleared"  # the re-check passed: the J-LIS submission goes ahead
    decided = "decided"  # rejected or referred: nothing to submit


class SyncResult(BaseModel):
    """The hub's answer to one synced case (the same on every replay)."""

    client_case_id: str
    sequence: int
    outcome: SyncOutcome
    case_id: str | None = None
    reference: str | None = None
    state: str | None = None
    code: str | None = None
    detail: str | None = None


class BoothCase(BaseModel):
    """One synced case as the officer sees it in the booth's list (codes only)."""

    client_case_id: str
    sequence: int
    outcome: SyncOutcome
    case_id: str | None
    reference: str | None
    state: str | None
    hold: HoldStatus | None
    hold_reason: str | None
    code: str | None
    residence_municipality_code: str
    synced_at: dt.datetime


class BoothCases(BaseModel):
    cases: list[BoothCase]


class Revocation(BaseModel):
    """A supervisor reports the booth laptop lost (or the session over)."""

    model_config = ConfigDict(extra="forbid")

    reason: str = Field(pattern=r"^(lost|stolen|ended)$")


class PendingList(BaseModel):
    """Cases a booth laptop announced and never synced: for the municipality to follow up on paper."""

    session_id: str
    device_id: str
    revoked_at: dt.datetime | None
    pending: list[PendingCase]


class ForwardingConfig(BaseModel):
    """The host municipalities whose booths may receive this (residence) municipality's applications."""

    model_config = ConfigDict(extra="forbid")

    accepts_from: list[str] = Field(default_factory=list, max_length=100)


def forwarding_allowed(forwarding_from: list[str], *, host: str, residence: str) -> bool:
    """Whether the booth may receive an applicant living in `residence` (its own residents always)."""
    return residence == host or residence in forwarding_from
