"""Request and response models of the back-office API, resident-record checks and exports."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from service.cases.lifecycle import CaseState
from service.integrations.service import BackOfficeCase, JlisReport, TrackingStatus
from service.kit.bounds import ApiDateTime
from service.tenancy.codes import Procedure


class JlisRead(BaseModel):
    status: str = Field(description="pending, accepted, produced, failed or abandoned")
    source: str = Field(description="adapter (the hub submitted) or back_office (reported through this API)")
    receipt_id: str | None
    submitted_at: dt.datetime | None
    produced_at: dt.datetime | None


class MailRead(BaseModel):
    mail_type: str = Field(description="honnin_gentei_tokurei: 本人限定受取郵便 (特例型)")
    tracking_number: str
    status: str = Field(description="dispatched, in_transit, held, delivered, returned or cancelled")
    dispatched_at: dt.datetime
    hold_until: dt.datetime | None = Field(description="End of the 10-day hold after the arrival notice")
    counter_notice: str | None = Field(description="pickup_at_counter or address_change_referral")
    counter_notice_at: dt.datetime | None


class BackOfficeCaseRead(BaseModel):
    """A case for the back office: ids, codes and timestamps; the 申請書ID is the application's key."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "case_id": "case_5f3kP2m9QhR8tN1vX0yZ4w",
                    "municipality_code": "999997",
                    "post_office_id": "po_A1b2C3d4E5f6G7h8I9j0kL",
                    "procedure": "card_application",
                    "state": "pin_request_sealed",
                    "version": 10,
                    "shinseisho_id": "12345678901234567890123",
                    "decision": "approved",
                    "finalized_at": "2026-11-28T07:45:00Z",
                    "acknowledged_at": None,
                    "back_office_ref": None,
                    "jlis": None,
                    "mail": None,
                }
            ]
        }
    )

    case_id: str
    municipality_code: str
    post_office_id: str
    procedure: Procedure
    state: CaseState
    version: int
    shinseisho_id: str | None
    decision: str | None
    finalized_at: dt.datetime | None
    acknowledged_at: dt.datetime | None
    back_office_ref: str | None
    jlis: JlisRead | None
    mail: MailRead | None

    @classmethod
    def of(cls, view: BackOfficeCase) -> BackOfficeCaseRead:
        """Build from the service's view."""
        c = view.case
        return cls(
            case_id=c.id,
            municipality_code=c.municipality_code,
            post_office_id=c.post_office_id,
            procedure=Procedure(c.procedure),
            state=CaseState(c.state),
            version=c.version,
            shinseisho_id=c.shinseisho_id,
            decision=c.decision,
            finalized_at=view.finalized_at,
            acknowledged_at=view.acknowledgement.acknowledged_at if view.acknowledgement else None,
            back_office_ref=view.acknowledgement.back_office_ref if view.acknowledgement else None,
            jlis=JlisRead.model_validate(view.jlis, from_attributes=True) if view.jlis else None,
            mail=MailRead.model_validate(view.mail, from_attributes=True) if view.mail else None,
        )


class Acknowledge(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"back_office_ref": "KF-2026-000123"}]}
    )

    back_office_ref: str | None = Field(
        default=None, max_length=64, pattern=r"^[A-Za-z0-9_\-:./]+$", description="The back office's own id"
    )


class JlisStatusReport(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"status": "produced", "receipt_id": "J-2026-000042"}]},
    )

    status: JlisReport
    receipt_id: str | None = Field(default=None, max_length=64, pattern=r"^[A-Za-z0-9_\-:.]+$")


class MailDispatchCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"tracking_number": "123456789012", "dispatched_at": "2026-12-01T01:00:00Z"}]
        },
    )

    tracking_number: str = Field(pattern=r"^[0-9A-Z\-]{8,20}$", description="お問い合わせ番号")
    mail_type: Literal["honnin_gentei_tokurei"] = "honnin_gentei_tokurei"
    dispatched_at: ApiDateTime | None = None


class MailTrackingUpdate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"status": "held", "occurred_at": "2026-12-02T03:00:00Z"},
                {"status": "returned", "occurred_at": "2026-12-12T03:00:00Z", "reason_code": "hold_expired"},
            ]
        },
    )

    status: TrackingStatus
    occurred_at: ApiDateTime
    reason_code: Literal["hold_expired", "addressee_unknown", "refused"] | None = None


class AddressChange(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"reason_code": "address_change"}]}
    )

    reason_code: Literal["address_change", "name_change"]


class ResidentCheckRequest(BaseModel):
    """What the applicant's ID says; compared with the 住基 record and then dropped (never stored or logged)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "name": "試験 花子",
                    "birth_date": "1990-04-01",
                    "sex": "female",
                    "address": "架空市架空町1-2-3",
                }
            ]
        },
    )

    name: str = Field(min_length=1, max_length=100)
    birth_date: str = Field(pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
    sex: str = Field(min_length=1, max_length=10)
    address: str = Field(min_length=1, max_length=200)

    def __repr__(self) -> str:
        return "ResidentCheckRequest(<redacted>)"

    __str__ = __repr__


class ResidentCheckRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    case_id: str
    record_found: bool
    results: dict[str, Literal["match", "mismatch"]] = Field(description="Per attribute: match or mismatch")
    checked_at: dt.datetime
