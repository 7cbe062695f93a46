"""The next-generation My Number Card (FY2028 expected) as the virtual card plays it (docs/card.md §3).

Two applications instead of four, laid out by the NEXT profile (service/wire/card_profiles.py):

- the authentication AP (認証AP): the token, the authentication and signing certificates and their CA, the two
  PINs (利用者証明用暗証番号, 署名用パスワード) and the two P-384 private keys;
- the card-face AP (券面等AP): the signed card face, opened by the 照合番号 printed on the card; it also holds the
  My Number as text and as an image (never read; FORBIDDEN_FILES), and answers a challenge with its own P-384 key.

The card face keeps today's FF20 layout without DF23 (the next card face shows no sex); DF24 is the card-face AP's
P-384 public key (`06` curve OID, `86` uncompressed point) and DF28 the issuer's ECDSA P-384 signature, r ‖ s, over
SHA-384 of the three SHA-384 group digests. All of that is assumed (docs/card.md §3.3).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import TYPE_CHECKING

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, utils

from clerk_agent.card.apdu import encode_tlv
from clerk_agent.card.virtual.card import (
    ATR,
    Application,
    ElementaryFile,
    KeyReference,
    PrivateKey,
    VirtualMyNumberCard,
)
from clerk_agent.card.virtual.cardface import card_face_file, face_photo_jp2, text_png
from clerk_agent.card.virtual.people import VirtualPerson
from clerk_agent.card.virtual.signing import P384_COORDINATE, CardKey
from service.wire.card_profiles import NEXT, PinRole, add_months

if TYPE_CHECKING:
    from clerk_agent.card.virtual.build import CardMaterial

# DER of the OID secp384r1 (1.3.132.0.34), as the `06` object of DF24.
P384_OID = bytes.fromhex("2B81040022")


def printed_card_face_code(person: VirtualPerson) -> str:
    """The 照合番号 printed on `person`'s next-generation card: digits of the profile's length, fixed per person."""
    length = NEXT.card_face_code.max_length
    digest = hashlib.sha256(f"{person.key}/照合番号".encode()).digest()
    return str(int.from_bytes(digest, "big"))[-length:].rjust(length, "0")


def next_card_expiry(person: VirtualPerson) -> str:
    """The next card's expiry, YYYYMMDD: a birthday plus one month (published; the year is the person's)."""
    return add_months(person.expiry, 1).strftime("%Y%m%d")


def ec_public_key_field(key: ec.EllipticCurvePublicKey) -> bytes:
    """DF24's value for a P-384 key: `06` curve OID, `86` uncompressed point (assumed, after ISO 7816-8 / CVCs)."""
    point = key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    return encode_tlv(0x06, P384_OID) + encode_tlv(0x86, point)


def card_face_signed_bytes(df22_df24: bytes, df25_df26: bytes, df27: bytes) -> bytes:
    """What the issuer's ECDSA signs (with SHA-384): the three SHA-384 group digests, 144 bytes."""
    return b"".join(hashlib.sha384(part).digest() for part in (df22_df24, df25_df26, df27))


def _issuer_signature(issuer: ec.EllipticCurvePrivateKey, message: bytes) -> bytes:
    r, s = utils.decode_dss_signature(issuer.sign(message, ec.ECDSA(hashes.SHA384())))
    return r.to_bytes(P384_COORDINATE, "big") + s.to_bytes(P384_COORDINATE, "big")


def build_next_card_face(
    person: VirtualPerson,
    *,
    card_key: ec.EllipticCurvePublicKey,
    issuer_key: ec.EllipticCurvePrivateKey,
    photo: bytes | None = None,
) -> bytes:
    """The next card's card-face file for `person`: offsets, signed fields, the issuer's signature, unsigned fields."""
    fields = [
        encode_tlv(0xDF22, person.birth_date.strftime("%Y%m%d").encode()),
        encode_tlv(0xDF24, ec_public_key_field(card_key)),
        encode_tlv(0xDF25, text_png(person.name, width=240)),
        encode_tlv(0xDF26, text_png(person.address, width=480)),
        encode_tlv(0xDF27, photo if photo is not None else face_photo_jp2(person.key)),
    ]
    signed = card_face_signed_bytes(b"".join(fields[0:2]), b"".join(fields[2:4]), fields[4])
    fields.append(encode_tlv(0xDF28, _issuer_signature(issuer_key, signed)))
    fields.append(encode_tlv(0xDF29, next_card_expiry(person).encode()))
    fields.append(encode_tlv(0xDF2A, text_png(printed_card_face_code(person), width=120, height=16)))
    return card_face_file(fields)


def _token_info() -> bytes:
    return NEXT.token_label.ljust(32, b" ") + bytes(128)


def build_next_card(
    person: VirtualPerson,
    material: CardMaterial,
    *,
    card_key: CardKey | None = None,
    atr: bytes = ATR,
    short_ef_ids: bool = True,
    label: str | None = None,
    violation_sink: Callable[[str], None] | None = None,
) -> VirtualMyNumberCard:
    """A next-generation card for `person` holding P-384 `material`; `card_key` overrides the card-face AP's key."""
    card_key = card_key or material.card_face_key
    issuer = material.card_face_issuer
    if not isinstance(card_key, ec.EllipticCurvePrivateKey) or not isinstance(
        issuer, ec.EllipticCurvePrivateKey
    ):
        raise ValueError("the next-generation card's keys are ECDSA P-384")
    auth_pin, sign_password = NEXT.pin(PinRole.AUTH), NEXT.pin(PinRole.SIGN)
    code = NEXT.card_face_code
    auth = Application(
        NEXT.auth_aid,
        files={
            NEXT.ef_token: ElementaryFile(_token_info()),
            NEXT.ef_auth_cert: ElementaryFile(material.auth_certificate, capacity=0x0800),
            NEXT.ef_auth_ca: ElementaryFile(material.auth_ca, capacity=0x0800),
            NEXT.ef_sign_cert: ElementaryFile(
                material.sign_certificate, frozenset({sign_password.key_fid}), capacity=0x0800
            ),
            0x0002: ElementaryFile(material.sign_ca, frozenset({sign_password.key_fid}), capacity=0x0800),
        },
        keys={
            auth_pin.key_fid: KeyReference(person.auth_pin.encode(), auth_pin.tries or 3),
            sign_password.key_fid: KeyReference(person.sign_password.encode(), sign_password.tries or 5),
        },
        private_keys={
            NEXT.ef_auth_key: PrivateKey(material.auth_key, auth_pin.key_fid),
            NEXT.ef_sign_key: PrivateKey(material.sign_key, sign_password.key_fid),
        },
    )
    digits = person.my_number.encode()
    face = build_next_card_face(person, card_key=card_key.public_key(), issuer_key=issuer)
    card_face = Application(
        NEXT.card_face_aid,
        own_key=card_key,
        files={
            # The number, as text and as an image: present so that a test proves nothing reads them.
            0x0001: ElementaryFile(b"\xff\x10\x0c" + digits + b"\xff\xff", frozenset({code.key_fid})),
            NEXT.ef_card_face: ElementaryFile(face, frozenset({code.key_fid})),
            0x0005: ElementaryFile(
                encode_tlv(0xFF40, encode_tlv(0xDF41, text_png(person.my_number, width=72, height=12))),
                frozenset({code.key_fid}),
            ),
        },
        # The printed 照合番号's retry limit is not published; 10 is assumed, as for 照合番号B.
        keys={code.key_fid: KeyReference(printed_card_face_code(person).encode(), code.tries or 10)},
    )
    return VirtualMyNumberCard(
        [auth, card_face],
        atr=atr,
        short_ef_ids=short_ef_ids,
        label=label or f"virtual next-generation card {person.key}",
        violation_sink=violation_sink,
    )
