"""A test PKI shaped like JPKI: authentication roots in several generations, a signing root, a card-face issuer key.

Everything is generated at run time and written outside the repository (default `var/dev-pki`, gitignored);
no private key is ever committed. All roots carry `O=JPKI-TEST`, which the verifier accepts only with
`allow_test_roots`. As in the real JPKI, every authentication root generation has the same DN, so a verifier
must pick the issuer by signature (docs/card.md §1.8).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import secrets
import sys
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from service.idchips.devpki import write_passport_pki
from service.idchips.devpki_jp import write_jp_pki

TEST_ORGANIZATION = "JPKI-TEST"
AUTH_ROOT_NAME = x509.Name(
    [
        x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, TEST_ORGANIZATION),
        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "JPKI for user authentication"),
        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "Madoguchi Bridge test PKI"),
    ]
)
SIGN_ROOT_NAME = x509.Name(
    [
        x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, TEST_ORGANIZATION),
        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "JPKI for digital signature"),
        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "Madoguchi Bridge test PKI"),
    ]
)
# The municipalities' document-signing root (shaped like an LGPKI 組織認証局): signs each municipality's
# certificate-system key, whose PAdES signature is on every certificate printed at a post office.
MUNICIPAL_ROOT_NAME = x509.Name(
    [
        x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, TEST_ORGANIZATION),
        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "Municipal document signing"),
        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "Madoguchi Bridge test PKI"),
    ]
)
DEFAULT_PEOPLE = ("yamada_hanako", "sato_taro")
MANIFEST = "manifest.json"
# Version 2: each card has its own card-face AP key (cards/<person>/card-face-key.pem); version 1 had none.
MANIFEST_VERSION = 2


@dataclass(frozen=True)
class Authority:
    """A CA certificate with its private key."""

    certificate: x509.Certificate
    key: rsa.RSAPrivateKey


@dataclass(frozen=True)
class DevPki:
    """The whole test PKI; `auth_roots` is ordered oldest generation first."""

    auth_roots: tuple[Authority, ...]
    sign_root: Authority
    card_face_issuer: rsa.RSAPrivateKey
    municipal_root: Authority | None = None


@dataclass(frozen=True)
class IssuedCard:
    """The JPKI material put on one virtual card, and the key of its 券面事項確認AP (card-face AP).

    The card-face key's public part goes into DF24 of the card face, which the issuer signs; the card answers the
    hub's challenge with it (docs/card-face-binding.md).
    """

    auth_key: rsa.RSAPrivateKey
    auth_certificate: x509.Certificate
    auth_ca: x509.Certificate
    sign_key: rsa.RSAPrivateKey
    sign_certificate: x509.Certificate
    sign_ca: x509.Certificate
    card_face_key: rsa.RSAPrivateKey


def new_rsa_key() -> rsa.RSAPrivateKey:
    """An RSA-2048 key, the size the card uses."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def make_root(
    name: x509.Name, *, not_before: dt.datetime, not_after: dt.datetime, key: rsa.RSAPrivateKey | None = None
) -> Authority:
    """A self-signed root like J-LIS's: CA:TRUE, keyCertSign + cRLSign, no intermediate below it."""
    key = key or new_rsa_key()
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(ski, critical=False)
        .sign(key, hashes.SHA256())
    )
    return Authority(cert, key)


def _leaf_key_usage(*, non_repudiation: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=non_repudiation,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=False,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )


def issue_leaf(
    issuer: Authority,
    public_key: rsa.RSAPublicKey,
    *,
    not_before: dt.datetime,
    not_after: dt.datetime,
    signing: bool = False,
    key_usage: x509.KeyUsage | None = None,
) -> x509.Certificate:
    """An end-entity cert signed directly by the root; its subject is an opaque id, never a name."""
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, TEST_ORGANIZATION),
            x509.NameAttribute(NameOID.COMMON_NAME, secrets.token_hex(16).upper()),
        ]
    )
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.certificate.subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(key_usage or _leaf_key_usage(non_repudiation=signing), critical=True)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()), critical=False
        )
        .sign(issuer.key, hashes.SHA256())
    )


def generate_test_pki(*, generations: int = 2, now: dt.datetime | None = None) -> DevPki:
    """Auth roots of `generations` overlapping generations (newest last), a signing root, a card-face issuer key."""
    if generations < 1:
        raise ValueError("at least one root generation")
    now = now or _utcnow()
    roots = []
    for index in range(generations):
        # Generations overlap like J-LIS's 2019 and 2023 roots: each older one started four years earlier.
        start = now - dt.timedelta(days=1 + 4 * 365 * (generations - 1 - index))
        roots.append(
            make_root(AUTH_ROOT_NAME, not_before=start, not_after=start + dt.timedelta(days=10 * 365))
        )
    sign_start = now - dt.timedelta(days=1)
    sign_root = make_root(
        SIGN_ROOT_NAME, not_before=sign_start, not_after=sign_start + dt.timedelta(days=3650)
    )
    municipal_root = make_root(
        MUNICIPAL_ROOT_NAME, not_before=sign_start, not_after=sign_start + dt.timedelta(days=3650)
    )
    return DevPki(
        auth_roots=tuple(roots),
        sign_root=sign_root,
        card_face_issuer=new_rsa_key(),
        municipal_root=municipal_root,
    )


def issue_card(
    pki: DevPki,
    *,
    generation: int = -1,
    not_before: dt.datetime | None = None,
    not_after: dt.datetime | None = None,
) -> IssuedCard:
    """Keys and certificates for one card: auth cert from the chosen root generation, signing cert, card-face key."""
    now = _utcnow()
    not_before = not_before or now - dt.timedelta(days=1)
    # JPKI certificates last five birthdays; five years is close enough for tests.
    not_after = not_after or now + dt.timedelta(days=5 * 365)
    auth_root = pki.auth_roots[generation]
    auth_key, sign_key = new_rsa_key(), new_rsa_key()
    return IssuedCard(
        auth_key=auth_key,
        auth_certificate=issue_leaf(
            auth_root, auth_key.public_key(), not_before=not_before, not_after=not_after
        ),
        auth_ca=auth_root.certificate,
        sign_key=sign_key,
        sign_certificate=issue_leaf(
            pki.sign_root, sign_key.public_key(), not_before=not_before, not_after=not_after, signing=True
        ),
        sign_ca=pki.sign_root.certificate,
        card_face_key=new_rsa_key(),
    )


def issue_crl(
    issuer: Authority,
    revoked_serials: list[int],
    *,
    this_update: dt.datetime | None = None,
    next_update: dt.datetime | None = None,
) -> x509.CertificateRevocationList:
    """A CRL from `issuer` listing `revoked_serials` (the municipality imports such a file)."""
    this_update = this_update or _utcnow() - dt.timedelta(minutes=1)
    next_update = next_update or this_update + dt.timedelta(days=1)
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(issuer.certificate.subject)
        .last_update(this_update)
        .next_update(next_update)
    )
    for serial in revoked_serials:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(this_update).build()
        )
    return builder.sign(issuer.key, hashes.SHA256())


def _pem_key(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _write(path: Path, data: bytes, *, private: bool = False) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    if private:
        path.chmod(0o600)


def write_pki(pki: DevPki, directory: Path, cards: dict[str, IssuedCard]) -> None:
    """Write the PKI: trust/ (public, for the hub), private/ (CA keys), cards/<person>/ (for the virtual card)."""
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o700)
    pem = serialization.Encoding.PEM
    der = serialization.Encoding.DER
    manifest: dict[str, object] = {
        "version": MANIFEST_VERSION,
        "test_pki": True,
        "auth_roots": [],
        "cards": {},
    }
    auth_paths: list[str] = []
    for generation, root in enumerate(pki.auth_roots, start=1):
        name = f"trust/auth-root-g{generation}.pem"
        _write(directory / name, root.certificate.public_bytes(pem))
        _write(directory / f"private/auth-root-g{generation}.key.pem", _pem_key(root.key), private=True)
        auth_paths.append(name)
    manifest["auth_roots"] = auth_paths
    _write(directory / "trust/sign-root.pem", pki.sign_root.certificate.public_bytes(pem))
    _write(directory / "private/sign-root.key.pem", _pem_key(pki.sign_root.key), private=True)
    manifest["sign_root"] = "trust/sign-root.pem"
    if pki.municipal_root is not None:
        _write(directory / "trust/municipal-root.pem", pki.municipal_root.certificate.public_bytes(pem))
        _write(directory / "private/municipal-root.key.pem", _pem_key(pki.municipal_root.key), private=True)
        manifest["municipal_root"] = "trust/municipal-root.pem"
    issuer_public = pki.card_face_issuer.public_key().public_bytes(
        pem, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    _write(directory / "trust/card-face-issuer.pub.pem", issuer_public)
    _write(directory / "private/card-face-issuer.key.pem", _pem_key(pki.card_face_issuer), private=True)
    manifest["card_face_issuer"] = "trust/card-face-issuer.pub.pem"
    card_dirs: dict[str, str] = {}
    for person, card in cards.items():
        base = directory / "cards" / person
        _write(base / "auth-cert.der", card.auth_certificate.public_bytes(der))
        _write(base / "auth-ca.der", card.auth_ca.public_bytes(der))
        _write(base / "auth-key.pem", _pem_key(card.auth_key), private=True)
        _write(base / "sign-cert.der", card.sign_certificate.public_bytes(der))
        _write(base / "sign-ca.der", card.sign_ca.public_bytes(der))
        _write(base / "sign-key.pem", _pem_key(card.sign_key), private=True)
        _write(base / "card-face-key.pem", _pem_key(card.card_face_key), private=True)
        card_dirs[person] = f"cards/{person}"
    manifest["cards"] = card_dirs
    _write(directory / MANIFEST, json.dumps(manifest, indent=2).encode())


def main(argv: list[str] | None = None) -> int:
    """`hub dev-pki`: generate a test PKI and cards for the virtual My Number Card."""
    parser = argparse.ArgumentParser(
        prog="hub dev-pki", description="Generate a JPKI-shaped test PKI (test only)."
    )
    parser.add_argument(
        "--out", type=Path, default=Path("var/dev-pki"), help="output directory (default var/dev-pki)"
    )
    parser.add_argument(
        "--generations", type=int, default=2, help="authentication root generations (default 2)"
    )
    parser.add_argument(
        "--person", action="append", dest="people", help="virtual card person id (repeatable)", default=None
    )
    parser.add_argument("--force", action="store_true", help="overwrite an existing PKI")
    args = parser.parse_args(argv)
    out: Path = args.out
    if (out / MANIFEST).exists() and not args.force:
        sys.stderr.write(f"{out} already holds a test PKI; pass --force to replace it\n")
        return 1
    pki = generate_test_pki(generations=args.generations)
    people = tuple(args.people or DEFAULT_PEOPLE)
    write_pki(pki, out, {person: issue_card(pki) for person in people})
    # The ID-document chips' test issuers beside it (docs/id-documents.md §Virtual).
    write_passport_pki(out)
    write_jp_pki(out)  # the licence's and the residence card's test issuers
    sys.stdout.write(
        f"test PKI written to {out} ({args.generations} auth root generations; cards: {', '.join(people)})\n"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
