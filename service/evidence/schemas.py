"""Request and response models of evidence."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from service.wire.card_profiles import CardGeneration


class CardChallengeIssued(BaseModel):
    challenge_id: str
    nonce: str = Field(description="256-bit random nonce; sign SHA-256(origin) ‖ SHA-256(nonce) ‖ case id")
    origin: str
    case_id: str
    expires_at: dt.datetime


class CardProofSubmit(BaseModel):
    model_config = ConfigDict(extra="forbid")

    challenge_id: str = Field(max_length=40)
    certificate: str = Field(max_length=8000, description="JPKI user-authentication certificate, DER, base64")
    signature: str = Field(max_length=1400, description="Signature over the challenge bytes, base64")
    atr: str = Field(pattern=r"^[0-9A-Fa-f]{4,66}$", description="The card's ATR in hex")
    card_face: str | None = Field(
        default=None, max_length=400_000, description="券面事項確認AP card-face file, base64"
    )
    card_face_signature: str | None = Field(
        default=None,
        max_length=1400,
        description="The card-face AP's own key (DF24 of the face) over the challenge bytes, base64: "
        "without it the face is not this card's (docs/card-face-binding.md)",
    )
    card_generation: CardGeneration | None = Field(
        default=None,
        description="The card generation the agent detected (gen2016 current, gen2028 next); the hub derives it "
        "from the certificate and fails the proof when they differ (docs/card.md §3)",
    )


class EvidenceRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    case_id: str
    kind: str
    ok: bool
    summary: dict[str, Any]
    voided_at: dt.datetime | None
    void_reason: str | None
    created_at: dt.datetime


class CardBindingRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    bound_at: dt.datetime
    swap_detected_at: dt.datetime | None


class EvidenceList(BaseModel):
    items: list[EvidenceRead]
    card_binding: CardBindingRead | None


class CardProofOutcome(BaseModel):
    evidence: EvidenceRead
    card_swap_detected: bool


class CardFaceView(BaseModel):
    """The chip's card face, decrypted for the officer (every view is audited)."""

    evidence_id: str
    birth_date: str
    sex: str
    expiry_unsigned: str = Field(
        description="DF29, the expiry as printed on the card face: outside the J-LIS signature (which covers "
        "DF22–DF27), so never a verified date; the verified validity is the JPKI certificate's (check `validity`)"
    )
    name_image_png: str = Field(description="base64 PNG")
    address_image_png: str = Field(description="base64 PNG")
    photo_png: str = Field(description="the chip's face photo (JPEG 2000 on the card), as base64 PNG")
