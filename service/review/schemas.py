"""Request and response models of the review."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class IdCombination(StrEnum):
    """Accepted ID-document combinations (docs/domain.md §A2.12); which are allowed is municipal policy."""

    my_number_card_ic = "my_number_card_ic"  # the applicant's card, proven by its chip (renewal etc.)
    a1_with_pin = "A1_with_pin"
    a2 = "A2"
    a_plus_b = "A+B"


class Checklist(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id_combination: IdCombination
    face_match: bool = Field(description="顔写真と本人の一致 / face matches the ID and chip photos")
    attributes_match: bool = Field(description="住民記録との一致 / attributes match the resident record")
    eligibility_confirmed: bool = Field(
        description="申請要件の確認 / eligibility answers confirmed with the applicant"
    )
    documents_authentic: bool = Field(description="書類の真正性 / documents look genuine (security features)")
    # Ticked "chip verified" (ICチップ確認済み): the hub then requires a verified ID-document chip read while the
    # video has been live (docs/id-documents.md §Console).
    documents_authentic_basis: Literal["chip_verified"] | None = Field(
        default=None, description="ICチップ確認済み / the authenticity item rests on a verified document chip"
    )


class LivenessIssued(BaseModel):
    id: str
    code: str
    gesture: str
    phrase_ja: str
    phrase_en: str
    gesture_ja: str
    gesture_en: str
    created_at: dt.datetime


class LivenessResult(BaseModel):
    passed: bool


class VideoState(StrEnum):
    live = "live"
    lost = "lost"


class VideoStatus(BaseModel):
    state: VideoState


class LivenessRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    code: str
    gesture: str
    passed: bool | None
    created_at: dt.datetime
    answered_at: dt.datetime | None


class ReviewRead(BaseModel):
    case_id: str
    checklist: Checklist | None
    liveness: list[LivenessRead]
    video_live: bool
    continuity_since: dt.datetime | None
    drops: int
    redo_required: bool
    ready_to_decide: bool
    missing: list[str] = Field(description="What approval still needs, as codes")


class NoteCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=4000, description="Free text; stored encrypted, never audited")


class NoteRead(BaseModel):
    id: str
    author_id: str
    author_name: str | None
    created_at: dt.datetime
    text: str | None = Field(description="None once retention has shredded the note")
    purged: bool
