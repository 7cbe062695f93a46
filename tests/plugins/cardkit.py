"""Test helpers for the card layer: one test PKI per process, virtual cards for the invented people."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from clerk_agent.card.virtual.build import CardMaterial, build_virtual_card, person
from clerk_agent.card.virtual.card import ATR, VirtualMyNumberCard
from clerk_agent.card.virtual.nextgen import printed_card_face_code
from clerk_agent.card.virtual.signing import CardKey
from service.cardproof import devpki
from service.wire.card_profiles import CardGeneration

# Both generations, for tests parametrised over them (`@pytest.mark.parametrize("generation", GENERATIONS)`).
GENERATIONS = tuple(CardGeneration)

DER = serialization.Encoding.DER


@functools.cache
def shared_pki() -> devpki.DevPki:
    """The suite's test PKI (two auth root generations), generated once per process."""
    return devpki.generate_test_pki(generations=2)


def issued_card(person_key: str, variant: str = "current") -> devpki.IssuedCard:
    """JPKI material for a person; variants: current, old_generation, expired, next (the next-generation card)."""
    return _issued(person_key, variant)


@functools.cache
def _issued(person_key: str, variant: str) -> devpki.IssuedCard:
    del person_key  # each person gets its own keys; the argument is the cache key
    pki = shared_pki()
    if variant == "current":
        return devpki.issue_card(pki)
    if variant == "next":
        return devpki.issue_next_card(pki)
    if variant == "old_generation":
        return devpki.issue_card(pki, generation=0)
    if variant == "expired":
        now = dt.datetime.now(dt.UTC)
        return devpki.issue_card(
            pki, not_before=now - dt.timedelta(days=2000), not_after=now - dt.timedelta(days=1)
        )
    raise ValueError(variant)


def material(issued: devpki.IssuedCard, *, face_issuer: CardKey | None = None) -> CardMaterial:
    """Convert devpki output into what the virtual card loads (the generation follows the keys: P-384 is next)."""
    next_gen = isinstance(issued.auth_key, ec.EllipticCurvePrivateKey)
    default_issuer = shared_pki().next_card_face_issuer if next_gen else shared_pki().card_face_issuer
    assert default_issuer is not None
    return CardMaterial(
        auth_key=issued.auth_key,
        auth_certificate=issued.auth_certificate.public_bytes(DER),
        auth_ca=issued.auth_ca.public_bytes(DER),
        sign_key=issued.sign_key,
        sign_certificate=issued.sign_certificate.public_bytes(DER),
        sign_ca=issued.sign_ca.public_bytes(DER),
        card_face_key=issued.card_face_key,
        card_face_issuer=face_issuer or default_issuer,
        generation=CardGeneration.GEN2028 if next_gen else CardGeneration.GEN2016,
    )


def make_card(
    person_key: str = "yamada_hanako",
    *,
    variant: str = "current",
    short_ef_ids: bool = True,
    violation_sink: Callable[[str], None] | None = None,
    atr: bytes | None = None,
    face_issuer: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | None = None,
    generation: CardGeneration = CardGeneration.GEN2016,
) -> VirtualMyNumberCard:
    """A fresh virtual card (fresh PIN counters) for one of the invented people, of either generation.

    `violation_sink` keeps deliberately provoked My Number accesses out of the session-wide APDU guard.
    """
    if generation is CardGeneration.GEN2028 and variant == "current":
        variant = "next"
    return build_virtual_card(
        person(person_key),
        material(issued_card(person_key, variant), face_issuer=face_issuer),
        short_ef_ids=short_ef_ids,
        label=f"test card {person_key}",
        violation_sink=violation_sink,
        atr=atr if atr is not None else ATR,
    )


def rsa_key(key: CardKey) -> rsa.RSAPrivateKey:
    """A current card's key, typed as such (IssuedCard holds keys of either generation)."""
    assert isinstance(key, rsa.RSAPrivateKey), "a current card's keys are RSA"
    return key


def card_face_code(person_key: str, generation: CardGeneration) -> str:
    """What the clerk types to open the card face: 照合番号B, or the 照合番号 printed on a next-generation card."""
    holder = person(person_key)
    return printed_card_face_code(holder) if generation is CardGeneration.GEN2028 else holder.code_b
