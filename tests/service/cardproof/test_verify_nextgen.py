"""The hub verifies next-generation card proofs (ECDSA P-384 / SHA-384) and faces, and refuses every near miss.

docs/card.md §3.5: the certificate's own algorithms decide the generation; another curve or hash is refused as
`cert_algorithm_unsupported`, a disagreement with the agent as `card_generation_mismatch`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, utils

from clerk_agent.card.apdu import encode_tlv, iter_tlvs
from clerk_agent.card.protocol import MyNumberCard, possession_message
from clerk_agent.card.reading import PossessionChallenge, read_at_counter
from clerk_agent.card.virtual.build import person
from clerk_agent.card.virtual.nextgen import build_next_card_face
from clerk_agent.card.virtual.signing import ecdsa_p384_sign_raw
from clerk_agent.card.virtual.transport import InProcessTransport
from service.cardproof import devpki
from service.cardproof.cardface import CardFaceError, parse_card_face
from service.cardproof.trust import load_trust_anchors
from service.cardproof.verify import (
    CheckName,
    CheckStatus,
    ProofResult,
    Reason,
    TrustAnchors,
    generation_of,
    signed_bytes_for,
    verify_card_proof,
)
from service.wire.card_profiles import CardGeneration
from tests.plugins.cardkit import DER, card_face_code, make_card, shared_pki

ORIGIN = "https://hub.madoguchi.test"
NONCE = "bmV4dC1nZW5lcmF0aW9uLW5vbmNl"
CASE = "case_next"
NOW = dt.datetime.now(dt.UTC)
NEXT = CardGeneration.GEN2028


@dataclass(frozen=True)
class Proof:
    certificate: bytes
    signature: bytes
    card_face: bytes
    card_face_signature: bytes


def read_proof(person_key: str = "yamada_hanako", *, nonce: str = NONCE) -> Proof:
    """A next-generation card's proof, read by the agent's own code."""
    card = MyNumberCard(InProcessTransport(make_card(person_key, generation=NEXT)))
    read = read_at_counter(
        card,
        auth_pin=bytearray(person(person_key).auth_pin.encode()),
        code_b=bytearray(card_face_code(person_key, NEXT).encode()),
        challenge=PossessionChallenge(ORIGIN, nonce, CASE),
    )
    assert read.generation is NEXT
    assert read.card_face is not None
    assert read.card_face_signature is not None
    return Proof(read.auth_certificate, read.signature, read.card_face.raw, read.card_face_signature)


def trust() -> TrustAnchors:
    pki = shared_pki()
    assert pki.next_auth_root is not None
    assert pki.next_card_face_issuer is not None
    return TrustAnchors(
        test_auth_roots=(*(r.certificate for r in pki.auth_roots), pki.next_auth_root.certificate),
        test_card_face_issuer_keys=(
            pki.card_face_issuer.public_key(),
            pki.next_card_face_issuer.public_key(),
        ),
    )


def verify(
    proof: Proof,
    *,
    certificate: bytes | None = None,
    signature: bytes | None = None,
    card_face: bytes | None = None,
    card_face_signature: bytes | None = None,
    reported: CardGeneration | None = NEXT,
    anchors: TrustAnchors | None = None,
) -> ProofResult:
    return verify_card_proof(
        certificate_der=certificate or proof.certificate,
        signature=signature or proof.signature,
        signed_bytes=signed_bytes_for(ORIGIN, NONCE, CASE),
        trust=anchors or trust(),
        at=NOW,
        allow_test_roots=True,
        card_face=card_face or proof.card_face,
        card_face_signature=card_face_signature or proof.card_face_signature,
        reported_generation=reported,
    )


def failed(result: ProofResult, check: CheckName) -> Reason | None:
    outcome = result.check(check)
    assert outcome.status is CheckStatus.FAILED, result.checks
    return outcome.reason


def p384_answer(key: ec.EllipticCurvePrivateKey, message: bytes, hash_: hashes.HashAlgorithm) -> bytes:
    """r ‖ s over `hash_`(message), as a card answering with the wrong hash would."""
    r, s = utils.decode_dss_signature(key.sign(message, ec.ECDSA(hash_)))
    return r.to_bytes(48, "big") + s.to_bytes(48, "big")


@pytest.fixture(scope="module")
def proof() -> Proof:
    return read_proof()


def test_a_next_generation_proof_verifies_with_its_face(proof: Proof) -> None:
    result = verify(proof)
    assert result.ok, result.checks
    assert result.card_generation == "gen2028"
    assert len(proof.signature) == 96  # r ‖ s, as the card answers
    assert result.check(CheckName.CARD_FACE).status is CheckStatus.PASSED
    assert result.check(CheckName.CARD_FACE_KEY).status is CheckStatus.PASSED
    assert result.card_face is not None
    assert result.card_face.sex == ""  # the next card face shows no sex
    assert result.card_face.birth_date == "19850412"
    assert result.revocation_label.startswith("失効確認未実施")
    # The agent need not say: the certificate decides.
    assert verify(proof, reported=None).ok


def test_a_signature_over_other_bytes_or_tampered_fails(proof: Proof) -> None:
    other = read_proof(nonce="another-nonce")
    # ECDSA recovers nothing: "this key over other bytes" reads as an invalid signature (docs/card.md §3.5).
    assert failed(verify(proof, signature=other.signature), CheckName.SIGNATURE) is Reason.SIGNATURE_INVALID
    flipped = bytearray(proof.signature)
    flipped[10] ^= 0x01
    assert failed(verify(proof, signature=bytes(flipped)), CheckName.SIGNATURE) is Reason.SIGNATURE_INVALID
    assert (
        failed(verify(proof, signature=proof.signature[:95]), CheckName.SIGNATURE) is Reason.SIGNATURE_INVALID
    )
    # 佐藤's card (another P-384 key) signing this very challenge is not 花子's proof.
    taro = read_proof("sato_taro")
    assert failed(verify(proof, signature=taro.signature), CheckName.SIGNATURE) is Reason.SIGNATURE_INVALID


def test_a_sha256_signature_from_the_p384_key_is_refused() -> None:
    issued = devpki.issue_next_card(shared_pki())
    assert isinstance(issued.auth_key, ec.EllipticCurvePrivateKey)
    message = signed_bytes_for(ORIGIN, NONCE, CASE)
    base = read_proof()
    proof = Proof(issued.auth_certificate.public_bytes(DER), b"", base.card_face, base.card_face_signature)
    good = p384_answer(issued.auth_key, message, hashes.SHA384())
    assert verify(proof, signature=good).check(CheckName.SIGNATURE).status is CheckStatus.PASSED
    sha256 = p384_answer(issued.auth_key, message, hashes.SHA256())
    assert failed(verify(proof, signature=sha256), CheckName.SIGNATURE) is Reason.SIGNATURE_INVALID


def test_a_certificate_on_another_curve_is_refused(proof: Proof) -> None:
    pki = shared_pki()
    assert pki.next_auth_root is not None
    p256 = ec.generate_private_key(ec.SECP256R1())
    cert = devpki.issue_leaf(
        pki.next_auth_root,
        p256.public_key(),
        not_before=NOW - dt.timedelta(days=1),
        not_after=NOW + dt.timedelta(days=9),
    )
    result = verify(proof, certificate=cert.public_bytes(DER))
    assert failed(result, CheckName.CERTIFICATE) is Reason.CERT_ALGORITHM_UNSUPPORTED
    assert "secp256r1" in result.check(CheckName.CERTIFICATE).detail
    assert result.check(CheckName.SIGNATURE).status is CheckStatus.SKIPPED
    assert not result.ok


def test_a_p384_certificate_signed_with_sha256_is_refused(proof: Proof) -> None:
    issued = devpki.issue_next_card(shared_pki(), algorithm=hashes.SHA256())
    cert = issued.auth_certificate
    with pytest.raises(ValueError, match="sha384"):
        generation_of(cert)
    result = verify(proof, certificate=cert.public_bytes(DER))
    assert failed(result, CheckName.CERTIFICATE) is Reason.CERT_ALGORITHM_UNSUPPORTED


def test_the_generation_the_agent_reports_must_be_the_certificates(proof: Proof) -> None:
    result = verify(proof, reported=CardGeneration.GEN2016)
    assert failed(result, CheckName.CERTIFICATE) is Reason.CARD_GENERATION_MISMATCH
    assert result.card_generation == "gen2028"


def test_a_face_of_the_other_generation_is_refused(proof: Proof) -> None:
    # A current card's genuine face and its own key's answer, spliced into a next-generation proof.
    current = MyNumberCard(InProcessTransport(make_card("yamada_hanako")))
    holder = person("yamada_hanako")
    current.detect()
    current.verify_card_face_code(bytearray(holder.code_b.encode()))
    face = current.read_card_face().raw
    answer = current.answer_card_face_challenge(possession_message(ORIGIN, NONCE, CASE))
    result = verify(proof, card_face=face, card_face_signature=answer)
    assert failed(result, CheckName.CARD_FACE) is Reason.CARD_GENERATION_MISMATCH
    assert result.card_face is None


def test_a_tampered_face_is_refused(proof: Proof) -> None:
    # Change one byte of the signed birth date (DF22): the issuer's ECDSA signature no longer verifies.
    start = proof.card_face.index(b"\xdf\x22")
    tampered = bytearray(proof.card_face)
    tampered[start + 3] ^= 0x01
    result = verify(proof, card_face=bytes(tampered))
    assert failed(result, CheckName.CARD_FACE) is Reason.CARD_FACE_SIGNATURE_INVALID
    assert result.check(CheckName.CARD_FACE_KEY).status is CheckStatus.SKIPPED


def test_a_face_from_an_unknown_issuer_and_another_cards_face_are_refused(proof: Proof) -> None:
    rogue = ec.generate_private_key(ec.SECP384R1())
    card_key = ec.generate_private_key(ec.SECP384R1())
    forged = build_next_card_face(
        person("yamada_hanako"), card_key=card_key.public_key(), issuer_key=rogue, photo=b"x"
    )
    message = possession_message(ORIGIN, NONCE, CASE)
    answer = ecdsa_p384_sign_raw(card_key, hashlib.sha384(message).digest())
    result = verify(proof, card_face=forged, card_face_signature=answer)
    assert failed(result, CheckName.CARD_FACE) is Reason.CARD_FACE_SIGNATURE_INVALID
    # 佐藤's genuine face with 花子's face key answering: the face is another card's.
    taro = read_proof("sato_taro")
    other = verify(proof, card_face=taro.card_face)
    assert failed(other, CheckName.CARD_FACE_KEY) is Reason.CARD_FACE_OTHER_CARD
    # 佐藤's face with his own key's answer to another read's challenge: ECDSA cannot tell it from another key.
    replay = read_proof("sato_taro", nonce="elsewhere")
    stale = verify(proof, card_face=replay.card_face, card_face_signature=replay.card_face_signature)
    assert failed(stale, CheckName.CARD_FACE_KEY) is Reason.CARD_FACE_OTHER_CARD


def test_the_face_parser_keeps_the_layouts_apart(proof: Proof) -> None:
    record = parse_card_face(proof.card_face)
    assert isinstance(record.card_key, ec.EllipticCurvePublicKey)
    assert record.sex == ""
    # A sex field inside a P-384 face is a forged layout.
    body = iter_tlvs(proof.card_face)[0].value
    with pytest.raises(CardFaceError, match="DF23"):
        parse_card_face(encode_tlv(0xFF20, body + encode_tlv(0xDF23, b"2")))


def test_a_next_generation_proof_without_test_roots_is_a_test_root_in_production(proof: Proof) -> None:
    result = verify_card_proof(
        certificate_der=proof.certificate,
        signature=proof.signature,
        signed_bytes=signed_bytes_for(ORIGIN, NONCE, CASE),
        trust=trust(),
        at=NOW,
        card_face=proof.card_face,
        card_face_signature=proof.card_face_signature,
    )
    assert failed(result, CheckName.CHAIN) is Reason.TEST_ROOT_IN_PRODUCTION
    assert failed(result, CheckName.CARD_FACE) is Reason.CARD_FACE_TEST_ISSUER_IN_PRODUCTION


def test_production_anchors_take_p384_roots_and_issuer_keys_and_refuse_other_curves(tmp_path: Path) -> None:
    pki = shared_pki()
    assert pki.next_auth_root is not None
    assert pki.next_card_face_issuer is not None
    pem = serialization.Encoding.PEM
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    root = tmp_path / "next-root.pem"
    root.write_bytes(pki.next_auth_root.certificate.public_bytes(pem))
    issuer = tmp_path / "next-issuer.pem"
    issuer.write_bytes(pki.next_card_face_issuer.public_key().public_bytes(pem, spki))
    anchors = load_trust_anchors([root], [issuer])
    assert isinstance(anchors.card_face_issuer_keys[0], ec.EllipticCurvePublicKey)
    p256 = tmp_path / "p256.pem"
    p256.write_bytes(ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(pem, spki))
    with pytest.raises(ValueError, match="P-384"):
        load_trust_anchors([root], [p256])
