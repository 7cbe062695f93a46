"""Verifies a card-possession proof from the clerk agent (Web eID pattern) and the card-face record.

The caller rebuilds the signed bytes — SHA-256(origin) ‖ SHA-256(nonce) ‖ case id — from the hub's own state
and passes them in; nothing the agent claims about them is used. The same bytes are signed twice in one card
session: by the JPKI authentication key (the PIN holder's card) and by the card-face AP's own key, whose public
part is inside the issuer-signed face (DF24). Only the second ties the face to the card that answered; a face
without it is a copy from anywhere (docs/card-face-binding.md). Every check is run and reported with a
stable reason code, so the evidence record can show exactly what passed and what did not.

Both card generations are verified (docs/card.md §3.5): the certificate's own algorithms say which one was read —
RSA-2048 with SHA-256 (the current card) or ECDSA P-384 with SHA-384 (the next generation, whose card answers
r ‖ s) — and anything else is refused as `cert_algorithm_unsupported`. The generation the agent reported must agree.
"""

from __future__ import annotations

import datetime as dt
import hashlib

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils

from service.cardproof.cardface import CardFaceError, CardFaceRecord, parse_card_face
from service.cardproof.results import (
    CardFaceEvidence,
    CheckName,
    CheckResult,
    CheckStatus,
    ProofResult,
    Reason,
    TrustAnchors,
)
from service.cardproof.revocation import (
    NOT_CHECKED_LABEL,
    NotConfiguredChecker,
    RevocationChecker,
    RevocationOutcome,
    RevocationStatus,
)
from service.wire.card_profiles import CardGeneration

__all__ = [
    "CardFaceEvidence",
    "CheckName",
    "CheckResult",
    "CheckStatus",
    "ProofResult",
    "Reason",
    "TrustAnchors",
    "signed_bytes_for",
    "verify_card_proof",
]

_SHA256_ALGORITHM_ID = bytes.fromhex("300d06096086480165030402010500")
_P384_COORDINATE = 48

CardPublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey


class UnsupportedAlgorithm(ValueError):
    """A well-formed certificate whose key or hash fits no card generation (another curve, another hash)."""


def generation_of(cert: x509.Certificate) -> CardGeneration:
    """Which card generation a JPKI authentication certificate belongs to, by its key and its signature's hash.

    UnsupportedAlgorithm names what fits neither: RSA-2048+ / SHA-256 is the current card, P-384 / SHA-384 the next.
    """
    key = cert.public_key()
    hash_name = cert.signature_hash_algorithm.name if cert.signature_hash_algorithm else "none"
    if isinstance(key, rsa.RSAPublicKey) and key.key_size >= 2048:
        generation, wanted = CardGeneration.GEN2016, "sha256"
    elif isinstance(key, ec.EllipticCurvePublicKey) and isinstance(key.curve, ec.SECP384R1):
        generation, wanted = CardGeneration.GEN2028, "sha384"
    else:
        curve = f" on {key.curve.name}" if isinstance(key, ec.EllipticCurvePublicKey) else ""
        raise UnsupportedAlgorithm(f"a {type(key).__name__}{curve} key belongs to no card generation")
    if hash_name != wanted:
        raise UnsupportedAlgorithm(
            f"{generation.value} certificates are signed with {wanted}, this one with {hash_name}"
        )
    return generation


def _ecdsa_signed_by(key: ec.EllipticCurvePublicKey, signature: bytes, signed_bytes: bytes) -> bool:
    """Whether `key` made `signature` (r ‖ s as the card answers) over SHA-384 of `signed_bytes`."""
    if len(signature) != 2 * _P384_COORDINATE:
        return False
    der = utils.encode_dss_signature(
        int.from_bytes(signature[:_P384_COORDINATE], "big"),
        int.from_bytes(signature[_P384_COORDINATE:], "big"),
    )
    try:
        key.verify(der, signed_bytes, ec.ECDSA(hashes.SHA384()))
    except InvalidSignature:
        return False
    return True


def signed_bytes_for(origin: str, nonce: str, case_id: str) -> bytes:
    """The bytes the card must have signed, rebuilt from hub state: SHA-256(origin) ‖ SHA-256(nonce) ‖ case id."""
    return (
        hashlib.sha256(origin.encode()).digest() + hashlib.sha256(nonce.encode()).digest() + case_id.encode()
    )


def _fingerprint(cert: x509.Certificate) -> str:
    return cert.fingerprint(hashes.SHA256()).hex()


def _signed_by(public_key: CardPublicKey, signature: bytes, signed_bytes: bytes) -> int | None:
    """0 when `public_key` signed `signed_bytes`; the recovered block's size when it signed other bytes; else None.

    ECDSA recovers nothing: a P-384 signature over other bytes reads as None, like another key's.
    """
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        return 0 if _ecdsa_signed_by(public_key, signature, signed_bytes) else None
    try:
        public_key.verify(signature, signed_bytes, padding.PKCS1v15(), hashes.SHA256())
        return 0
    except InvalidSignature:
        pass
    # Tell "another key signed this" from "this key signed other bytes": only the latter recovers a DigestInfo.
    try:
        return len(public_key.recover_data_from_signature(signature, padding.PKCS1v15(), None))
    except (InvalidSignature, ValueError):
        return None


def _check_signature(public_key: CardPublicKey, signature: bytes, signed_bytes: bytes) -> CheckResult:
    recovered = _signed_by(public_key, signature, signed_bytes)
    if recovered == 0:
        return CheckResult(CheckName.SIGNATURE, CheckStatus.PASSED)
    if recovered is None:
        return CheckResult(
            CheckName.SIGNATURE,
            CheckStatus.FAILED,
            Reason.SIGNATURE_INVALID,
            "not made by this certificate's key"
            + (
                " (or over other bytes: ECDSA cannot tell)"
                if isinstance(public_key, ec.EllipticCurvePublicKey)
                else ""
            ),
        )
    return CheckResult(
        CheckName.SIGNATURE,
        CheckStatus.FAILED,
        Reason.SIGNED_BYTES_MISMATCH,
        f"made by this card over other bytes (recovered {recovered}-byte block)",
    )


def _check_card_face_key(record: CardFaceRecord, answer: bytes | None, signed_bytes: bytes) -> CheckResult:
    """Did the key written in this (issuer-signed) face answer this proof's challenge?"""
    if answer is None:
        return CheckResult(
            CheckName.CARD_FACE_KEY,
            CheckStatus.FAILED,
            Reason.CARD_FACE_UNPROVEN,
            "no answer from the card-face key: the face is not shown to come from the card that signed",
        )
    recovered = _signed_by(record.card_key, answer, signed_bytes)
    if recovered == 0:
        return CheckResult(CheckName.CARD_FACE_KEY, CheckStatus.PASSED)
    if recovered is None:
        return CheckResult(
            CheckName.CARD_FACE_KEY,
            CheckStatus.FAILED,
            Reason.CARD_FACE_OTHER_CARD,
            "the answer was not made by the key in this card face: the face belongs to another card",
        )
    return CheckResult(
        CheckName.CARD_FACE_KEY,
        CheckStatus.FAILED,
        Reason.CARD_FACE_ANSWER_MISMATCH,
        "the card-face key answered another challenge, not this one",
    )


def _check_validity(cert: x509.Certificate, at: dt.datetime) -> CheckResult:
    if at < cert.not_valid_before_utc:
        return CheckResult(
            CheckName.VALIDITY,
            CheckStatus.FAILED,
            Reason.CERT_NOT_YET_VALID,
            f"valid from {cert.not_valid_before_utc.isoformat()}",
        )
    if at > cert.not_valid_after_utc:
        return CheckResult(
            CheckName.VALIDITY,
            CheckStatus.FAILED,
            Reason.CERT_EXPIRED,
            f"expired {cert.not_valid_after_utc.isoformat()}",
        )
    return CheckResult(CheckName.VALIDITY, CheckStatus.PASSED)


def _check_key_usage(cert: x509.Certificate) -> CheckResult:
    try:
        usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
        constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound as exc:
        return CheckResult(CheckName.KEY_USAGE, CheckStatus.FAILED, Reason.KEY_USAGE_INVALID, str(exc))
    if not usage.digital_signature or usage.key_cert_sign or constraints.ca:
        return CheckResult(
            CheckName.KEY_USAGE,
            CheckStatus.FAILED,
            Reason.KEY_USAGE_INVALID,
            "needs digitalSignature on an end entity",
        )
    return CheckResult(CheckName.KEY_USAGE, CheckStatus.PASSED)


def _find_issuer(
    cert: x509.Certificate, trust: TrustAnchors, at: dt.datetime
) -> tuple[CheckResult, x509.Certificate | None]:
    # Every generation of J-LIS roots shares one DN, so the name narrows nothing: try each root's key.
    candidates = [*trust.auth_roots, *trust.test_auth_roots]
    signers: list[x509.Certificate] = []
    for root in candidates:
        try:
            cert.verify_directly_issued_by(root)
        except (ValueError, TypeError, InvalidSignature):
            continue
        signers.append(root)
    current = [r for r in signers if r.not_valid_before_utc <= at <= r.not_valid_after_utc]
    if not signers:
        return CheckResult(
            CheckName.CHAIN, CheckStatus.FAILED, Reason.CHAIN_UNTRUSTED, "no configured root signed it"
        ), None
    if not current:
        return CheckResult(
            CheckName.CHAIN,
            CheckStatus.FAILED,
            Reason.TRUST_ANCHOR_EXPIRED,
            "its root is outside its validity",
        ), signers[0]
    return CheckResult(CheckName.CHAIN, CheckStatus.PASSED), current[0]


def _card_face_ecdsa_bytes(record: CardFaceRecord) -> bytes:
    # What a next-generation issuer signs with ECDSA P-384 / SHA-384: the three SHA-384 group digests.
    return b"".join(hashlib.sha384(segment).digest() for segment in record.signed_segments)


def _card_face_digest_info(record: CardFaceRecord) -> bytes:
    digests = b"".join(hashlib.sha256(segment).digest() for segment in record.signed_segments)
    body = _SHA256_ALGORITHM_ID + b"\x04" + bytes((len(digests),)) + digests
    return b"\x30" + bytes((len(body),)) + body


def _check_card_face(
    raw: bytes,
    answer: bytes | None,
    signed_bytes: bytes,
    trust: TrustAnchors,
    *,
    allow_test_roots: bool,
    generation: CardGeneration | None = None,
) -> tuple[CheckResult, CheckResult, CardFaceEvidence | None]:
    """The issuer check, the card-face key check, and the face's evidence when both hold.

    `generation` is the certificate's: a face of the other generation cannot belong to the card that signed.
    """
    face_check, record, evidence = _check_card_face_issuer(raw, trust, allow_test_roots=allow_test_roots)
    if record is not None and generation is not None:
        face_generation = (
            CardGeneration.GEN2028
            if isinstance(record.card_key, ec.EllipticCurvePublicKey)
            else CardGeneration.GEN2016
        )
        if face_generation is not generation:
            face_check = CheckResult(
                CheckName.CARD_FACE,
                CheckStatus.FAILED,
                Reason.CARD_GENERATION_MISMATCH,
                f"a {face_generation.value} card face with a {generation.value} certificate",
            )
            record = evidence = None
    if record is None:
        # Without the issuer's signature DF24 is just bytes anyone wrote: nothing to challenge.
        skipped = CheckResult(CheckName.CARD_FACE_KEY, CheckStatus.SKIPPED, detail="card face not verified")
        return face_check, skipped, None
    key_check = _check_card_face_key(record, answer, signed_bytes)
    return face_check, key_check, evidence if key_check.status is CheckStatus.PASSED else None


def _check_card_face_issuer(
    raw: bytes, trust: TrustAnchors, *, allow_test_roots: bool
) -> tuple[CheckResult, CardFaceRecord | None, CardFaceEvidence | None]:
    try:
        record = parse_card_face(raw)
    except CardFaceError as exc:
        return (
            CheckResult(CheckName.CARD_FACE, CheckStatus.FAILED, Reason.CARD_FACE_MALFORMED, str(exc)),
            None,
            None,
        )
    next_gen = isinstance(record.card_key, ec.EllipticCurvePublicKey)
    expected = _card_face_ecdsa_bytes(record) if next_gen else _card_face_digest_info(record)
    recovered_by_a_key = False
    for key, is_test in [
        *((k, False) for k in trust.card_face_issuer_keys),
        *((k, True) for k in trust.test_card_face_issuer_keys),
    ]:
        if isinstance(key, ec.EllipticCurvePublicKey) != next_gen:
            continue  # each generation's face is signed by its own kind of issuer key
        if isinstance(key, ec.EllipticCurvePublicKey):
            recovered_by_a_key = True
            if not _ecdsa_signed_by(key, record.signature, expected):
                continue
        else:
            try:
                recovered = key.recover_data_from_signature(record.signature, padding.PKCS1v15(), None)
            except (InvalidSignature, ValueError):
                continue
            recovered_by_a_key = True
            if recovered != expected:
                continue
        evidence = CardFaceEvidence(
            sha256=hashlib.sha256(raw).hexdigest(),
            birth_date=record.birth_date,
            sex=record.sex,
            expiry_unsigned=record.expiry_unsigned,
            name_image=record.name_image,
            address_image=record.address_image,
            photo_jp2=record.photo_jp2,
        )
        if is_test and not allow_test_roots:
            return (
                CheckResult(
                    CheckName.CARD_FACE,
                    CheckStatus.FAILED,
                    Reason.CARD_FACE_TEST_ISSUER_IN_PRODUCTION,
                    "signed by the test card-face issuer",
                ),
                record,
                evidence,
            )
        return CheckResult(CheckName.CARD_FACE, CheckStatus.PASSED), record, evidence
    if recovered_by_a_key and next_gen:
        return (
            CheckResult(
                CheckName.CARD_FACE,
                CheckStatus.FAILED,
                Reason.CARD_FACE_SIGNATURE_INVALID,
                "no configured P-384 issuer key verifies it: tampered, or another issuer (ECDSA cannot tell)",
            ),
            None,
            None,
        )
    if recovered_by_a_key:
        return (
            CheckResult(
                CheckName.CARD_FACE,
                CheckStatus.FAILED,
                Reason.CARD_FACE_TAMPERED,
                "signed fields do not match the signature",
            ),
            None,
            None,
        )
    return (
        CheckResult(
            CheckName.CARD_FACE,
            CheckStatus.FAILED,
            Reason.CARD_FACE_ISSUER_UNKNOWN,
            "no configured issuer key signed it",
        ),
        None,
        None,
    )


def verify_card_proof(
    *,
    certificate_der: bytes,
    signature: bytes,
    signed_bytes: bytes,
    trust: TrustAnchors,
    at: dt.datetime,
    allow_test_roots: bool = False,
    revocation: RevocationChecker | None = None,
    card_face: bytes | None = None,
    card_face_signature: bytes | None = None,
    reported_generation: CardGeneration | str | None = None,
) -> ProofResult:
    """Run every check on a proof; `signed_bytes` must come from `signed_bytes_for` on hub state.

    `card_face_signature` is the card-face AP's answer over the same `signed_bytes`. `reported_generation` is what
    the agent detected; the certificate decides, and a disagreement fails the certificate check.
    """
    if at.tzinfo is None:
        raise ValueError("`at` must be timezone-aware")
    checker = revocation or NotConfiguredChecker()
    checks: list[CheckResult] = []
    generation: CardGeneration | None = None
    mismatch: str | None = None
    failed: CheckResult | None = None
    try:
        cert = x509.load_der_x509_certificate(certificate_der)
        public_key = cert.public_key()
        generation = generation_of(cert)
        if reported_generation is not None and CardGeneration(reported_generation) is not generation:
            mismatch = f"the agent reported {CardGeneration(reported_generation).value}, the certificate is {generation.value}"
    except UnsupportedAlgorithm as exc:
        failed = CheckResult(
            CheckName.CERTIFICATE, CheckStatus.FAILED, Reason.CERT_ALGORITHM_UNSUPPORTED, str(exc)
        )
    except ValueError as exc:
        failed = CheckResult(CheckName.CERTIFICATE, CheckStatus.FAILED, Reason.CERT_MALFORMED, str(exc))
    if card_face is not None:
        face_check, face_key_check, face = _check_card_face(
            card_face,
            card_face_signature,
            signed_bytes,
            trust,
            allow_test_roots=allow_test_roots,
            generation=generation,
        )
    else:
        face_check = CheckResult(CheckName.CARD_FACE, CheckStatus.SKIPPED, detail="no card face supplied")
        face_key_check = CheckResult(
            CheckName.CARD_FACE_KEY, CheckStatus.SKIPPED, detail="no card face supplied"
        )
        face = None
    if failed is not None or mismatch is not None:
        checks.append(
            failed
            or CheckResult(
                CheckName.CERTIFICATE, CheckStatus.FAILED, Reason.CARD_GENERATION_MISMATCH, mismatch or ""
            )
        )
        skipped = RevocationOutcome(RevocationStatus.NOT_CHECKED, NOT_CHECKED_LABEL, "certificate unreadable")
        for name in (
            CheckName.SIGNATURE,
            CheckName.VALIDITY,
            CheckName.KEY_USAGE,
            CheckName.CHAIN,
            CheckName.REVOCATION,
        ):
            checks.append(CheckResult(name, CheckStatus.SKIPPED, detail="certificate unreadable"))
        return ProofResult(
            checks=(*checks, face_check, face_key_check),
            revocation=skipped,
            card_face=face,
            card_generation=generation.value if generation else None,
        )
    if not isinstance(
        public_key, rsa.RSAPublicKey | ec.EllipticCurvePublicKey
    ):  # generation_of refused the rest
        raise TypeError(f"unexpected {type(public_key).__name__}")
    checks.append(CheckResult(CheckName.CERTIFICATE, CheckStatus.PASSED))
    checks.append(_check_signature(public_key, signature, signed_bytes))
    checks.append(_check_validity(cert, at))
    checks.append(_check_key_usage(cert))
    chain_check, root = _find_issuer(cert, trust, at)
    is_test = root is not None and trust.is_test_root(root)
    if chain_check.status is CheckStatus.PASSED and is_test and not allow_test_roots:
        chain_check = CheckResult(
            CheckName.CHAIN,
            CheckStatus.FAILED,
            Reason.TEST_ROOT_IN_PRODUCTION,
            "chains to a test (JPKI-TEST) root",
        )
    checks.append(chain_check)
    if root is not None and chain_check.status is CheckStatus.PASSED:
        outcome = checker.check(cert, root, at)
    else:
        outcome = RevocationOutcome(RevocationStatus.NOT_CHECKED, NOT_CHECKED_LABEL, "no trusted issuer")
    checks.append(_revocation_check(outcome))
    checks.append(face_check)
    checks.append(face_key_check)
    return ProofResult(
        checks=tuple(checks),
        revocation=outcome,
        certificate_serial=cert.serial_number,
        certificate_sha256=_fingerprint(cert),
        trust_anchor_sha256=_fingerprint(root) if root is not None else None,
        trust_anchor_is_test=is_test,
        card_face=face,
        card_generation=generation.value if generation else None,
    )


def _revocation_check(outcome: RevocationOutcome) -> CheckResult:
    if outcome.status is RevocationStatus.GOOD:
        return CheckResult(CheckName.REVOCATION, CheckStatus.PASSED, detail=outcome.source)
    if outcome.status is RevocationStatus.REVOKED:
        return CheckResult(CheckName.REVOCATION, CheckStatus.FAILED, Reason.CERT_REVOKED, outcome.detail)
    if outcome.status is RevocationStatus.UNKNOWN:
        # A configured checker that cannot answer fails closed; only "none configured" is a non-failure.
        return CheckResult(
            CheckName.REVOCATION, CheckStatus.FAILED, Reason.REVOCATION_UNKNOWN, outcome.detail
        )
    return CheckResult(
        CheckName.REVOCATION, CheckStatus.NOT_CHECKED, Reason.REVOCATION_NOT_CHECKED, outcome.label
    )
