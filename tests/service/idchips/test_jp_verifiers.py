"""The hub's verifiers for the Japanese chip documents (docs/id-documents.md §Japanese), on objects read from the
virtual documents in process. Each refusal the issue names is provoked and must come back under its own name.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import replace

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes

from clerk_agent.card.idchips.licence import LicenceReader
from clerk_agent.card.idchips.residence import ResidenceReader
from clerk_agent.card.virtual.idchips.jp_people import LICENCE_HOLDERS, RESIDENCE_HOLDERS
from clerk_agent.card.virtual.idchips.jp_pki import DocumentType, jp_root, jp_signer
from clerk_agent.card.virtual.idchips.licence import build_virtual_licence
from clerk_agent.card.virtual.idchips.residence import build_virtual_residence_card
from service.idchips.anchors import ChipAnchors
from service.idchips.verifiers import VERIFIERS, ChipVerification
from service.wire.idchips import ChipKind, ChipRefusal, ChipVerdict
from tests.service.idchips.jp_kit import InProcess, jp_anchors

NOW = dt.datetime.now(dt.UTC)  # the generated certificates are valid around the real now


ANCHORS = jp_anchors("driving_licence", "residence_card")


def licence_objects(holder: str = "sato_ichiro", **variant: object) -> dict[str, bytes]:
    card = build_virtual_licence(holder, **variant)  # type: ignore[arg-type]
    person = LICENCE_HOLDERS[holder]
    pins = bytearray(person.pin1.encode()), bytearray(person.pin2.encode())
    return LicenceReader(InProcess(card)).read(*pins).objects


def residence_objects(holder: str = "nguyen_lan", **variant: object) -> tuple[ChipKind, dict[str, bytes]]:
    card = build_virtual_residence_card(holder, **variant)  # type: ignore[arg-type]
    read = ResidenceReader(InProcess(card)).read(bytearray(RESIDENCE_HOLDERS[holder].card_number.encode()))
    return read.kind, read.objects


def verify(kind: ChipKind, objects: Mapping[str, bytes], anchors: ChipAnchors = ANCHORS) -> ChipVerification:
    return VERIFIERS[kind](objects, anchors, NOW)


def test_a_genuine_licence_is_verified_with_its_fields_and_photo() -> None:
    result = verify(ChipKind.driving_licence, licence_objects())
    assert result.verdict == ChipVerdict.verified, result.checks
    assert [c.name for c in result.checks] == [
        "structure",
        "issuer_chain",
        "signature",
        "signer_validity",
        "signer_revocation",
        "document_validity",
    ]
    assert result.fields.name == "佐藤　一郎"
    assert result.fields.birth_date == dt.date(1975, 6, 14)
    assert result.fields.valid_until == LICENCE_HOLDERS["sato_ichiro"].valid_until
    assert result.fields.document_number == "990012345670"
    assert result.photo is not None
    assert result.photo_content_type == "image/jp2"


@pytest.mark.parametrize(
    ("make", "refusal"),
    [
        (lambda: licence_objects(alter_after_signing=True), ChipRefusal.signature_invalid),
        (lambda: licence_objects(signer="foreign"), ChipRefusal.unknown_issuer),
        (lambda: licence_objects(signer="expired"), ChipRefusal.signer_expired),
        (lambda: licence_objects("suzuki_mika"), ChipRefusal.document_expired),
    ],
    ids=["altered", "foreign_issuer", "expired_signer", "expired_licence"],
)
def test_a_bad_licence_is_refused_by_name(make: Callable[[], dict[str, bytes]], refusal: ChipRefusal) -> None:
    result = verify(ChipKind.driving_licence, make())
    assert result.verdict == ChipVerdict.refused
    assert result.refusal == refusal


def test_a_truncated_licence_object_is_malformed_not_an_error() -> None:
    objects = licence_objects()
    objects["df1_ef07"] = objects["df1_ef07"][:40]
    assert verify(ChipKind.driving_licence, objects).refusal == ChipRefusal.malformed


def test_licence_without_test_anchors_allowed_has_no_issuer() -> None:
    strict = jp_anchors("driving_licence", allow_test=False)
    assert verify(ChipKind.driving_licence, licence_objects(), strict).refusal == ChipRefusal.unknown_issuer


def test_a_genuine_residence_card_is_verified() -> None:
    kind, objects = residence_objects()
    result = verify(kind, objects)
    assert kind == ChipKind.residence_card
    assert result.verdict == ChipVerdict.verified, result.checks
    assert result.photo is not None
    assert result.fields.document_number is None  # the access key never reaches the hub


def test_special_permanent_resident_certificate_verifies_under_its_own_kind() -> None:
    kind, objects = residence_objects("kim_minjun")
    assert kind == ChipKind.special_permanent_resident
    assert verify(kind, objects).verdict == ChipVerdict.verified
    # Declared as a residence card, the card type contradicts it.
    assert verify(ChipKind.residence_card, objects).refusal == ChipRefusal.malformed


@pytest.mark.parametrize(
    ("variant", "refusal"),
    [
        ({"alter_after_signing": True}, ChipRefusal.signature_invalid),
        ({"signer": "foreign"}, ChipRefusal.unknown_issuer),
        ({"signer": "expired"}, ChipRefusal.signer_expired),
    ],
    ids=["altered", "foreign_issuer", "expired_signer"],
)
def test_a_bad_residence_card_is_refused_by_name(variant: dict[str, object], refusal: ChipRefusal) -> None:
    kind, objects = residence_objects("nguyen_lan", **variant)
    result = verify(kind, objects)
    assert result.verdict == ChipVerdict.refused
    assert result.refusal == refusal


def _crl_listing(
    document: DocumentType, serial: int, *, next_update: dt.datetime
) -> x509.CertificateRevocationList:
    key, root = jp_root(document, "trusted")
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(root.subject)
        .last_update(NOW - dt.timedelta(days=1))
        .next_update(next_update)
    )
    if serial:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(NOW).build()
        )
    return builder.sign(key, hashes.SHA256())


@pytest.mark.parametrize("document", ["driving_licence", "residence_card"])
def test_a_revoked_signer_is_refused_and_a_stale_empty_crl_is_no_proof(document: DocumentType) -> None:
    kind = ChipKind(document)
    objects = licence_objects() if document == "driving_licence" else residence_objects()[1]
    serial = jp_signer(document, "current").certificate.serial_number
    base = ANCHORS.test[kind]
    revoked = _crl_listing(document, serial, next_update=NOW + dt.timedelta(days=7))
    listing = ChipAnchors(test={**ANCHORS.test, kind: replace(base, crls=(revoked,))}, allow_test=True)
    assert verify(kind, objects, listing).refusal == ChipRefusal.signer_revoked
    stale = _crl_listing(document, 0, next_update=NOW - dt.timedelta(days=1))
    old = ChipAnchors(test={**ANCHORS.test, kind: replace(base, crls=(stale,))}, allow_test=True)
    result = verify(kind, objects, old)
    assert result.verdict == ChipVerdict.verified
    assert [c.detail for c in result.checks if c.name == "signer_revocation"] == ["crl_stale"]
