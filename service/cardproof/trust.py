"""Loads trust anchors: production J-LIS roots and card-face keys from PEM files, or a `hub dev-pki` directory."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from service.cardproof.verify import TrustAnchors


def _rsa_public_key(path: Path) -> rsa.RSAPublicKey:
    key = serialization.load_pem_public_key(path.read_bytes())
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError(f"{path} is not an RSA public key")
    return key


def load_trust_anchors(auth_root_files: Iterable[Path], card_face_key_files: Iterable[Path]) -> TrustAnchors:
    """Production anchors: every JPKI authentication root generation and the J-LIS card-face issuer keys."""
    roots: list[x509.Certificate] = []
    for path in auth_root_files:
        roots.extend(x509.load_pem_x509_certificates(path.read_bytes()))
    return TrustAnchors(
        auth_roots=tuple(roots), card_face_issuer_keys=tuple(_rsa_public_key(p) for p in card_face_key_files)
    )


def load_dev_pki_trust(directory: Path, base: TrustAnchors | None = None) -> TrustAnchors:
    """Add a `hub dev-pki` directory's roots and issuer key as *test* anchors (used only with allow_test_roots)."""
    manifest = json.loads((directory / "manifest.json").read_text())
    base = base or TrustAnchors()
    test_roots = tuple(
        x509.load_pem_x509_certificate((directory / p).read_bytes()) for p in manifest["auth_roots"]
    )
    return TrustAnchors(
        auth_roots=base.auth_roots,
        card_face_issuer_keys=base.card_face_issuer_keys,
        test_auth_roots=base.test_auth_roots + test_roots,
        test_card_face_issuer_keys=(
            *base.test_card_face_issuer_keys,
            _rsa_public_key(directory / manifest["card_face_issuer"]),
        ),
    )
