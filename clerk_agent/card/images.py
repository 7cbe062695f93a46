"""Card-face images for the console: everything re-encoded as PNG (the photo is JPEG 2000 on the card)."""

from __future__ import annotations

import io
from dataclasses import dataclass

from PIL import Image, UnidentifiedImageError

from clerk_agent.card.protocol import CardFaceRecord
from clerk_agent.errors import CardDataMalformed


@dataclass(frozen=True)
class CardFacePngs:
    """PNG renderings of the card face's images."""

    name: bytes
    address: bytes
    photo: bytes
    security_code: bytes | None


# A card's images are small (the face photo is about 300 × 400); a header that declares more is not a card's, and is
# refused before its pixels are decoded (a few bytes can declare a picture of gigabytes).
MAX_PIXELS = 4_000_000
FORMATS = ("PNG", "JPEG", "JPEG2000")


def to_png(image_bytes: bytes, what: str) -> bytes:
    """Decode a PNG, JPEG or JPEG 2000 image and encode it as PNG; CardDataMalformed if it is not one."""
    try:
        with Image.open(io.BytesIO(image_bytes), formats=FORMATS) as image:
            # Image.open has read the header only: the size is known before any pixel is decoded.
            if image.width * image.height > MAX_PIXELS:
                raise CardDataMalformed(f"{what} declares {image.width}×{image.height} pixels")
            image.load()
            out = io.BytesIO()
            image.save(out, format="PNG")
    except (
        UnidentifiedImageError,
        OSError,
        ValueError,
        Image.DecompressionBombWarning,
        Image.DecompressionBombError,
    ) as exc:
        raise CardDataMalformed(f"{what} is not a readable image") from exc
    return out.getvalue()


def card_face_pngs(record: CardFaceRecord) -> CardFacePngs:
    """Decode the card face's images (blocking: call it in a worker thread)."""
    return CardFacePngs(
        name=to_png(record.name_image, "name image"),
        address=to_png(record.address_image, "address image"),
        photo=to_png(record.photo_jp2, "face photo"),
        security_code=to_png(record.security_code_image, "security code image")
        if record.security_code_image
        else None,
    )
