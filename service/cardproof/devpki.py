"""A test PKI shaped like JPKI: authentication roots in several generations, a signing root, a card-face issuer key.

Everything is generated at run time and written outside the repository (default `var/dev-pki`, gitignored);
no private key is ever committed. All roots carry `O=JPKI-TEST`, which the verifier accepts only with
`allow_test_roots`. As in the real JPKI, every authentication root generation has the same DN, so a verifier
must pick the issuer by signature (docs/card.md §1.8).

Beside the current card's RSA-2048 / SHA-256 hierarchy stands the next-generation card's: an authentication root, a
signing root and a card-face issuer on ECDSA P-384 / SHA-384, with ten-year certificates (docs/card.md §3). The
cards of that generation are written under `cards-next/<person>/`.
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
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from service.idchips.devpki import write_passport_pki
from service.idchips.devpki_jp import write_jp_pki
from service.wire.card_profiles import CURRENT, NEXT, CardProfile

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
# Version 3: the next-generation hierarchy on P-384 (next_auth_roots, next_card_face_issuer, next_cards).
MANIFEST_VERSION = 3
NEXT_AUTH_ROOT_NAME = x509.Name(
    [*AUTH_ROOT_NAME, x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "Next-generation card (P-384)")]
)
NEXT_SIGN_ROOT_NAME = x509.Name(
    [*SIGN_ROOT_NAME, x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "Next-generation card (P-384)")]
)

# A key of either generation: RSA-2048 (current card) or ECDSA P-384 (next generation).
PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
PublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey


@dataclass(frozen=True)
class Authority:
    """A CA certificate with its private key."""

    certificate: x509.Certificate
    key: PrivateKey


@dataclass(frozen=True)
class DevPki:
    """The whole test PKI; `auth_roots` is ordered oldest generation first; `next_*` is the P-384 hierarchy."""

    auth_roots: tuple[Authority, ...]
    sign_root: Authority
    card_face_issuer: rsa.RSAPrivateKey
    municipal_root: Authority | None = None
    next_auth_root: Authority | None = None
    next_sign_root: Authority | None = None
    next_card_face_issuer: ec.EllipticCurvePrivateKey | None = None


@dataclass(frozen=True)
class IssuedCard:
    """The JPKI material put on one virtual card, and the key of its 券面事項確認AP (card-face AP).

    The card-face key's public part goes into DF24 of the card face, which the issuer signs; the card answers the
    hub's challenge with it (docs/card-face-binding.md).
    """

    auth_key: PrivateKey
    auth_certificate: x509.Certificate
    auth_ca: x509.Certificate
    sign_key: PrivateKey
    sign_certificate: x509.Certificate
    sign_ca: x509.Certificate
    card_face_key: PrivateKey


def new_rsa_key() -> rsa.RSAPrivateKey:
    """An RSA-2048 key, the size the card uses."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def new_p384_key() -> ec.EllipticCurvePrivateKey:
    """An ECDSA P-384 key, the next-generation card's."""
    return ec.generate_private_key(ec.SECP384R1())


def new_key(profile: CardProfile) -> PrivateKey:
    """A key of `profile`'s signature scheme."""
    return new_p384_key() if profile is NEXT else new_rsa_key()


def _hash_for(key: PrivateKey) -> hashes.SHA256 | hashes.SHA384:
    # The hierarchy signs with the scheme's own hash: SHA-384 on P-384, SHA-256 on RSA-2048.
    return hashes.SHA384() if isinstance(key, ec.EllipticCurvePrivateKey) else hashes.SHA256()


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def make_root(
    name: x509.Name, *, not_before: dt.datetime, not_after: dt.datetime, key: PrivateKey | None = None
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
        .sign(key, _hash_for(key))
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
    public_key: PublicKey,
    *,
    not_before: dt.datetime,
    not_after: dt.datetime,
    signing: bool = False,
    key_usage: x509.KeyUsage | None = None,
    algorithm: hashes.SHA256 | hashes.SHA384 | None = None,
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
        .sign(issuer.key, algorithm or _hash_for(issuer.key))
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
    next_start = now - dt.timedelta(days=1)
    next_end = next_start + dt.timedelta(days=20 * 365)  # outlives the ten-year certificates it signs
    return DevPki(
        auth_roots=tuple(roots),
        sign_root=sign_root,
        card_face_issuer=new_rsa_key(),
        municipal_root=municipal_root,
        next_auth_root=make_root(
            NEXT_AUTH_ROOT_NAME, not_before=next_start, not_after=next_end, key=new_p384_key()
        ),
        next_sign_root=make_root(
            NEXT_SIGN_ROOT_NAME, not_before=next_start, not_after=next_end, key=new_p384_key()
        ),
        next_card_face_issuer=new_p384_key(),
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
    # JPKI certificates last five birthdays (the profile's count); that many years is close enough for tests.
    not_after = not_after or now + dt.timedelta(days=CURRENT.certificate_validity_years * 365)
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


def issue_next_card(
    pki: DevPki,
    *,
    not_before: dt.datetime | None = None,
    not_after: dt.datetime | None = None,
    algorithm: hashes.SHA256 | hashes.SHA384 | None = None,
) -> IssuedCard:
    """A next-generation card's material: P-384 keys, certificates from the P-384 roots signed with SHA-384.

    `algorithm` overrides the certificates' hash (a test's wrong-hash certificate).
    """
    if pki.next_auth_root is None or pki.next_sign_root is None:
        raise ValueError("this test PKI has no next-generation hierarchy")
    now = _utcnow()
    not_before = not_before or now - dt.timedelta(days=1)
    not_after = not_after or now + dt.timedelta(days=NEXT.certificate_validity_years * 365)
    auth_key, sign_key = new_p384_key(), new_p384_key()
    return IssuedCard(
        auth_key=auth_key,
        auth_certificate=issue_leaf(
            pki.next_auth_root,
            auth_key.public_key(),
            not_before=not_before,
            not_after=not_after,
            algorithm=algorithm,
        ),
        auth_ca=pki.next_auth_root.certificate,
        sign_key=sign_key,
        sign_certificate=issue_leaf(
            pki.next_sign_root,
            sign_key.public_key(),
            not_before=not_before,
            not_after=not_after,
            signing=True,
            algorithm=algorithm,
        ),
        sign_ca=pki.next_sign_root.certificate,
        card_face_key=new_p384_key(),
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
    return builder.sign(issuer.key, _hash_for(issuer.key))


def _pem_key(key: PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _write(path: Path, data: bytes, *, private: bool = False) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    if private:
        path.chmod(0o600)


def _write_card(base: Path, card: IssuedCard) -> None:
    der = serialization.Encoding.DER
    _write(base / "auth-cert.der", card.auth_certificate.public_bytes(der))
    _write(base / "auth-ca.der", card.auth_ca.public_bytes(der))
    _write(base / "auth-key.pem", _pem_key(card.auth_key), private=True)
    _write(base / "sign-cert.der", card.sign_certificate.public_bytes(der))
    _write(base / "sign-ca.der", card.sign_ca.public_bytes(der))
    _write(base / "sign-key.pem", _pem_key(card.sign_key), private=True)
    _write(base / "card-face-key.pem", _pem_key(card.card_face_key), private=True)


def write_pki(
    pki: DevPki,
    directory: Path,
    cards: dict[str, IssuedCard],
    next_cards: dict[str, IssuedCard] | None = None,
) -> None:
    """Write the PKI: trust/ (public, for the hub), private/ (CA keys), cards/<person>/ and cards-next/<person>/.

    Without `next_cards`, every person of `cards` also gets a next-generation card (when `pki` has that hierarchy).
    """
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o700)
    pem = serialization.Encoding.PEM
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
        _write_card(directory / "cards" / person, card)
        card_dirs[person] = f"cards/{person}"
    manifest["cards"] = card_dirs
    if pki.next_auth_root is not None and pki.next_sign_root is not None and pki.next_card_face_issuer:
        _write(directory / "trust/next-auth-root.pem", pki.next_auth_root.certificate.public_bytes(pem))
        _write(directory / "private/next-auth-root.key.pem", _pem_key(pki.next_auth_root.key), private=True)
        _write(directory / "trust/next-sign-root.pem", pki.next_sign_root.certificate.public_bytes(pem))
        _write(directory / "private/next-sign-root.key.pem", _pem_key(pki.next_sign_root.key), private=True)
        next_issuer = pki.next_card_face_issuer.public_key().public_bytes(
            pem, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        _write(directory / "trust/next-card-face-issuer.pub.pem", next_issuer)
        _write(
            directory / "private/next-card-face-issuer.key.pem",
            _pem_key(pki.next_card_face_issuer),
            private=True,
        )
        manifest["next_auth_roots"] = ["trust/next-auth-root.pem"]
        manifest["next_card_face_issuer"] = "trust/next-card-face-issuer.pub.pem"
        next_dirs: dict[str, str] = {}
        if next_cards is None:
            next_cards = {person: issue_next_card(pki) for person in cards}
        for person, card in next_cards.items():
            _write_card(directory / "cards-next" / person, card)
            next_dirs[person] = f"cards-next/{person}"
        manifest["next_cards"] = next_dirs
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
