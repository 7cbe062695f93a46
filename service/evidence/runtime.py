"""What evidence handling needs at run time: the keyring for encryption at rest and the card-proof trust anchors."""

from __future__ import annotations

from dataclasses import dataclass, field

from service.cardproof.revocation import NotConfiguredChecker, RevocationChecker
from service.cardproof.trust import load_dev_pki_trust, load_trust_anchors
from service.cardproof.verify import TrustAnchors
from service.config import Environment, Settings
from service.idchips.anchors import ChipAnchors, load_chip_anchors
from service.kit.envelope import Keyring


@dataclass
class EvidenceRuntime:
    keyring: Keyring
    trust: TrustAnchors
    allow_test_roots: bool
    revocation: RevocationChecker = field(default_factory=NotConfiguredChecker)
    # Issuers of ID-document chips (passport CSCAs, ...), per document kind (docs/id-documents.md §Anchors).
    chip_anchors: ChipAnchors = field(default_factory=ChipAnchors)


def load_keyring(settings: Settings) -> Keyring:
    """The configured KEK file; outside production, a generated one in the data directory."""
    if settings.kek_file is not None:
        return Keyring.load(settings.kek_file)
    if settings.environment is Environment.production:
        raise RuntimeError("HUB_KEK_FILE is required in production")
    path = settings.data_dir / "kek.json"
    if path.exists():
        return Keyring.load(path)
    keyring = Keyring.generate()
    keyring.save(path)
    return keyring


def load_runtime(settings: Settings) -> EvidenceRuntime:
    """Build the evidence runtime from settings (called once by the app's lifespan)."""
    trust = load_trust_anchors(settings.jpki_auth_root_files, settings.card_face_issuer_key_files)
    if (
        settings.dev_pki_dir is not None
        and settings.allow_test_roots
        and (settings.dev_pki_dir / "manifest.json").exists()
    ):
        trust = load_dev_pki_trust(settings.dev_pki_dir, trust)
    return EvidenceRuntime(
        keyring=load_keyring(settings),
        trust=trust,
        allow_test_roots=settings.allow_test_roots,
        chip_anchors=load_chip_anchors(
            settings.chip_anchor_dir, settings.dev_pki_dir, allow_test=settings.allow_test_roots
        ),
    )
