"""What certificate issuance needs at run time: the signing root, the record adapter, the evidence keyring."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

from service.certificates.signing import SigningAuthority, generate_root, load_root
from service.config import Environment, Settings
from service.evidence.runtime import EvidenceRuntime
from service.integrations.resident import CertificateRecordAdapter


@dataclass
class CertificateRuntime:
    evidence: EvidenceRuntime  # the KEK keyring (PDFs sealed at rest) and the card-proof trust anchors
    settings: Settings
    records: CertificateRecordAdapter | None
    tz: ZoneInfo
    origin: str
    _authority: SigningAuthority | None = field(default=None, init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)

    @property
    def authority(self) -> SigningAuthority | None:
        """The signing root, loaded on first use (None: no signing key configured, so nothing is issued).

        Lazily, so a hub that never issues a certificate never reads or generates a key at start-up.
        """
        with self._lock:
            if self._authority is None:
                self._authority = load_authority(self.settings)
            return self._authority


def load_authority(settings: Settings) -> SigningAuthority | None:
    """The municipal signing root: `hub dev-pki`'s outside production, else a generated development one."""
    candidates: list[Path] = []
    if settings.certificate_signing_dir is not None:
        candidates.append(settings.certificate_signing_dir)
    if settings.environment is not Environment.production and settings.dev_pki_dir is not None:
        candidates.append(settings.dev_pki_dir)
    for directory in candidates:
        root = load_root(directory)
        if root is not None:
            return SigningAuthority(root)
    if settings.environment is Environment.production:
        return None
    own = settings.data_dir / "certificate-pki"
    return SigningAuthority(load_root(own) or generate_root(own))


def build_runtime(settings: Settings, evidence: EvidenceRuntime, records: object) -> CertificateRuntime:
    """Called once by the app's lifespan, after the evidence and integrations runtimes."""
    return CertificateRuntime(
        evidence=evidence,
        settings=settings,
        records=records if isinstance(records, CertificateRecordAdapter) else None,
        tz=ZoneInfo(settings.timezone),
        origin=settings.origin,
    )
