"""Request and response models of cases."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from service.cases.eligibility import EligibilityAnswers
from service.cases.lifecycle import Action, CaseState
from service.tenancy.codes import Procedure
from service.wire.certificates import CaseCertificate, CounterChoice
from service.wire.forms import SHINSEISHO_ID_PATTERN, normalize_shinseisho_id


class CaseCreate(BaseModel):
    municipality_code: str = Field(
        pattern=r"^[0-9]{6}$", description="The applicant's municipality (全国地方公共団体コード)"
    )
    procedure: Procedure
    shinseisho_id: str | None = Field(
        default=None,
        pattern=SHINSEISHO_ID_PATTERN,
        description=(
            "申請書ID (23 digits); required for card application and renewal. Full-width digits, spaces and "
            "hyphens are accepted and cleaned (the counter agent applies the same rule)"
        ),
    )

    certificate: CounterChoice | None = Field(
        default=None,
        description="certificate_request only: the certificate asked for (docs/certificates.md §Counter requests)",
    )

    @field_validator("shinseisho_id", mode="before")
    @classmethod
    def _cleaned(cls, value: object) -> object:
        return normalize_shinseisho_id(value) if isinstance(value, str) else value


class CaseRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    reference: str = Field(
        description="受付番号 that people read and say, e.g. 12345-1202-007 (docs/domain.md §B4.1); ids stay in URLs"
    )
    municipality_code: str
    post_office_id: str
    designation_id: str
    procedure: Procedure
    state: CaseState
    version: int
    shinseisho_id: str | None
    officer_id: str | None
    precheck: dict[str, Any] | None
    decision: str | None
    reason_code: str | None
    created_at: dt.datetime
    updated_at: dt.datetime
    state_entered_at: dt.datetime
    certificate: CaseCertificate | None = Field(
        default=None, description="certificate_request only: what is asked for and its print job"
    )


class CaseOfficerRead(BaseModel):
    """Who verifies the case, as the applicant's screen at the counter names them (docs/live-link.md §1)."""

    display_name: str | None = Field(description="The officer's display name; null until one accepts")
    municipality_code: str
    municipality_name: str | None


class CaseStateEntryRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    state: CaseState
    action: str
    actor_kind: str
    reason_code: str | None
    entered_at: dt.datetime


class ActionRequest(BaseModel):
    """Body of every case action; each action documents which fields it needs."""

    model_config = ConfigDict(extra="forbid")

    expected_version: int | None = Field(
        default=None, ge=1, description="Refuse with 409 unless the case is at this version"
    )
    reason_code: str | None = Field(default=None, max_length=60, pattern=r"^[a-z_]+$")
    attested: bool = Field(
        default=False, description="The officer attests the decision (required for approve/reject/refer)"
    )
    answers: EligibilityAnswers | None = Field(
        default=None, description="Eligibility answers (precheck only)"
    )
    resident_id: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9_-]{1,40}$",
        description=(
            "approve of certificate_request only: the resident record the officer confirmed (the record's own "
            "key, never a My Number)"
        ),
    )


ACTION_DOCS: dict[Action, str] = {
    Action.check_in: "Clerk device: the applicant is at the counter (受付).",
    Action.precheck: "Clerk device: record the eligibility answers (`answers`).",
    Action.request_verification: "Clerk device: put the case in the municipality's officer queue.",
    Action.accept: "Officer: take the case from the queue; the live session starts.",
    Action.capture_evidence: "Clerk device: ID documents and card read are captured.",
    Action.begin_review: "Assigned officer: start reviewing the evidence.",
    Action.review_in_person: "Booth cases only, through the booth's sync: the officer reviews face to face.",
    Action.approve: (
        "Assigned officer: identity confirmed (`attested` required; `resident_id` for a certificate request, "
        "whose certificate is then issued for printing at the office)."
    ),
    Action.reject: "Assigned officer: identity not confirmed (`reason_code`, `attested`).",
    Action.refer_to_counter: "Assigned officer: switch to 交付時来庁 (`reason_code`, `attested`).",
    Action.abort: "Officer or device: the live check cannot go on (`reason_code`).",
    Action.requeue: "Clerk device: after an abort, queue again; evidence is taken afresh.",
    Action.withdraw: "Clerk device: the case ends before a decision (`reason_code`).",
    Action.complete: "Clerk device: 申請サポート or kiosk procedure done.",
    Action.seal_pin_request: "Clerk device: the PIN request is sealed for the municipality (or 顔認証 chosen).",
    Action.submit_to_jlis: "Officer or system: the application goes to J-LIS.",
    Action.record_card_produced: "Back office: J-LIS reports the card produced.",
    Action.record_card_received: "Back office: the card arrived at the municipality.",
    Action.record_pre_issue_setup: "Back office: 交付前設定 done; the PIN request is destroyed.",
    Action.record_mailed: "Back office: mailed by 本人限定受取郵便 (特例型).",
    Action.record_delivered: "Back office: delivered to the applicant.",
    Action.record_returned: "Back office: returned undelivered (`reason_code`).",
    Action.record_awaiting_pickup: "Back office: the applicant is asked to collect at the counter.",
    Action.close: "Close the case.",
    Action.cancel_address_change: "Back office: a move or name change voids mailing (`reason_code`).",
}
