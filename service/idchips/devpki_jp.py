"""The test PKI of the Japanese chip documents in `hub dev-pki` (docs/id-documents.md §Japanese).

Per document type an RSA-2048 root standing in for the issuing agency (警察庁, 出入国在留管理庁) and two document
signers under it: a current one and one whose certificate has run out. Written under `<dev-pki>/idchips/`:
`<kind>/issuer.pem` is the anchor the hub loads; for the licence, whose chip names its signer without carrying the
certificate, the signers' certificates sit beside it (`signer.pem`, `signer-expired.pem`). `private/<kind>/` holds
the signer keys the virtual documents sign with (clerk_agent/card/virtual/idchips/jp_pki.py reads them); the hub
never does. Generated at run time, never committed.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from service.idchips.anchors import IDCHIPS_DEV_SUBDIR
from service.wire.idchips import ChipKind

PRIVATE_SUBDIR = "private"
JP_TEST_ORGANIZATIONS = {
    ChipKind.driving_licence: "NPA-LICENCE-TEST",
    ChipKind.residence_card: "ISA-RESIDENCE-TEST",
}
SIGNER_VARIANTS = ("current", "expired")


def _name(organization: str, unit: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, unit),
        ]
    )


def _certificate(
    subject: x509.Name,
    key: rsa.RSAPrivateKey,
    issuer: tuple[x509.Name, rsa.RSAPrivateKey] | None,
    start: dt.datetime,
    end: dt.datetime,
) -> x509.Certificate:
    issuer_name, issuer_key = issuer if issuer is not None else (subject, key)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(
            x509.BasicConstraints(ca=issuer is None, path_length=0 if issuer is None else None), True
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    return builder.sign(issuer_key, hashes.SHA256())


def _pem_key(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def write_jp_pki(directory: Path) -> None:
    """Write the licence's and the residence card's test roots and signers under `directory/idchips`."""
    now = dt.datetime.now(dt.UTC)
    for kind, organization in JP_TEST_ORGANIZATIONS.items():
        anchors = directory / IDCHIPS_DEV_SUBDIR / kind.value
        private = directory / IDCHIPS_DEV_SUBDIR / PRIVATE_SUBDIR / kind.value
        anchors.mkdir(parents=True, exist_ok=True)
        private.mkdir(parents=True, exist_ok=True)
        root_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        root_name = _name(organization, "Madoguchi Bridge test root")
        root = _certificate(
            root_name, root_key, None, now - dt.timedelta(days=1), now + dt.timedelta(days=3650)
        )
        (anchors / "issuer.pem").write_bytes(root.public_bytes(serialization.Encoding.PEM))
        for variant in SIGNER_VARIANTS:
            key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            start, end = (
                (now - dt.timedelta(days=2000), now - dt.timedelta(days=1))
                if variant == "expired"
                else (now - dt.timedelta(days=1), now + dt.timedelta(days=3650))
            )
            signer = _certificate(
                _name(organization, f"document signer {variant}"), key, (root_name, root_key), start, end
            )
            stem = "signer" if variant == "current" else f"signer-{variant}"
            pem = signer.public_bytes(serialization.Encoding.PEM)
            (private / f"{stem}.pem").write_bytes(pem)
            (private / f"{stem}.key.pem").write_bytes(_pem_key(key))
            if kind == ChipKind.driving_licence:
                (anchors / f"{stem}.pem").write_bytes(pem)
