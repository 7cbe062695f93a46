"""What a card-proof verification reports: each check with its status and a stable reason code, and the trust
anchors it was checked against. Kept apart from the checks themselves (verify.py), which re-exports them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from service.cardproof.revocation import RevocationOutcome

TEST_PKI_ORGANIZATION = "JPKI-TEST"
# A J-LIS card-face issuer key: RSA on the current card, ECDSA P-384 on the next generation.
IssuerKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey


class CheckName(StrEnum):
    """The checks a proof goes through, in order."""

    CERTIFICATE = "certificate"
    SIGNATURE = "signature"
    VALIDITY = "validity"
    KEY_USAGE = "key_usage"
    CHAIN = "chain"
    REVOCATION = "revocation"
    CARD_FACE = "card_face"
    CARD_FACE_KEY = "card_face_key"  # the face's own key answered this challenge: the face is this card's


class CheckStatus(StrEnum):
    """Outcome of one check; `not_checked` is honest absence (e.g. 失効確認未実施), never a pass."""

    PASSED = "passed"
    FAILED = "failed"
    NOT_CHECKED = "not_checked"
    SKIPPED = "skipped"


class Reason(StrEnum):
    """Stable reason codes for failed or unperformed checks."""

    CERT_MALFORMED = "cert_malformed"
    # Neither generation's algorithms: not RSA-2048 / SHA-256 nor ECDSA P-384 / SHA-384 (wrong curve, wrong hash).
    CERT_ALGORITHM_UNSUPPORTED = "cert_algorithm_unsupported"
    # The agent said one generation, the certificate is the other's (docs/card.md §3.5).
    CARD_GENERATION_MISMATCH = "card_generation_mismatch"
    SIGNATURE_INVALID = "signature_invalid"  # not made by this certificate's key (another card, garbage)
    SIGNED_BYTES_MISMATCH = (
        "signed_bytes_mismatch"  # made by this key, over other bytes (other nonce/case/origin)
    )
    CERT_EXPIRED = "cert_expired"
    CERT_NOT_YET_VALID = "cert_not_yet_valid"
    KEY_USAGE_INVALID = "key_usage_invalid"
    CHAIN_UNTRUSTED = "chain_untrusted"
    TRUST_ANCHOR_EXPIRED = "trust_anchor_expired"
    TEST_ROOT_IN_PRODUCTION = "test_root_in_production"
    CERT_REVOKED = "cert_revoked"
    REVOCATION_UNKNOWN = "revocation_unknown"
    REVOCATION_NOT_CHECKED = "revocation_not_checked"
    CARD_FACE_MALFORMED = "card_face_malformed"
    CARD_FACE_TAMPERED = "card_face_tampered"
    # ECDSA (next generation): no configured issuer key verifies it — tampered or another issuer, which ECDSA,
    # unlike RSA's recoverable padding, cannot tell apart.
    CARD_FACE_SIGNATURE_INVALID = "card_face_signature_invalid"
    CARD_FACE_ISSUER_UNKNOWN = "card_face_issuer_unknown"
    CARD_FACE_TEST_ISSUER_IN_PRODUCTION = "card_face_test_issuer_in_production"
    # The card face belongs to the card that signed only if its own key (DF24) answered this challenge:
    CARD_FACE_UNPROVEN = "card_face_unproven"  # no answer sent: the face may be copied from anywhere
    CARD_FACE_OTHER_CARD = "card_face_other_card"  # another key answered: the face is another card's
    CARD_FACE_ANSWER_MISMATCH = "card_face_answer_mismatch"  # its key answered another challenge (replay)


@dataclass(frozen=True)
class CheckResult:
    """One check's outcome; `reason` is set unless it passed or was skipped."""

    check: CheckName
    status: CheckStatus
    reason: Reason | None = None
    detail: str = ""


@dataclass(frozen=True)
class TrustAnchors:
    """Configured JPKI authentication roots (every generation) and J-LIS card-face issuer keys.

    The `test_*` members come from `hub dev-pki`; they are honoured only with `allow_test_roots`.
    A root whose subject says O=JPKI-TEST counts as a test root wherever it is configured.
    """

    auth_roots: tuple[x509.Certificate, ...] = ()
    card_face_issuer_keys: tuple[IssuerKey, ...] = ()
    test_auth_roots: tuple[x509.Certificate, ...] = ()
    test_card_face_issuer_keys: tuple[IssuerKey, ...] = ()

    def is_test_root(self, root: x509.Certificate) -> bool:
        """Whether `root` belongs to a test PKI."""
        organizations = root.subject.get_attributes_for_oid(x509.NameOID.ORGANIZATION_NAME)
        return root in self.test_auth_roots or any(o.value == TEST_PKI_ORGANIZATION for o in organizations)


@dataclass(frozen=True)
class CardFaceEvidence:
    """The verified card face's attributes, for the officer's view (kept apart from the case row by the hub).

    Present only when the issuer's signature holds and the face's own key answered this proof's challenge.
    """

    sha256: str
    birth_date: str
    sex: str  # empty on the next-generation card, whose face shows no sex
    expiry_unsigned: str  # DF29 lies outside the issuer's signature: as printed, never verified
    name_image: bytes
    address_image: bytes
    photo_jp2: bytes


@dataclass(frozen=True)
class ProofResult:
    """Every check with its status and reason, plus the identifiers the hub binds to the case."""

    checks: tuple[CheckResult, ...]
    revocation: RevocationOutcome
    certificate_serial: int | None = None
    certificate_sha256: str | None = None
    trust_anchor_sha256: str | None = None
    trust_anchor_is_test: bool = False
    card_face: CardFaceEvidence | None = None
    # The generation the certificate's algorithms say (CardGeneration value), None when it could not be read.
    card_generation: str | None = None
    reasons: tuple[Reason, ...] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(
            self,
            "reasons",
            tuple(c.reason for c in self.checks if c.status is CheckStatus.FAILED and c.reason is not None),
        )

    @property
    def ok(self) -> bool:
        """True when no check failed (a revocation `not_checked` is not a failure, but is shown)."""
        return not self.reasons

    def check(self, name: CheckName) -> CheckResult:
        """The result of one named check."""
        return next(c for c in self.checks if c.check is name)

    @property
    def revocation_label(self) -> str:
        """What the evidence shows for revocation, e.g. 失効確認未実施 (revocation not checked)."""
        return self.revocation.label
