"""Response models of chip evidence beyond the contract (service/wire/idchips.py)."""

from __future__ import annotations

from pydantic import Field

from service.wire.idchips import ChipVerificationRead


class ChipDocumentView(ChipVerificationRead):
    """The officer's view: the verification with the holder's fields and the chip photo (every view is audited)."""

    nationality: str | None = None
    photo_png: str | None = Field(default=None, description="the chip's face photo, re-encoded as base64 PNG")
    card_face_png: str | None = Field(
        default=None,
        description="the chip's signed card-face image (residence card), re-encoded as base64 PNG",
    )
