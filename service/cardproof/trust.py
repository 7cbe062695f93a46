"""Loads trust anchors: production J-LIS roots and card-face keys from PEM files, or a `hub dev-pki` directory.

Keys and roots of both card generations are accepted: RSA (the current card) and ECDSA P-384 (the next one,
docs/card.md §3); a configured file of any other kind is refused at start, not at the first proof.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from service.cardproof.results import IssuerKey
from service.cardproof.verify import TrustAnchors


def _issuer_key(path: Path) -> IssuerKey:
    key = serialization.load_pem_public_key(path.read_bytes())
    if isinstance(key, rsa.RSAPublicKey):
        return key
    if isinstance(key, ec.EllipticCurvePublicKey) and isinstance(key.curve, ec.SECP384R1):
        return key
    raise ValueError(f"{path} is neither an RSA nor a P-384 public key")


def load_trust_anchors(auth_root_files: Iterable[Path], card_face_key_files: Iterable[Path]) -> TrustAnchors:
    """Production anchors: every JPKI authentication root generation and the J-LIS card-face issuer keys."""
    roots: list[x509.Certificate] = []
    for path in auth_root_files:
        roots.extend(x509.load_pem_x509_certificates(path.read_bytes()))
    return TrustAnchors(
        auth_roots=tuple(roots), card_face_issuer_keys=tuple(_issuer_key(p) for p in card_face_key_files)
    )


def load_dev_pki_trust(directory: Path, base: TrustAnchors | None = None) -> TrustAnchors:
    """Add a `hub dev-pki` directory's roots and issuer keys as *test* anchors (used only with allow_test_roots).

    Both generations: the RSA roots and issuer, and (manifest version 3) the P-384 root and issuer.
    """
    manifest = json.loads((directory / "manifest.json").read_text())
    base = base or TrustAnchors()
    test_roots = tuple(
        x509.load_pem_x509_certificate((directory / p).read_bytes())
        for p in [*manifest["auth_roots"], *manifest.get("next_auth_roots", [])]
    )
    issuers = [manifest["card_face_issuer"]]
    if "next_card_face_issuer" in manifest:
        issuers.append(manifest["next_card_face_issuer"])
    return TrustAnchors(
        auth_roots=base.auth_roots,
        card_face_issuer_keys=base.card_face_issuer_keys,
        test_auth_roots=base.test_auth_roots + test_roots,
        test_card_face_issuer_keys=(
            *base.test_card_face_issuer_keys,
            *(_issuer_key(directory / name) for name in issuers),
        ),
    )
