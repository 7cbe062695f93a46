"""Hub-side parser of the 券面事項確認AP card-face file (EF 0002); the hub never trusts the agent's parsing.

FF20 { DF21 offsets, DF22 birth date, DF23 sex, DF24 card key, DF25 name PNG, DF26 address PNG, DF27 JPEG 2000
photo, DF28 signature, DF29 expiry, DF2A security-code PNG } (docs/card.md §1.5). The signature covers three
groups, each hashed separately: DF22‖DF23‖DF24, DF25‖DF26, DF27, each field as encoded (tag, length, value). DF29
and DF2A come after the signature and are covered by nothing: the expiry is kept as `expiry_unsigned` so that no
caller can mistake it for a verified date. DF24 is the card-face AP's own public key, inside the signed group, with
which the card answers the hub's challenge (docs/card-face-binding.md).

The next-generation card face (docs/card.md §3.3, assumed) keeps the layout without DF23 (no sex on the card), with
DF24 a P-384 key (`06` curve OID, `86` uncompressed point): its first group is then DF22‖DF24.
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric import ec, rsa

# DER of secp384r1 (1.3.132.0.34), the curve DF24 must name on a next-generation face.
_P384_OID = bytes.fromhex("2B81040022")


class CardFaceError(ValueError):
    """The card-face bytes are not a well-formed FF20 record."""


@dataclass(frozen=True)
class CardFaceRecord:
    """Fields of the card face and the three signed segments."""

    birth_date: str
    sex: str  # empty when the face has no DF23 (next generation)
    card_key: rsa.RSAPublicKey | ec.EllipticCurvePublicKey  # DF24: the card-face AP's own key
    expiry_unsigned: str  # DF29: printed on the card, outside the issuer's signature
    name_image: bytes
    address_image: bytes
    photo_jp2: bytes
    signature: bytes
    signed_segments: tuple[bytes, bytes, bytes]


def _read_tlv(buf: bytes, pos: int) -> tuple[int, bytes, int, int]:
    """(tag, value, start, end) of the TLV at `pos`."""
    start = pos
    if pos >= len(buf):
        raise CardFaceError("truncated tag")
    tag = buf[pos]
    pos += 1
    if tag & 0x1F == 0x1F:
        while True:
            if pos >= len(buf):
                raise CardFaceError("truncated tag")
            tag = (tag << 8) | buf[pos]
            pos += 1
            if not buf[pos - 1] & 0x80:
                break
    if pos >= len(buf):
        raise CardFaceError("truncated length")
    length = buf[pos]
    pos += 1
    if length & 0x80:
        count = length & 0x7F
        if count not in (1, 2, 3) or pos + count > len(buf):
            raise CardFaceError("bad length")
        length = int.from_bytes(buf[pos : pos + count], "big")
        pos += count
    if pos + length > len(buf):
        raise CardFaceError(f"tag {tag:X} runs past the end")
    return tag, buf[pos : pos + length], start, pos + length


_REQUIRED = (0xDF22, 0xDF24, 0xDF25, 0xDF26, 0xDF27, 0xDF28, 0xDF29)


def _key_field(value: bytes) -> rsa.RSAPublicKey | ec.EllipticCurvePublicKey:
    """DF24: an RSA key as the card writes it (90 exponent, 91 modulus), or a P-384 key (06 curve, 86 point)."""
    parts: dict[int, bytes] = {}
    pos = 0
    while pos < len(value):
        tag, part, _, pos = _read_tlv(value, pos)
        parts[tag] = part
    if 0x06 in parts or 0x86 in parts:
        if parts.get(0x06) != _P384_OID or 0x86 not in parts:
            raise CardFaceError("DF24 holds no P-384 key (06 secp384r1, 86 point)")
        try:
            return ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP384R1(), parts[0x86])
        except ValueError as exc:
            raise CardFaceError("DF24's point is not on P-384") from exc
    if 0x90 not in parts or 0x91 not in parts:
        raise CardFaceError("DF24 holds no RSA key (90 exponent, 91 modulus)")
    modulus, exponent = int.from_bytes(parts[0x91], "big"), int.from_bytes(parts[0x90], "big")
    if modulus.bit_length() < 2048 or exponent < 3 or exponent % 2 == 0:
        raise CardFaceError("DF24 is not a usable RSA-2048 key")
    return rsa.RSAPublicNumbers(exponent, modulus).public_key()


def parse_card_face(raw: bytes) -> CardFaceRecord:
    """Parse the card-face file and collect the signed segments."""
    tag, body, _, _ = _read_tlv(raw, 0)
    if tag != 0xFF20:
        raise CardFaceError("not a card-face record (FF20)")
    fields: dict[int, tuple[bytes, bytes]] = {}
    pos = 0
    while pos < len(body) and body[pos] != 0x00:
        inner_tag, value, start, end = _read_tlv(body, pos)
        if inner_tag in fields:
            raise CardFaceError(f"duplicate tag {inner_tag:X}")
        fields[inner_tag] = (value, body[start:end])
        pos = end
    missing = [f"{t:X}" for t in _REQUIRED if t not in fields]
    if missing:
        raise CardFaceError(f"missing {', '.join(missing)}")

    def encoded(*tags: int) -> bytes:
        return b"".join(fields[t][1] for t in tags)

    card_key = _key_field(fields[0xDF24][0])
    next_gen = isinstance(card_key, ec.EllipticCurvePublicKey)
    if next_gen == (0xDF23 in fields):
        # The current face always carries sex; the next one never does: a mix is a forged layout.
        raise CardFaceError("DF23 (sex) belongs with an RSA card key and only there")
    first_group = (0xDF22, 0xDF24) if next_gen else (0xDF22, 0xDF23, 0xDF24)
    try:
        return CardFaceRecord(
            birth_date=fields[0xDF22][0].decode("ascii"),
            sex=fields[0xDF23][0].decode("ascii") if 0xDF23 in fields else "",
            card_key=card_key,
            expiry_unsigned=fields[0xDF29][0].decode("ascii"),
            name_image=fields[0xDF25][0],
            address_image=fields[0xDF26][0],
            photo_jp2=fields[0xDF27][0],
            signature=fields[0xDF28][0],
            signed_segments=(encoded(*first_group), encoded(0xDF25, 0xDF26), encoded(0xDF27)),
        )
    except UnicodeDecodeError as exc:
        raise CardFaceError("text field is not ASCII") from exc
