"""Trust checks the Japanese documents' verifiers share: issuer by signature, validity window, CRL lookup.

The licence and the residence card sign their data with plain RSA PKCS#1 v1.5 over SHA-256 (no CMS): the
certificate of the signing key is on the residence card and, for the licence, configured at the hub (the chip
names it by subject key identifier). The issuing agency's root, and for the licence its signer certificates or
published keys, are the anchors (docs/id-documents.md §Japanese).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes

from service.idchips.anchors import ChipAnchors
from service.wire.idchips import ChipKind, ChipRefusal


class Refused(Exception):
    """One failed check: its name, the refusal it stands for, a technical detail without personal data."""

    def __init__(self, check: str, reason: ChipRefusal, detail: str) -> None:
        super().__init__(detail)
        self.check, self.reason, self.detail = check, reason, detail


def rsa_sha256_holds(key: PublicKeyTypes, signature: bytes, data: bytes) -> bool:
    """Whether `signature` is an RSA PKCS#1 v1.5 SHA-256 signature of `data` under `key`."""
    if not isinstance(key, rsa.RSAPublicKey):
        return False
    try:
        key.verify(signature, data, padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, ValueError):
        return False
    return True


def is_ca(certificate: x509.Certificate) -> bool:
    """Whether the certificate says it is a CA (basicConstraints cA)."""
    try:
        return bool(certificate.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False


def anchor_certificates(
    anchors: ChipAnchors, kinds: Iterable[ChipKind]
) -> list[tuple[x509.Certificate, bool]]:
    """Every configured certificate for these kinds, each with whether it is a test anchor, without repeats."""
    seen: set[bytes] = set()
    found: list[tuple[x509.Certificate, bool]] = []
    for kind in kinds:
        for certificate, is_test in anchors.certificates(kind):
            fingerprint = certificate.fingerprint(hashes.SHA256())
            if fingerprint not in seen:
                seen.add(fingerprint)
                found.append((certificate, is_test))
    return found


def issuing_root(
    signer: x509.Certificate, anchors: ChipAnchors, kinds: Iterable[ChipKind]
) -> tuple[x509.Certificate, bool]:
    """The configured CA certificate that issued `signer` (by signature), else Refused(unknown_issuer)."""
    for root, is_test in anchor_certificates(anchors, kinds):
        if not is_ca(root):
            continue
        try:
            signer.verify_directly_issued_by(root)
        except (ValueError, TypeError, InvalidSignature):
            continue
        return root, is_test
    raise Refused("issuer_chain", ChipRefusal.unknown_issuer, "no configured issuer root signed the signer")


def within(certificate: x509.Certificate, at: dt.datetime) -> bool:
    """Whether `at` lies in the certificate's validity period."""
    return certificate.not_valid_before_utc <= at <= certificate.not_valid_after_utc


def revocation(
    signer: x509.Certificate,
    root: x509.Certificate,
    anchors: ChipAnchors,
    kinds: Iterable[ChipKind],
    at: dt.datetime,
) -> str:
    """Which CRL evidence there is: a current CRL of the root ("crl"), only stale ones, or none configured.

    Refused when a CRL of the root lists the signer; as for passports, a listing on a stale CRL still counts, and
    an empty stale CRL proves nothing about today (docs/id-documents.md §Passport).
    """
    checked, stale = False, False
    for kind in kinds:
        for crl in anchors.crls(kind):
            if crl.issuer != root.subject or not crl.is_signature_valid(root.public_key()):  # type: ignore[arg-type]
                continue
            if crl.get_revoked_certificate_by_serial_number(signer.serial_number) is not None:
                raise Refused(
                    "signer_revocation", ChipRefusal.signer_revoked, "the issuer's CRL lists the signer"
                )
            if crl.next_update_utc is not None and crl.next_update_utc < at:
                stale = True
                continue
            checked = True
    return "crl" if checked else ("crl_stale" if stale else "no_crl_configured")


def tokyo_today(now: dt.datetime) -> dt.date:
    """The calendar day in Japan at `now`: a document's last valid day ends at midnight JST."""
    return now.astimezone(dt.timezone(dt.timedelta(hours=9))).date()
