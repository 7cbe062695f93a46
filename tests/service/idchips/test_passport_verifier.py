"""Passive authentication of passports (service/idchips/passport.py) on virtual passports from a fresh test PKI.

Each way a passport can be wrong is refused by its own named check, and only by it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from clerk_agent.card.idchips.passport import FILES
from clerk_agent.card.virtual.idchips.lds import HOLDERS, build_sod
from clerk_agent.card.virtual.idchips.passport import DocumentSigner, VirtualPassport, build_passport
from service.idchips.anchors import ChipAnchors, IssuerAnchors
from service.idchips.devpki import DevIssuer, make_crl, make_issuer, make_signer
from service.idchips.verifiers import VERIFIERS, ChipVerification
from service.wire.idchips import ChipKind, ChipRefusal, ChipVerdict

HANAKO = HOLDERS["yamada_hanako"]
NOW = dt.datetime.now(dt.UTC)


@pytest.fixture(scope="module")
def csca() -> DevIssuer:
    return make_issuer("CSCA Japan (test)")


@pytest.fixture(scope="module")
def signer(csca: DevIssuer) -> DevIssuer:
    return make_signer(csca, "Document Signer (test)")


def _anchors(csca: DevIssuer, *crls: object) -> ChipAnchors:
    return ChipAnchors(
        test={ChipKind.passport: IssuerAnchors((csca.certificate,), crls=tuple(crls))},  # type: ignore[arg-type]
        allow_test=True,
    )


def _objects(passport: VirtualPassport) -> dict[str, bytes]:
    return {name: passport.files[fid] for name, fid in FILES.items()}


def _verify(passport: VirtualPassport, anchors: ChipAnchors) -> ChipVerification:
    return VERIFIERS[ChipKind.passport](_objects(passport), anchors, NOW)


def _failed(result: ChipVerification) -> dict[str, ChipRefusal | None]:
    return {c.name: c.reason_code for c in result.checks if not c.ok}


def _passport(signer: DevIssuer, **kwargs: object) -> VirtualPassport:
    return build_passport(HANAKO, DocumentSigner(signer.certificate, signer.key), **kwargs)  # type: ignore[arg-type]


def test_a_genuine_passport_is_verified_with_its_holders_fields_and_photo(
    csca: DevIssuer, signer: DevIssuer
) -> None:
    result = _verify(_passport(signer), _anchors(csca))
    assert result.verdict is ChipVerdict.verified, result.checks
    assert [c.name for c in result.checks] == [
        "structure",
        "signature",
        "issuer_chain",
        "signer_validity",
        "signer_revocation",
        "data_hashes",
        "check_digits",
        "document_validity",
    ]
    assert result.fields.name == "YAMADA HANAKO"
    assert result.fields.birth_date == HANAKO.birth_date
    assert result.fields.valid_until == HANAKO.expiry
    assert result.fields.document_number == HANAKO.document_number
    assert result.photo is not None
    assert result.photo[:3] == b"\xff\xd8\xff"


def test_altered_data_is_refused_as_a_hash_mismatch(csca: DevIssuer, signer: DevIssuer) -> None:
    result = _verify(_passport(signer, tamper="DG1"), _anchors(csca))
    assert _failed(result) == {"data_hashes": ChipRefusal.hash_mismatch}
    assert result.refusal is ChipRefusal.hash_mismatch


def test_a_foreign_issuer_with_the_same_name_is_refused_as_unknown(csca: DevIssuer) -> None:
    impostor = make_issuer("CSCA Japan (test)")  # same DN, another key: only the signature tells them apart
    result = _verify(_passport(make_signer(impostor, "Document Signer (test)")), _anchors(csca))
    assert _failed(result) == {"issuer_chain": ChipRefusal.unknown_issuer}


def test_an_expired_document_signer_is_refused(csca: DevIssuer) -> None:
    expired = make_signer(
        csca,
        "Old Document Signer",
        not_before=NOW - dt.timedelta(days=400),
        not_after=NOW - dt.timedelta(days=1),
    )
    result = _verify(_passport(expired), _anchors(csca))
    assert _failed(result) == {"signer_validity": ChipRefusal.signer_expired}


def test_a_signer_on_the_cscas_crl_is_refused_and_an_empty_crl_is_recorded_as_checked(
    csca: DevIssuer, signer: DevIssuer
) -> None:
    revoked = _verify(_passport(signer), _anchors(csca, make_crl(csca, (signer.certificate.serial_number,))))
    assert _failed(revoked) == {"signer_revocation": ChipRefusal.signer_revoked}
    clean = _verify(_passport(signer), _anchors(csca, make_crl(csca)))
    assert clean.ok
    assert next(c.detail for c in clean.checks if c.name == "signer_revocation") == "crl"


def test_an_expired_passport_is_refused(csca: DevIssuer, signer: DevIssuer) -> None:
    old = dataclasses.replace(HANAKO, expiry=(NOW - dt.timedelta(days=30)).date())
    passport = build_passport(old, DocumentSigner(signer.certificate, signer.key))
    assert _failed(_verify(passport, _anchors(csca))) == {"document_validity": ChipRefusal.document_expired}


def test_test_anchors_count_only_where_test_roots_are_allowed(csca: DevIssuer, signer: DevIssuer) -> None:
    production = ChipAnchors(test={ChipKind.passport: IssuerAnchors((csca.certificate,))}, allow_test=False)
    assert _failed(_verify(_passport(signer), production)) == {"issuer_chain": ChipRefusal.unknown_issuer}


def test_a_missing_or_broken_security_object_is_malformed(csca: DevIssuer, signer: DevIssuer) -> None:
    objects = _objects(_passport(signer))
    for broken in (
        {k: v for k, v in objects.items() if k != "SOD"},
        {**objects, "SOD": objects["SOD"][:-40]},
    ):
        result = VERIFIERS[ChipKind.passport](broken, _anchors(csca), NOW)
        assert _failed(result) == {"structure": ChipRefusal.malformed}
        assert result.verdict is ChipVerdict.refused


def test_a_signature_that_is_not_the_included_signers_is_refused(csca: DevIssuer, signer: DevIssuer) -> None:
    other = make_signer(csca, "Another Document Signer (test)")
    passport = _passport(signer)
    dg1, dg2 = passport.files[FILES["DG1"]], passport.files[FILES["DG2"]]
    # Signed with one key, carrying another signer's certificate (both certified by the same CSCA).
    sod = build_sod({1: dg1, 2: dg2}, other.certificate, signer.key)
    result = VERIFIERS[ChipKind.passport]({**_objects(passport), "SOD": sod}, _anchors(csca), NOW)
    assert _failed(result) == {"signature": ChipRefusal.signature_invalid}


def test_an_empty_crl_past_its_next_update_is_recorded_as_stale_not_as_checked(
    csca: DevIssuer, signer: DevIssuer
) -> None:
    later = NOW + dt.timedelta(days=40)  # the test CRL is good for 30 days
    objects = _objects(_passport(signer))
    result = VERIFIERS[ChipKind.passport](objects, _anchors(csca, make_crl(csca)), later)
    assert next(c.detail for c in result.checks if c.name == "signer_revocation") == "crl_stale"
    listed = make_crl(csca, (signer.certificate.serial_number,))
    stale_revoked = VERIFIERS[ChipKind.passport](objects, _anchors(csca, listed), later)
    assert _failed(stale_revoked) == {"signer_revocation": ChipRefusal.signer_revoked}
