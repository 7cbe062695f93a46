"""Test helpers for the card layer: one test PKI per process, virtual cards for the invented people."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from clerk_agent.card.virtual.build import CardMaterial, build_virtual_card, person
from clerk_agent.card.virtual.card import ATR, VirtualMyNumberCard
from service.cardproof import devpki

DER = serialization.Encoding.DER


@functools.cache
def shared_pki() -> devpki.DevPki:
    """The suite's test PKI (two auth root generations), generated once per process."""
    return devpki.generate_test_pki(generations=2)


def issued_card(person_key: str, variant: str = "current") -> devpki.IssuedCard:
    """JPKI material for a person; variants: current, old_generation, expired (cached per person and variant)."""
    return _issued(person_key, variant)


@functools.cache
def _issued(person_key: str, variant: str) -> devpki.IssuedCard:
    del person_key  # each person gets its own keys; the argument is the cache key
    pki = shared_pki()
    if variant == "current":
        return devpki.issue_card(pki)
    if variant == "old_generation":
        return devpki.issue_card(pki, generation=0)
    if variant == "expired":
        now = dt.datetime.now(dt.UTC)
        return devpki.issue_card(
            pki, not_before=now - dt.timedelta(days=2000), not_after=now - dt.timedelta(days=1)
        )
    raise ValueError(variant)


def material(issued: devpki.IssuedCard, *, face_issuer: rsa.RSAPrivateKey | None = None) -> CardMaterial:
    """Convert devpki output into what the virtual card loads."""
    return CardMaterial(
        auth_key=issued.auth_key,
        auth_certificate=issued.auth_certificate.public_bytes(DER),
        auth_ca=issued.auth_ca.public_bytes(DER),
        sign_key=issued.sign_key,
        sign_certificate=issued.sign_certificate.public_bytes(DER),
        sign_ca=issued.sign_ca.public_bytes(DER),
        card_face_key=issued.card_face_key,
        card_face_issuer=face_issuer or shared_pki().card_face_issuer,
    )


def make_card(
    person_key: str = "yamada_hanako",
    *,
    variant: str = "current",
    short_ef_ids: bool = True,
    violation_sink: Callable[[str], None] | None = None,
    atr: bytes | None = None,
    face_issuer: rsa.RSAPrivateKey | None = None,
) -> VirtualMyNumberCard:
    """A fresh virtual card (fresh PIN counters) for one of the invented people.

    `violation_sink` keeps deliberately provoked My Number accesses out of the session-wide APDU guard.
    """
    return build_virtual_card(
        person(person_key),
        material(issued_card(person_key, variant), face_issuer=face_issuer),
        short_ef_ids=short_ef_ids,
        label=f"test card {person_key}",
        violation_sink=violation_sink,
        atr=atr if atr is not None else ATR,
    )
