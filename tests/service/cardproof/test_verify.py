"""Hub-side verification of card-possession proofs: each way a proof can be wrong has its own reason code."""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, replace

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa

from clerk_agent.card.apdu import sha256_digest_info
from clerk_agent.card.protocol import MyNumberCard, possession_message
from clerk_agent.card.virtual.build import person
from clerk_agent.card.virtual.signing import pkcs1v15_sign_raw
from clerk_agent.card.virtual.transport import InProcessTransport
from service.cardproof import devpki
from service.cardproof.revocation import CrlRevocationChecker, RevocationStatus
from service.cardproof.verify import (
    CheckName,
    CheckStatus,
    ProofResult,
    Reason,
    TrustAnchors,
    signed_bytes_for,
    verify_card_proof,
)
from tests.plugins.cardkit import DER, issued_card, make_card, shared_pki

ORIGIN = "https://hub.madoguchi.test"
NONCE = "Zm9vYmFyLW5vbmNlLTI1Ni1iaXRzLWxvbmc"
CASE = "case_42"
NOW = dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class Proof:
    """What the agent sends: certificate, signature, raw card face and the card-face key's answer."""

    certificate: bytes
    signature: bytes
    card_face: bytes
    card_face_signature: bytes | None


def read_proof(
    person_key: str = "yamada_hanako",
    *,
    variant: str = "current",
    nonce: str = NONCE,
    case_id: str = CASE,
    origin: str = ORIGIN,
    face_issuer: rsa.RSAPrivateKey | None = None,
) -> Proof:
    """Have the virtual card produce a proof exactly as the agent would."""
    holder = person(person_key)
    card = MyNumberCard(InProcessTransport(make_card(person_key, variant=variant, face_issuer=face_issuer)))
    card.verify_auth_pin(bytearray(holder.auth_pin.encode()))
    message = possession_message(origin, nonce, case_id)
    signature = card.sign_auth(message)
    card.verify_card_face_code(bytearray(holder.code_b.encode()))
    face = card.read_card_face().raw
    return Proof(card.read_auth_certificate(), signature, face, card.answer_card_face_challenge(message))


def dev_trust() -> TrustAnchors:
    pki = shared_pki()
    return TrustAnchors(
        test_auth_roots=tuple(r.certificate for r in pki.auth_roots),
        test_card_face_issuer_keys=(pki.card_face_issuer.public_key(),),
    )


def card_signature(key: rsa.RSAPrivateKey, message: bytes) -> bytes:
    """What a card holding `key` answers to COMPUTE DIGITAL SIGNATURE over SHA-256(message)."""
    return pkcs1v15_sign_raw(key, sha256_digest_info(hashlib.sha256(message).digest()))


def check(
    proof: Proof,
    *,
    trust: TrustAnchors | None = None,
    allow_test_roots: bool = True,
    at: dt.datetime = NOW,
    signed_bytes: bytes | None = None,
    revocation: CrlRevocationChecker | None = None,
) -> ProofResult:
    return verify_card_proof(
        certificate_der=proof.certificate,
        signature=proof.signature,
        signed_bytes=signed_bytes if signed_bytes is not None else signed_bytes_for(ORIGIN, NONCE, CASE),
        trust=trust or dev_trust(),
        at=at,
        allow_test_roots=allow_test_roots,
        revocation=revocation,
        card_face=proof.card_face,
        card_face_signature=proof.card_face_signature,
    )


@pytest.fixture(scope="module")
def hanako_proof() -> Proof:
    return read_proof()


def test_a_genuine_proof_passes_and_says_revocation_was_not_checked(hanako_proof: Proof) -> None:
    result = check(hanako_proof)
    assert result.ok, result.checks
    assert result.reasons == ()
    statuses = {c.check: c.status for c in result.checks}
    assert statuses == {
        CheckName.CERTIFICATE: CheckStatus.PASSED,
        CheckName.SIGNATURE: CheckStatus.PASSED,
        CheckName.VALIDITY: CheckStatus.PASSED,
        CheckName.KEY_USAGE: CheckStatus.PASSED,
        CheckName.CHAIN: CheckStatus.PASSED,
        CheckName.REVOCATION: CheckStatus.NOT_CHECKED,
        CheckName.CARD_FACE: CheckStatus.PASSED,
        CheckName.CARD_FACE_KEY: CheckStatus.PASSED,
    }
    assert result.check(CheckName.REVOCATION).reason is Reason.REVOCATION_NOT_CHECKED
    assert result.revocation_label == "失効確認未実施 (revocation not checked)"
    assert result.certificate_serial == issued_card("yamada_hanako").auth_certificate.serial_number
    assert result.trust_anchor_is_test
    assert result.card_face is not None
    assert (result.card_face.birth_date, result.card_face.sex, result.card_face.expiry_unsigned) == (
        "19850412",
        "2",
        "20340412",
    )


def test_signature_from_another_card(hanako_proof: Proof) -> None:
    taro = read_proof("sato_taro")
    forged = replace(hanako_proof, signature=taro.signature)
    assert check(forged).reasons == (Reason.SIGNATURE_INVALID,)


@pytest.mark.parametrize(
    "rebuilt",
    [
        signed_bytes_for(ORIGIN, "another-nonce", CASE),
        signed_bytes_for(ORIGIN, NONCE, "case_43"),
        signed_bytes_for("https://evil.example", NONCE, CASE),
    ],
    ids=["other-nonce", "other-case", "other-origin"],
)
def test_wrong_signed_bytes(hanako_proof: Proof, rebuilt: bytes) -> None:
    result = check(hanako_proof, signed_bytes=rebuilt)
    # Both keys answered the same (other) challenge, and both are caught.
    assert result.reasons == (Reason.SIGNED_BYTES_MISMATCH, Reason.CARD_FACE_ANSWER_MISMATCH)


def test_expired_certificate() -> None:
    result = check(read_proof(variant="expired"))
    assert result.reasons == (Reason.CERT_EXPIRED,)


def test_not_yet_valid_certificate(hanako_proof: Proof) -> None:
    result = check(hanako_proof, at=NOW - dt.timedelta(days=30))
    assert Reason.CERT_NOT_YET_VALID in result.reasons


def test_foreign_root_with_the_same_name_is_not_trusted() -> None:
    # A look-alike CA with J-LIS's exact DN: only the signature can tell it apart.
    impostor = devpki.make_root(
        devpki.AUTH_ROOT_NAME, not_before=NOW - dt.timedelta(days=1), not_after=NOW + dt.timedelta(days=365)
    )
    key = devpki.new_rsa_key()
    leaf = devpki.issue_leaf(
        impostor,
        key.public_key(),
        not_before=NOW - dt.timedelta(days=1),
        not_after=NOW + dt.timedelta(days=30),
    )
    signature = card_signature(key, signed_bytes_for(ORIGIN, NONCE, CASE))
    result = check(replace(read_proof(), certificate=leaf.public_bytes(DER), signature=signature))
    assert result.reasons == (Reason.CHAIN_UNTRUSTED,)
    assert leaf.issuer == shared_pki().auth_roots[-1].certificate.subject


def test_issuer_is_chosen_by_signature_across_generations() -> None:
    old = read_proof(variant="old_generation")
    pki = shared_pki()
    newest_first = TrustAnchors(
        test_auth_roots=tuple(r.certificate for r in reversed(pki.auth_roots)),
        test_card_face_issuer_keys=(pki.card_face_issuer.public_key(),),
    )
    result = check(old, trust=newest_first)
    assert result.ok, result.checks
    old_root = pki.auth_roots[0].certificate
    assert result.trust_anchor_sha256 == old_root.fingerprint(hashes.SHA256()).hex()
    assert pki.auth_roots[0].certificate.subject == pki.auth_roots[1].certificate.subject


def test_test_root_is_refused_in_production(hanako_proof: Proof) -> None:
    result = check(hanako_proof, allow_test_roots=False)
    assert result.reasons == (Reason.TEST_ROOT_IN_PRODUCTION, Reason.CARD_FACE_TEST_ISSUER_IN_PRODUCTION)


def test_a_jpki_test_root_configured_as_production_is_still_a_test_root(hanako_proof: Proof) -> None:
    pki = shared_pki()
    misconfigured = TrustAnchors(
        auth_roots=tuple(r.certificate for r in pki.auth_roots),
        card_face_issuer_keys=(pki.card_face_issuer.public_key(),),
    )
    result = check(hanako_proof, trust=misconfigured, allow_test_roots=False)
    assert Reason.TEST_ROOT_IN_PRODUCTION in result.reasons


def test_a_production_root_passes_without_test_mode() -> None:
    production_name = x509.Name(
        [
            x509.NameAttribute(x509.NameOID.COUNTRY_NAME, "JP"),
            x509.NameAttribute(x509.NameOID.ORGANIZATION_NAME, "JPKI"),
            x509.NameAttribute(x509.NameOID.ORGANIZATIONAL_UNIT_NAME, "JPKI for user authentication"),
        ]
    )
    root = devpki.make_root(
        production_name, not_before=NOW - dt.timedelta(days=1), not_after=NOW + dt.timedelta(days=99)
    )
    key = devpki.new_rsa_key()
    leaf = devpki.issue_leaf(
        root, key.public_key(), not_before=NOW - dt.timedelta(days=1), not_after=NOW + dt.timedelta(days=9)
    )
    signature = card_signature(key, signed_bytes_for(ORIGIN, NONCE, CASE))
    face_issuer = devpki.new_rsa_key()
    proof = replace(
        read_proof(face_issuer=face_issuer), certificate=leaf.public_bytes(DER), signature=signature
    )
    trust = TrustAnchors(auth_roots=(root.certificate,), card_face_issuer_keys=(face_issuer.public_key(),))
    result = check(proof, trust=trust, allow_test_roots=False)
    assert result.ok, result.checks
    assert not result.trust_anchor_is_test


def test_expired_trust_anchor() -> None:
    root = devpki.make_root(
        devpki.AUTH_ROOT_NAME, not_before=NOW - dt.timedelta(days=10), not_after=NOW - dt.timedelta(days=1)
    )
    key = devpki.new_rsa_key()
    leaf = devpki.issue_leaf(
        root, key.public_key(), not_before=NOW - dt.timedelta(days=5), not_after=NOW + dt.timedelta(days=5)
    )
    trust = TrustAnchors(
        test_auth_roots=(root.certificate,), test_card_face_issuer_keys=dev_trust().test_card_face_issuer_keys
    )
    result = verify_card_proof(
        certificate_der=leaf.public_bytes(DER),
        signature=b"\x00" * 256,
        signed_bytes=b"x",
        trust=trust,
        at=NOW,
        allow_test_roots=True,
    )
    assert Reason.TRUST_ANCHOR_EXPIRED in result.reasons
    assert result.check(CheckName.CARD_FACE).status is CheckStatus.SKIPPED


def test_key_usage_must_be_a_signing_end_entity(hanako_proof: Proof) -> None:
    pki = shared_pki()
    key = devpki.new_rsa_key()
    wrong_usage = x509.KeyUsage(
        digital_signature=False,
        content_commitment=False,
        key_encipherment=True,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=False,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )
    leaf = devpki.issue_leaf(
        pki.auth_roots[-1],
        key.public_key(),
        not_before=NOW - dt.timedelta(days=1),
        not_after=NOW + dt.timedelta(days=1),
        key_usage=wrong_usage,
    )
    result = check(replace(hanako_proof, certificate=leaf.public_bytes(DER)))
    assert Reason.KEY_USAGE_INVALID in result.reasons


def test_tampered_card_face(hanako_proof: Proof) -> None:
    raw = bytearray(hanako_proof.card_face)
    photo_at = raw.index(b"\xdf\x27")
    raw[photo_at + 40] ^= 0x01  # one bit of the JPEG 2000 photo
    result = check(replace(hanako_proof, card_face=bytes(raw)))
    assert result.reasons == (Reason.CARD_FACE_TAMPERED,)
    assert result.card_face is None


def test_birth_date_change_is_caught(hanako_proof: Proof) -> None:
    tampered = hanako_proof.card_face.replace(b"19850412", b"19750412", 1)
    assert tampered != hanako_proof.card_face
    result = check(replace(hanako_proof, card_face=tampered))
    assert result.reasons == (Reason.CARD_FACE_TAMPERED,)


def test_card_face_from_an_unknown_issuer(hanako_proof: Proof) -> None:
    rogue = read_proof(face_issuer=devpki.new_rsa_key())
    result = check(replace(rogue, certificate=hanako_proof.certificate, signature=hanako_proof.signature))
    assert result.reasons == (Reason.CARD_FACE_ISSUER_UNKNOWN,)


@pytest.mark.parametrize("garbage", [b"", b"\xff\x20\x05\xdf\x22\x01", b"\x30\x03\x02\x01\x00"])
def test_malformed_card_face(hanako_proof: Proof, garbage: bytes) -> None:
    result = check(replace(hanako_proof, card_face=garbage))
    assert result.reasons == (Reason.CARD_FACE_MALFORMED,)


def test_malformed_certificate(hanako_proof: Proof) -> None:
    result = check(replace(hanako_proof, certificate=b"\x30\x03\x02\x01\x00"))
    assert result.reasons == (Reason.CERT_MALFORMED,)
    assert result.check(CheckName.SIGNATURE).status is CheckStatus.SKIPPED
    assert result.card_face is not None, "the card face is still judged on its own"


def test_naive_time_is_refused(hanako_proof: Proof) -> None:
    with pytest.raises(ValueError, match="timezone"):
        check(hanako_proof, at=dt.datetime(2026, 1, 1))


# --- revocation -------------------------------------------------------------------------------------


def test_crl_lists_the_certificate_as_revoked(hanako_proof: Proof) -> None:
    pki = shared_pki()
    serial = issued_card("yamada_hanako").auth_certificate.serial_number
    # Issued relative to NOW, which is fixed when the module is collected (possibly minutes before this runs).
    crl = devpki.issue_crl(pki.auth_roots[-1], [serial], this_update=NOW - dt.timedelta(minutes=1))
    result = check(hanako_proof, revocation=CrlRevocationChecker([crl]))
    assert result.reasons == (Reason.CERT_REVOKED,)
    assert result.revocation.status is RevocationStatus.REVOKED


def test_crl_without_the_serial_is_a_pass(hanako_proof: Proof) -> None:
    crl = devpki.issue_crl(shared_pki().auth_roots[-1], [12345], this_update=NOW - dt.timedelta(minutes=1))
    result = check(hanako_proof, revocation=CrlRevocationChecker([crl]))
    assert result.ok
    assert result.check(CheckName.REVOCATION).status is CheckStatus.PASSED
    assert result.revocation_label.startswith("失効なし")


def test_stale_or_foreign_crl_fails_closed(hanako_proof: Proof) -> None:
    pki = shared_pki()
    stale = devpki.issue_crl(
        pki.auth_roots[-1], [], this_update=NOW - dt.timedelta(days=3), next_update=NOW - dt.timedelta(days=2)
    )
    impostor = devpki.make_root(
        devpki.AUTH_ROOT_NAME, not_before=NOW - dt.timedelta(days=1), not_after=NOW + dt.timedelta(days=9)
    )
    forged = devpki.issue_crl(impostor, [])
    for crls in ([stale], [forged]):
        result = check(hanako_proof, revocation=CrlRevocationChecker(crls))
        assert result.reasons == (Reason.REVOCATION_UNKNOWN,)


# --- the card face belongs to the card that answered (docs/card-face-binding.md) ----------------------


def test_another_persons_genuine_face_without_its_answer_is_not_this_cards(hanako_proof: Proof) -> None:
    """花子's genuine JPKI proof with 太郎's genuine (copied) face: the old code showed 太郎's face as this card's."""
    taro = read_proof("sato_taro")
    spliced = replace(hanako_proof, card_face=taro.card_face, card_face_signature=None)
    result = check(spliced)
    assert result.reasons == (Reason.CARD_FACE_UNPROVEN,)
    assert result.check(CheckName.CARD_FACE).status is CheckStatus.PASSED  # the face itself is genuine
    assert result.card_face is None, "an unbound face yields no attributes to show"


def test_another_persons_face_with_this_cards_answer_names_the_other_card(hanako_proof: Proof) -> None:
    """花子's card answers the challenge, but the face sent is 太郎's: the key in that face did not answer."""
    taro = read_proof("sato_taro")
    result = check(replace(hanako_proof, card_face=taro.card_face))
    assert result.reasons == (Reason.CARD_FACE_OTHER_CARD,)
    assert result.card_face is None


def test_a_face_answer_kept_from_another_challenge_is_a_replay(hanako_proof: Proof) -> None:
    """太郎's face and his card's answer recorded at an earlier read, spliced into 花子's fresh proof."""
    earlier = read_proof("sato_taro", nonce="an-earlier-nonce")
    spliced = replace(
        hanako_proof, card_face=earlier.card_face, card_face_signature=earlier.card_face_signature
    )
    result = check(spliced)
    assert result.reasons == (Reason.CARD_FACE_ANSWER_MISMATCH,)
    assert result.card_face is None


def test_a_face_with_no_issuer_signature_is_not_challenged(hanako_proof: Proof) -> None:
    rogue = read_proof(face_issuer=devpki.new_rsa_key())
    result = check(replace(hanako_proof, card_face=rogue.card_face))
    assert result.check(CheckName.CARD_FACE_KEY).status is CheckStatus.SKIPPED
    assert result.card_face is None
