"""A test PKI for ID-document chips: per document kind a test issuer (a passport's CSCA) and a signer below it.

Written under `<dev-pki>/idchips/` by `hub dev-pki`: `<kind>/issuer.pem` (and `issuer.crl`) are the anchors the hub
loads as test anchors (service/idchips/anchors.py); `private/<kind>/` holds the keys the virtual documents sign
with, never read by the hub. Every subject carries `O=IDCHIPS-TEST`. Nothing here is committed; everything is
generated at run time (docs/id-documents.md §Virtual).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from service.idchips.anchors import IDCHIPS_DEV_SUBDIR
from service.wire.idchips import ChipKind

TEST_ORGANIZATION = "IDCHIPS-TEST"
PRIVATE_SUBDIR = "private"
ISSUER_FILE, ISSUER_CRL_FILE = "issuer.pem", "issuer.crl"
SIGNER_FILE, SIGNER_KEY_FILE, ISSUER_KEY_FILE = "signer.pem", "signer.key.pem", "issuer.key.pem"


@dataclass(frozen=True)
class DevIssuer:
    """A certificate with its private key (an issuer or a signer)."""

    certificate: x509.Certificate
    key: ec.EllipticCurvePrivateKey


def _name(common_name: str, country: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, country),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, TEST_ORGANIZATION),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _key_usage(*, ca: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=not ca,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=ca,
        crl_sign=ca,
        encipher_only=False,
        decipher_only=False,
    )


def make_issuer(
    common_name: str, *, country: str = "JP", years: int = 15, now: dt.datetime | None = None
) -> DevIssuer:
    """A self-signed issuer (a CSCA): CA:TRUE with path length 0, keyCertSign + cRLSign, ECDSA P-256."""
    now = now or dt.datetime.now(dt.UTC)
    key = ec.generate_private_key(ec.SECP256R1())
    name = _name(common_name, country)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=365 * years))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(ca=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return DevIssuer(certificate, key)


def make_signer(
    issuer: DevIssuer,
    common_name: str,
    *,
    not_before: dt.datetime | None = None,
    not_after: dt.datetime | None = None,
    country: str = "JP",
) -> DevIssuer:
    """A signer (a document signer) certified by `issuer`; valid from yesterday for ten years unless told."""
    now = dt.datetime.now(dt.UTC)
    key = ec.generate_private_key(ec.SECP256R1())
    certificate = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name, country))
        .issuer_name(issuer.certificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before or now - dt.timedelta(days=1))
        .not_valid_after(not_after or now + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(ca=False), critical=True)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()), critical=False
        )
        .sign(issuer.key, hashes.SHA256())
    )
    return DevIssuer(certificate, key)


def make_crl(issuer: DevIssuer, revoked_serials: tuple[int, ...] = ()) -> x509.CertificateRevocationList:
    """The issuer's CRL, valid for 30 days, listing `revoked_serials`."""
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(issuer.certificate.subject)
        .last_update(now - dt.timedelta(hours=1))
        .next_update(now + dt.timedelta(days=30))
    )
    for serial in revoked_serials:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(now).build()
        )
    return builder.sign(issuer.key, hashes.SHA256())


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def write_kind(directory: Path, kind: ChipKind, issuer: DevIssuer, signer: DevIssuer) -> None:
    """Write one kind's anchors (issuer certificate and CRL) and its private material under `directory/idchips`."""
    root = directory / IDCHIPS_DEV_SUBDIR
    anchors, private = root / kind.value, root / PRIVATE_SUBDIR / kind.value
    anchors.mkdir(parents=True, exist_ok=True)
    private.mkdir(parents=True, exist_ok=True)
    (anchors / ISSUER_FILE).write_bytes(issuer.certificate.public_bytes(serialization.Encoding.PEM))
    (anchors / ISSUER_CRL_FILE).write_bytes(make_crl(issuer).public_bytes(serialization.Encoding.PEM))
    (private / SIGNER_FILE).write_bytes(signer.certificate.public_bytes(serialization.Encoding.PEM))
    for name, key in ((SIGNER_KEY_FILE, signer.key), (ISSUER_KEY_FILE, issuer.key)):
        path = private / name
        path.write_bytes(_pem_key(key))
        path.chmod(0o600)


def load_signer(directory: Path, kind: ChipKind) -> DevIssuer:
    """A kind's signer as `write_kind` stored it (for the virtual documents)."""
    private = directory / IDCHIPS_DEV_SUBDIR / PRIVATE_SUBDIR / kind.value
    key = serialization.load_pem_private_key((private / SIGNER_KEY_FILE).read_bytes(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ValueError(f"{private / SIGNER_KEY_FILE} is not an EC key")
    return DevIssuer(x509.load_pem_x509_certificate((private / SIGNER_FILE).read_bytes()), key)


def load_issuer(directory: Path, kind: ChipKind) -> DevIssuer:
    """A kind's test issuer with its key, as `write_kind` stored it (tests certify more signers with it)."""
    root = directory / IDCHIPS_DEV_SUBDIR
    key = serialization.load_pem_private_key(
        (root / PRIVATE_SUBDIR / kind.value / ISSUER_KEY_FILE).read_bytes(), password=None
    )
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ValueError(f"the {kind.value} test issuer key is not an EC key")
    return DevIssuer(x509.load_pem_x509_certificate((root / kind.value / ISSUER_FILE).read_bytes()), key)


def write_passport_pki(directory: Path) -> DevIssuer:
    """A test CSCA and document signer for passports (`hub dev-pki` calls this); returns the signer."""
    csca = make_issuer("CSCA Japan (test)")
    signer = make_signer(csca, "Document Signer (test)")
    write_kind(directory, ChipKind.passport, csca, signer)
    return signer
