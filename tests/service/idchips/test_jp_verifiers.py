"""The hub's verifiers for the Japanese chip documents (docs/id-documents.md §Japanese), on objects read from the
virtual documents in process. Each refusal the issue names is provoked and must come back under its own name.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping

import pytest

from clerk_agent.card.idchips.licence import LicenceReader
from clerk_agent.card.idchips.residence import ResidenceReader
from clerk_agent.card.virtual.idchips.jp_people import LICENCE_HOLDERS, RESIDENCE_HOLDERS
from clerk_agent.card.virtual.idchips.licence import build_virtual_licence
from clerk_agent.card.virtual.idchips.residence import build_virtual_residence_card
from service.idchips.anchors import ChipAnchors
from service.idchips.verifiers import VERIFIERS, ChipVerification
from service.wire.idchips import ChipKind, ChipRefusal, ChipVerdict
from tests.service.idchips.jp_kit import InProcess, jp_anchors

NOW = dt.datetime(2026, 12, 3, 6, 0, tzinfo=dt.UTC)


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
    assert result.fields.valid_until == dt.date(2029, 7, 14)
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
