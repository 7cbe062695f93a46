"""Trust anchors for ID-document chips, per document kind: issuer certificates (a passport's CSCAs), bare issuer keys
where a specification publishes keys, and CRLs where it has them (docs/id-documents.md §Anchors).

Production anchors come from configuration (`HUB_CHIP_ANCHOR_DIR`, one folder per `ChipKind`), like the JPKI
roots; the test PKI's anchors (`<HUB_DEV_PKI_DIR>/idchips/<kind>/`) are honoured only with test roots allowed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes

from service.wire.idchips import ChipKind

IDCHIPS_DEV_SUBDIR = "idchips"


@dataclass(frozen=True)
class IssuerAnchors:
    """One kind's anchors from one source."""

    certificates: tuple[x509.Certificate, ...] = ()
    public_keys: tuple[PublicKeyTypes, ...] = ()
    crls: tuple[x509.CertificateRevocationList, ...] = ()


@dataclass(frozen=True)
class ChipAnchors:
    """Production anchors, and the test PKI's (used only when `allow_test`)."""

    production: Mapping[ChipKind, IssuerAnchors] = field(default_factory=dict)
    test: Mapping[ChipKind, IssuerAnchors] = field(default_factory=dict)
    allow_test: bool = False

    def _sources(self, kind: ChipKind) -> list[tuple[IssuerAnchors, bool]]:
        found = [(self.production[kind], False)] if kind in self.production else []
        if self.allow_test and kind in self.test:
            found.append((self.test[kind], True))
        return found

    def certificates(self, kind: ChipKind) -> list[tuple[x509.Certificate, bool]]:
        """Every issuer certificate for `kind`, each with whether it is a test anchor."""
        return [(c, is_test) for source, is_test in self._sources(kind) for c in source.certificates]

    def public_keys(self, kind: ChipKind) -> list[tuple[PublicKeyTypes, bool]]:
        """Every bare issuer key for `kind`, each with whether it is a test anchor."""
        return [(k, is_test) for source, is_test in self._sources(kind) for k in source.public_keys]

    def crls(self, kind: ChipKind) -> list[x509.CertificateRevocationList]:
        """Every CRL configured for `kind`'s issuers."""
        return [crl for source, _ in self._sources(kind) for crl in source.crls]


def _load_crl(data: bytes) -> x509.CertificateRevocationList:
    if data.lstrip().startswith(b"-----BEGIN"):
        return x509.load_pem_x509_crl(data)
    return x509.load_der_x509_crl(data)


def load_issuer_dir(directory: Path) -> IssuerAnchors:
    """A folder of PEM certificates or public keys (*.pem, *.crt) and CRLs (*.crl, PEM or DER)."""
    certificates: list[x509.Certificate] = []
    keys: list[PublicKeyTypes] = []
    crls: list[x509.CertificateRevocationList] = []
    for path in sorted(directory.iterdir()):
        data = path.read_bytes()
        if path.suffix == ".crl":
            crls.append(_load_crl(data))
        elif path.suffix in (".pem", ".crt"):
            if b"BEGIN CERTIFICATE" in data:
                certificates.extend(x509.load_pem_x509_certificates(data))
            elif b"BEGIN PUBLIC KEY" in data:
                keys.append(serialization.load_pem_public_key(data))
    return IssuerAnchors(tuple(certificates), tuple(keys), tuple(crls))


def load_anchor_dir(directory: Path | None) -> dict[ChipKind, IssuerAnchors]:
    """`<directory>/<kind>/...` for every kind that has a folder; nothing when `directory` is None or absent."""
    if directory is None or not directory.is_dir():
        return {}
    return {
        kind: load_issuer_dir(directory / kind.value)
        for kind in ChipKind
        if (directory / kind.value).is_dir()
    }


def load_chip_anchors(anchor_dir: Path | None, dev_pki_dir: Path | None, *, allow_test: bool) -> ChipAnchors:
    """Production anchors from `anchor_dir`; with `allow_test`, the dev PKI's too."""
    test = load_anchor_dir(dev_pki_dir / IDCHIPS_DEV_SUBDIR) if allow_test and dev_pki_dir else {}
    return ChipAnchors(production=load_anchor_dir(anchor_dir), test=test, allow_test=allow_test)
