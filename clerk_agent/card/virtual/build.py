"""Assembles a VirtualMyNumberCard for one invented person from test-PKI material (`hub dev-pki` output)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from clerk_agent.card.apdu import encode_tlv
from clerk_agent.card.protocol import JPKI_AID, KENHOJO_AID, KENKAKU_AID, MY_NUMBER_CARD_TOKEN
from clerk_agent.card.virtual.card import (
    ATR,
    Application,
    ElementaryFile,
    KeyReference,
    PrivateKey,
    VirtualMyNumberCard,
)
from clerk_agent.card.virtual.cardface import build_card_face, rsa_public_key_field, text_png
from clerk_agent.card.virtual.nextgen import build_next_card
from clerk_agent.card.virtual.people import PEOPLE, VirtualPerson, era_yymmdd
from clerk_agent.card.virtual.signing import CardKey
from service.wire.card_profiles import CardGeneration


@dataclass(frozen=True)
class CardMaterial:
    """The JPKI keys and certificates of one card, its card-face AP key, and the issuer key that signs its card face.

    RSA-2048 keys on the current card; ECDSA P-384 on the next generation (`generation`, built by nextgen.py).
    """

    auth_key: CardKey
    auth_certificate: bytes
    auth_ca: bytes
    sign_key: CardKey
    sign_certificate: bytes
    sign_ca: bytes
    card_face_key: CardKey
    card_face_issuer: CardKey
    generation: CardGeneration = CardGeneration.GEN2016


class MissingPki(FileNotFoundError):
    """The test-PKI directory lacks what the virtual card needs."""


def _private_key(path: Path) -> CardKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise MissingPki(f"{path} is not an RSA or EC key")
    return key


def load_card_material(
    pki_dir: Path, person: str, generation: CardGeneration = CardGeneration.GEN2016
) -> CardMaterial:
    """Read a person's card material of one generation from a `hub dev-pki` directory."""
    manifest_path = pki_dir / "manifest.json"
    if not manifest_path.exists():
        raise MissingPki(f"no test PKI in {pki_dir}; run `hub dev-pki --out {pki_dir}` first")
    manifest = json.loads(manifest_path.read_text())
    next_gen = generation is CardGeneration.GEN2028
    if next_gen and "next_cards" not in manifest:
        raise MissingPki(
            f"the test PKI in {pki_dir} predates next-generation cards; run `hub dev-pki --out {pki_dir} --force`"
        )
    cards = manifest.get("next_cards" if next_gen else "cards", {})
    if person not in cards:
        raise MissingPki(f"the test PKI in {pki_dir} has no card for {person!r} (has: {', '.join(cards)})")
    base = pki_dir / cards[person]
    if not (base / "card-face-key.pem").exists():
        raise MissingPki(
            f"the test PKI in {pki_dir} predates card-face keys; run `hub dev-pki --out {pki_dir} --force`"
        )
    return CardMaterial(
        auth_key=_private_key(base / "auth-key.pem"),
        auth_certificate=(base / "auth-cert.der").read_bytes(),
        auth_ca=(base / "auth-ca.der").read_bytes(),
        sign_key=_private_key(base / "sign-key.pem"),
        sign_certificate=(base / "sign-cert.der").read_bytes(),
        sign_ca=(base / "sign-ca.der").read_bytes(),
        card_face_key=_private_key(base / "card-face-key.pem"),
        card_face_issuer=_private_key(
            pki_dir
            / "private"
            / ("next-card-face-issuer.key.pem" if next_gen else "card-face-issuer.key.pem")
        ),
        generation=generation,
    )


def _token_info() -> bytes:
    # CK_TOKEN_INFO is 160 bytes; only the 32-byte space-padded label matters to detection.
    return MY_NUMBER_CARD_TOKEN.ljust(32, b" ") + bytes(128)


def _number_image(number: str) -> bytes:
    # Kenkaku EF 0005 holds the number as a 72x12 1-bit PNG (docs/card.md §1.3); it exists to be never read.
    return encode_tlv(0xDF41, text_png(number, width=72, height=12))


def build_virtual_card(
    person: VirtualPerson,
    material: CardMaterial,
    *,
    card_key: CardKey | None = None,
    atr: bytes = ATR,
    short_ef_ids: bool = True,
    label: str | None = None,
    violation_sink: Callable[[str], None] | None = None,
) -> VirtualMyNumberCard:
    """A card for `person` holding `material`; `card_key` overrides the Kenkaku AP's own key from `material`.

    Next-generation material builds the next-generation card (two APs, P-384; nextgen.py).
    """
    if material.generation is CardGeneration.GEN2028:
        return build_next_card(
            person,
            material,
            card_key=card_key,
            atr=atr,
            short_ef_ids=short_ef_ids,
            label=label,
            violation_sink=violation_sink,
        )
    card_key = card_key or material.card_face_key
    if not isinstance(card_key, rsa.RSAPrivateKey) or not isinstance(
        material.card_face_issuer, rsa.RSAPrivateKey
    ):
        raise MissingPki("the current card's card-face keys are RSA")
    digits = person.my_number.encode()
    jpki = Application(
        JPKI_AID,
        files={
            0x0006: ElementaryFile(_token_info()),
            0x0008: ElementaryFile(b"\x01\x01\x01"),
            0x000A: ElementaryFile(material.auth_certificate, capacity=0x0800),
            0x000B: ElementaryFile(material.auth_ca, capacity=0x0800),
            # The signing certificate carries the basic-4; it opens only with the signing password.
            0x0001: ElementaryFile(material.sign_certificate, frozenset({0x001B}), capacity=0x0800),
            0x0002: ElementaryFile(material.sign_ca, frozenset({0x001B}), capacity=0x0800),
        },
        keys={
            0x0018: KeyReference(person.auth_pin.encode(), 3),
            0x001B: KeyReference(person.sign_password.encode(), 5),
        },
        private_keys={
            0x0017: PrivateKey(material.auth_key, 0x0018),
            0x001A: PrivateKey(material.sign_key, 0x001B),
        },
    )
    basic4 = (
        encode_tlv(0xDF22, person.name.encode())
        + encode_tlv(0xDF23, person.address.encode())
        + encode_tlv(0xDF24, person.birth_date.strftime("%Y%m%d").encode())
        + encode_tlv(0xDF25, person.sex.encode())
    )
    kenhojo = Application(
        KENHOJO_AID,
        files={
            0x0001: ElementaryFile(b"\xff\x10\x0c" + digits + b"\xff\xff", frozenset({0x0011, 0x0014})),
            0x0002: ElementaryFile(
                encode_tlv(0xFF20, encode_tlv(0xDF21, bytes(8)) + basic4), frozenset({0x0011, 0x0015})
            ),
            0x0005: ElementaryFile(encode_tlv(0xFF40, encode_tlv(0xDF41, b"\x00" * 4))),
        },
        keys={
            0x0011: KeyReference(person.kenhojo_pin.encode(), 3),
            0x0014: KeyReference(digits, 10, carries_my_number=True),
            0x0015: KeyReference(person.code_b.encode(), 10),
        },
    )
    face = build_card_face(person, card_key=card_key.public_key(), issuer_key=material.card_face_issuer)
    number_record = encode_tlv(
        0xFF40,
        _number_image(person.my_number) + encode_tlv(0xDF42, rsa_public_key_field(card_key.public_key())),
    )
    kenkaku = Application(
        KENKAKU_AID,
        own_key=card_key,
        files={
            0x0002: ElementaryFile(face, frozenset({0x0012, 0x0013})),
            0x0003: ElementaryFile(encode_tlv(0xFF30, encode_tlv(0xDF34, b"99999"))),
            0x0005: ElementaryFile(number_record, frozenset({0x0013})),
        },
        keys={
            0x0011: KeyReference(era_yymmdd(person.birth_date).encode(), 10),
            # Retry limit of 照合番号B is not established from code; one vendor note says 10.
            0x0012: KeyReference(person.code_b.encode(), 10),
            0x0013: KeyReference(digits, 10, carries_my_number=True),
        },
    )
    return VirtualMyNumberCard(
        [jpki, kenhojo, kenkaku],
        atr=atr,
        short_ef_ids=short_ef_ids,
        label=label or f"virtual card {person.key}",
        violation_sink=violation_sink,
    )


def person(key: str) -> VirtualPerson:
    """A virtual person by id; KeyError lists the known ones."""
    try:
        return PEOPLE[key]
    except KeyError:
        raise KeyError(f"unknown virtual person {key!r}; known: {', '.join(PEOPLE)}") from None
