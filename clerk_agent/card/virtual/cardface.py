"""Builds the 券面事項確認AP card-face file (EF 0002) of a virtual person, signed by the test J-LIS issuer key.

Layout and signature as in docs/card.md §1.5: FF20 { DF21 offsets, DF22 birth date, DF23 sex, DF24 card
public key, DF25 name PNG, DF26 address PNG, DF27 JPEG 2000 photo, DF28 signature, DF29 expiry, DF2A security
code PNG }. The signature is PKCS#1 v1.5 over a SHA-256 DigestInfo whose octet string is the concatenation of
SHA-256(DF22‖DF23‖DF24), SHA-256(DF25‖DF26) and SHA-256(DF27) (each TLV as encoded); DF29/DF2A are not covered.
"""

from __future__ import annotations

import hashlib
import io
import random
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import rsa
from PIL import Image, ImageDraw, ImageFont

from clerk_agent.card.apdu import encode_tlv
from clerk_agent.card.virtual.people import VirtualPerson
from clerk_agent.card.virtual.signing import pkcs1v15_sign_raw
from clerk_agent.photo.faces import look_of, portrait

_CJK_FONTS = (
    Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"),
    Path("/usr/share/fonts/truetype/noto/NotoSansCJK-Regular.ttc"),
)


def _digest_info(octets: bytes) -> bytes:
    # A SHA-256 AlgorithmIdentifier with an octet string of any length (the card face uses 96 bytes).
    algorithm = bytes.fromhex("300d06096086480165030402010500")
    octet_string = b"\x04" + bytes((len(octets),)) + octets
    body = algorithm + octet_string
    return b"\x30" + bytes((len(body),)) + body


def card_face_digest_info(df22_to_df24: bytes, df25_to_df26: bytes, df27: bytes) -> bytes:
    """The DigestInfo the issuer signs: three SHA-256 digests, one per field group."""
    digests = b"".join(hashlib.sha256(part).digest() for part in (df22_to_df24, df25_to_df26, df27))
    return _digest_info(digests)


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    for path in _CJK_FONTS:
        if path.exists():
            return ImageFont.truetype(str(path), size)
    # Without a CJK font the kanji render as boxes; the image is still a valid 1-bit PNG.
    return ImageFont.load_default()


def text_png(text: str, *, width: int, height: int = 24) -> bytes:
    """`text` rendered as a 1-bit PNG, the form the card stores name and address in."""
    image = Image.new("1", (width, height), 1)
    ImageDraw.Draw(image).text((2, 2), text, fill=0, font=_font(height - 6))
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


def face_photo_jp2(seed: str, *, size: tuple[int, int] = (120, 150)) -> bytes:
    """The invented person's portrait as greyscale JPEG 2000 (JP2 container), like the card's 顔写真.

    Drawn by clerk_agent/photo/faces.py from the same parameters as the synthetic camera's picture of that
    person, so an officer can practise comparing the face on camera with the chip photo.
    """
    rng = random.Random(seed)  # noqa: S311 - a drawing, not a secret
    image = portrait(look_of(seed), size)
    # Light sensor-like noise so the JPEG 2000 stream has a realistic size.
    noise = Image.frombytes("L", size, bytes(rng.randrange(256) for _ in range(size[0] * size[1])))
    image = Image.blend(image.convert("L"), noise, 0.06)  # the chip holds greyscale (docs/card.md §1.5)
    out = io.BytesIO()
    image.save(out, format="JPEG2000", quality_mode="rates", quality_layers=[12])
    return out.getvalue()


def rsa_public_key_field(key: rsa.RSAPublicKey) -> bytes:
    """The card's way of writing an RSA public key: 90 exponent, 91 modulus."""
    numbers = key.public_numbers()
    size = (numbers.n.bit_length() + 7) // 8
    exponent = numbers.e.to_bytes((numbers.e.bit_length() + 7) // 8, "big")
    return encode_tlv(0x90, exponent) + encode_tlv(0x91, numbers.n.to_bytes(size, "big"))


def card_face_file(fields: list[bytes]) -> bytes:
    """The card-face file around its TLV fields: the FF20 wrapper and the DF21 table of each field's offset.

    Offsets count from the start of the file, so they are computed against the final header size.
    """
    table_size = len(encode_tlv(0xDF21, bytes(2 * len(fields))))
    body_size = table_size + sum(len(f) for f in fields)
    header_size = len(encode_tlv(0xFF20, bytes(body_size))) - body_size
    offsets = bytearray()
    position = header_size + table_size
    for field in fields:
        offsets += position.to_bytes(2, "big")
        position += len(field)
    return encode_tlv(0xFF20, encode_tlv(0xDF21, bytes(offsets)) + b"".join(fields))


def build_card_face(
    person: VirtualPerson,
    *,
    card_key: rsa.RSAPublicKey,
    issuer_key: rsa.RSAPrivateKey,
    photo: bytes | None = None,
) -> bytes:
    """The complete EF 0002 content for `person`, with an offset table and the issuer's signature."""
    fields = [
        encode_tlv(0xDF22, person.birth_date.strftime("%Y%m%d").encode()),
        encode_tlv(0xDF23, person.sex.encode()),
        encode_tlv(0xDF24, rsa_public_key_field(card_key)),
        encode_tlv(0xDF25, text_png(person.name, width=240)),
        encode_tlv(0xDF26, text_png(person.address, width=480)),
        encode_tlv(0xDF27, photo if photo is not None else face_photo_jp2(person.key)),
    ]
    digest_info = card_face_digest_info(b"".join(fields[0:3]), b"".join(fields[3:5]), fields[5])
    fields.append(encode_tlv(0xDF28, pkcs1v15_sign_raw(issuer_key, digest_info)))
    fields.append(encode_tlv(0xDF29, person.expiry.strftime("%Y%m%d").encode()))
    fields.append(encode_tlv(0xDF2A, text_png(person.security_code, width=48, height=16)))
    return card_face_file(fields)
