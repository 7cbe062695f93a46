"""`hub dev-pki`: the test PKI on disk, as the hub and the virtual card load it."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from clerk_agent.card.protocol import MyNumberCard
from clerk_agent.card.virtual.build import MissingPki, build_virtual_card, load_card_material, person
from clerk_agent.card.virtual.transport import InProcessTransport
from service.cardproof import devpki
from service.cardproof.cardface import parse_card_face
from service.cardproof.trust import load_dev_pki_trust, load_trust_anchors
from service.cardproof.verify import TrustAnchors


@pytest.fixture(scope="module")
def pki_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("pki") / "dev-pki"
    assert devpki.main(["--out", str(out), "--generations", "3", "--person", "yamada_hanako"]) == 0
    return out


def _rsa_roots(trust: TrustAnchors) -> list[x509.Certificate]:
    """The current card's root generations (the next generation's P-384 root follows them)."""
    return [r for r in trust.test_auth_roots if isinstance(r.public_key(), rsa.RSAPublicKey)]


def test_layout_and_private_key_permissions(pki_dir: Path) -> None:
    manifest = json.loads((pki_dir / "manifest.json").read_text())
    assert manifest["test_pki"] is True
    assert manifest["auth_roots"] == [f"trust/auth-root-g{n}.pem" for n in (1, 2, 3)]
    assert set(manifest["cards"]) == {"yamada_hanako"}
    for key_file in [*pki_dir.joinpath("private").iterdir(), pki_dir / "cards/yamada_hanako/auth-key.pem"]:
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600, key_file
    assert not any(b"PRIVATE KEY" in p.read_bytes() for p in pki_dir.joinpath("trust").iterdir())


def test_generations_share_a_name_but_not_a_key(pki_dir: Path) -> None:
    trust = load_dev_pki_trust(pki_dir)
    roots = _rsa_roots(trust)
    assert len(roots) == 3
    assert len({r.subject.rfc4514_string() for r in roots}) == 1
    assert len({r.public_key().public_numbers().n for r in roots}) == 3  # type: ignore[union-attr]
    assert all(r.not_valid_before_utc <= dt.datetime.now(dt.UTC) <= r.not_valid_after_utc for r in roots)
    assert trust.auth_roots == ()  # dev roots are never production anchors


def test_auth_certificate_is_a_signing_end_entity_from_the_newest_root(pki_dir: Path) -> None:
    cert = x509.load_der_x509_certificate((pki_dir / "cards/yamada_hanako/auth-cert.der").read_bytes())
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature
    assert not usage.key_cert_sign
    assert not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    newest = _rsa_roots(load_dev_pki_trust(pki_dir))[-1]
    cert.verify_directly_issued_by(newest)
    # The subject is an opaque identifier, never the holder's name.
    assert "山田" not in cert.subject.rfc4514_string()


def test_the_virtual_card_loads_its_material(pki_dir: Path) -> None:
    material = load_card_material(pki_dir, "yamada_hanako")
    cert = x509.load_der_x509_certificate(material.auth_certificate)
    assert cert.public_key().public_numbers() == material.auth_key.public_key().public_numbers()  # type: ignore[union-attr]
    with pytest.raises(MissingPki, match="sato_taro"):
        load_card_material(pki_dir, "sato_taro")
    with pytest.raises(MissingPki, match="hub dev-pki"):
        load_card_material(pki_dir / "nowhere", "yamada_hanako")


def test_refuses_to_overwrite_without_force(pki_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = (pki_dir / "trust/auth-root-g1.pem").read_bytes()
    assert devpki.main(["--out", str(pki_dir)]) == 1
    assert "--force" in capsys.readouterr().err
    assert (pki_dir / "trust/auth-root-g1.pem").read_bytes() == before


def test_production_anchor_loading(pki_dir: Path) -> None:
    trust = load_trust_anchors(
        [pki_dir / "trust/auth-root-g1.pem", pki_dir / "trust/auth-root-g2.pem"],
        [pki_dir / "trust/card-face-issuer.pub.pem"],
    )
    assert len(trust.auth_roots) == 2
    assert len(trust.card_face_issuer_keys) == 1
    # Even loaded as production, a JPKI-TEST root is recognised as a test root.
    assert all(trust.is_test_root(root) for root in trust.auth_roots)


def test_each_card_has_its_own_card_face_key_inside_its_signed_face(pki_dir: Path) -> None:
    """The card-face AP's key is per person, kept private, and its public part is DF24 of the signed face."""
    key_file = pki_dir / "cards/yamada_hanako/card-face-key.pem"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    material = load_card_material(pki_dir, "yamada_hanako")
    card = MyNumberCard(InProcessTransport(build_virtual_card(person("yamada_hanako"), material)))
    card.verify_card_face_code(bytearray(person("yamada_hanako").code_b.encode()))
    face = parse_card_face(card.read_card_face().raw)
    public = material.card_face_key.public_key().public_numbers()
    assert isinstance(face.card_key, rsa.RSAPublicKey)
    assert face.card_key.public_numbers() == public
    other = devpki.issue_card(devpki.generate_test_pki(generations=1))
    assert other.card_face_key.public_key().public_numbers() != public


def test_a_test_pki_from_before_card_face_keys_is_named(pki_dir: Path, tmp_path: Path) -> None:
    old = tmp_path / "old-pki"
    shutil.copytree(pki_dir, old)
    (old / "cards/yamada_hanako/card-face-key.pem").unlink()
    with pytest.raises(MissingPki, match="--force"):
        load_card_material(old, "yamada_hanako")
