"""A generated test PKI for the Japanese chip documents: one issuer per document type, with invented names.

Per document type a root (standing in for the issuing agency's key: 警察庁 for the licence, 出入国在留管理庁 for the
residence card) signs a document-signer certificate; the signer's key signs the chip data. `foreign` is a second,
untrusted hierarchy for the "foreign issuer key" refusal, `expired` a signer of the trusted root whose certificate
has run out. Everything is generated at run time (RSA-2048, as the specifications' signatures are) and cached per
process; no key is ever written to the repository.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

DocumentType = Literal["driving_licence", "residence_card"]
Variant = Literal["current", "foreign", "expired"]
TEST_ORGANIZATIONS: dict[DocumentType, str] = {
    "driving_licence": "NPA-LICENCE-TEST",
    "residence_card": "ISA-RESIDENCE-TEST",
}


@dataclass(frozen=True)
class JpSigner:
    """A document signer: its key, its certificate and the root that issued it."""

    key: rsa.RSAPrivateKey
    certificate: x509.Certificate
    root: x509.Certificate

    def sign(self, data: bytes) -> bytes:
        """RSA PKCS#1 v1.5 with SHA-256 over `data`."""
        return self.key.sign(data, padding.PKCS1v15(), hashes.SHA256())

    @property
    def key_id(self) -> bytes:
        """The signer certificate's subject key identifier."""
        return self.certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest


def _name(organization: str, unit: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, unit),
        ]
    )


def _key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@functools.cache
def jp_root(
    document: DocumentType, hierarchy: Literal["trusted", "foreign"]
) -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    """The root of one hierarchy (cached per process)."""
    organization = TEST_ORGANIZATIONS[document] + ("" if hierarchy == "trusted" else "-FOREIGN")
    key = _key()
    now = dt.datetime.now(dt.UTC)
    name = _name(organization, "Madoguchi Bridge test root")
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=3650))
        .not_valid_after(now + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return key, certificate


@functools.cache
def jp_signer(document: DocumentType, variant: Variant = "current") -> JpSigner:
    """A document signer of the trusted root (current, expired) or of the foreign one (cached per process)."""
    hierarchy: Literal["trusted", "foreign"] = "foreign" if variant == "foreign" else "trusted"
    root_key, root = jp_root(document, hierarchy)
    organization = TEST_ORGANIZATIONS[document] + ("-FOREIGN" if hierarchy == "foreign" else "")
    key = _key()
    now = dt.datetime.now(dt.UTC)
    if variant == "expired":
        start, end = now - dt.timedelta(days=2000), now - dt.timedelta(days=1)
    else:
        start, end = now - dt.timedelta(days=30), now + dt.timedelta(days=3650)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(_name(organization, f"document signer {variant}"))
        .issuer_name(root.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(root_key.public_key()), critical=False
        )
        .sign(root_key, hashes.SHA256())
    )
    return JpSigner(key, certificate, root)


def anchor_pems(document: DocumentType) -> dict[str, bytes]:
    """The hub's test anchors for one document type, by file name: the trusted root and, for the licence, whose
    chip names its signer without carrying the certificate, the signer certificates too (current and expired)."""
    _key, root = jp_root(document, "trusted")
    files = {"root.pem": root.public_bytes(Encoding.PEM)}
    if document == "driving_licence":
        for variant in ("current", "expired"):
            files[f"signer-{variant}.pem"] = jp_signer(document, variant).certificate.public_bytes(
                Encoding.PEM
            )
    return files


def signer_from_dev_pki(directory: Path, document: DocumentType, variant: Variant = "current") -> JpSigner:
    """A signer written by `hub dev-pki` (service/idchips/devpki_jp.py), so that the hub's anchors know it."""
    if variant == "foreign":
        return jp_signer(
            document, "foreign"
        )  # generated here: no configured anchor knows it, which is the point
    private = directory / "idchips" / "private" / document
    stem = "signer" if variant == "current" else f"signer-{variant}"
    certificate = x509.load_pem_x509_certificate((private / f"{stem}.pem").read_bytes())
    key = serialization.load_pem_private_key((private / f"{stem}.key.pem").read_bytes(), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise TypeError(f"{private / stem}.key.pem is not an RSA key")
    root = x509.load_pem_x509_certificate((directory / "idchips" / document / "issuer.pem").read_bytes())
    return JpSigner(key, certificate, root)
