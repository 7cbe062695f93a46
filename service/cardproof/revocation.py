"""Pluggable revocation checking. JPKI gives CRL/OCSP only to certified verifiers (公的個人認証法 §17), so the
default is an honest "not checked" — 失効確認未実施 — rather than a pretended pass (docs/card.md §1.8)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

NOT_CHECKED_LABEL = "失効確認未実施 (revocation not checked)"


class RevocationStatus(StrEnum):
    """What a checker could establish."""

    GOOD = "good"
    REVOKED = "revoked"
    UNKNOWN = "unknown"
    NOT_CHECKED = "not_checked"


@dataclass(frozen=True)
class RevocationOutcome:
    """A checker's answer; `source` names the CRL or responder used."""

    status: RevocationStatus
    detail: str = ""
    source: str = ""

    @property
    def label(self) -> str:
        """Text for the evidence record."""
        if self.status is RevocationStatus.NOT_CHECKED:
            return NOT_CHECKED_LABEL
        return {
            "good": "失効なし (not revoked)",
            "revoked": "失効 (revoked)",
            "unknown": "失効確認不能 (unknown)",
        }[self.status.value]


class RevocationChecker(Protocol):
    """Decides whether `certificate`, issued by `issuer`, was revoked at `at`."""

    def check(
        self, certificate: x509.Certificate, issuer: x509.Certificate, at: dt.datetime
    ) -> RevocationOutcome:
        """The revocation status of one certificate."""
        ...


class NotConfiguredChecker:
    """No CRL or OCSP configured: says so."""

    def check(
        self, certificate: x509.Certificate, issuer: x509.Certificate, at: dt.datetime
    ) -> RevocationOutcome:
        """Always `not_checked`; the detail names what was not checked, for the evidence record."""
        detail = (
            f"serial {certificate.serial_number:X} from {issuer.subject.rfc4514_string()} at {at.isoformat()}"
        )
        return RevocationOutcome(RevocationStatus.NOT_CHECKED, detail, "none configured")


class CrlRevocationChecker:
    """Checks against CRLs the municipality imported; only a CRL signed by the cert's own issuer counts."""

    def __init__(self, crls: Iterable[x509.CertificateRevocationList]) -> None:
        self.crls = tuple(crls)

    def check(
        self, certificate: x509.Certificate, issuer: x509.Certificate, at: dt.datetime
    ) -> RevocationOutcome:
        """`revoked` if listed; `unknown` if no current CRL from the issuer is loaded."""
        issuer_key = issuer.public_key()
        if not isinstance(issuer_key, rsa.RSAPublicKey):
            return RevocationOutcome(RevocationStatus.UNKNOWN, "issuer key is not RSA")
        stale = False
        for crl in self.crls:
            if crl.issuer != issuer.subject or not crl.is_signature_valid(issuer_key):
                continue
            next_update = crl.next_update_utc
            if crl.last_update_utc > at or (next_update is not None and next_update < at):
                stale = True
                continue
            source = f"CRL {crl.last_update_utc.isoformat()}"
            entry = crl.get_revoked_certificate_by_serial_number(certificate.serial_number)
            if entry is not None and entry.revocation_date_utc <= at:
                return RevocationOutcome(
                    RevocationStatus.REVOKED, f"revoked {entry.revocation_date_utc.isoformat()}", source
                )
            return RevocationOutcome(RevocationStatus.GOOD, "", source)
        return RevocationOutcome(
            RevocationStatus.UNKNOWN, "the issuer's CRL is outdated" if stale else "no CRL from the issuer"
        )
