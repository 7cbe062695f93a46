"""The JPKI issuer as the hub sees it (J-LIS's certificate authority and card-management keys), and its simulator.

A post office never holds the issuer's keys: the issuer keeps a master key from which every card's SCP03 static
keys are diversified, issues certificates for CSRs the card signed, and revokes the certificates a renewal
replaced. The simulator does that with the development test PKI (service/cardproof/devpki.py), so the hub's own
card-proof verification accepts what it issues and its CRLs list what it revoked (docs/card-admin.md §Issuer).
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from service.cardproof.devpki import Authority, issue_crl, issue_leaf
from service.kit import clock
from service.wire import scp03
from service.wire.cardadmin import Slot

# The simulator's key scheme lives beside the channel (service/wire/scp03.py): the virtual card's factory uses it too.
from service.wire.scp03 import MASTER_KEY_FILE as MASTER_KEY_FILE
from service.wire.scp03 import diversify as diversify
from service.wire.scp03 import load_master_key as load_master_key

# JPKI certificates run to the fifth birthday after issue; five years is close enough for the simulator.
VALIDITY = dt.timedelta(days=5 * 365)


class IssuerError(Exception):
    """The issuer refused (a bad CSR) or could not be reached; `retriable` says whether trying again may help."""

    def __init__(self, message: str, *, retriable: bool) -> None:
        super().__init__(message)
        self.retriable = retriable


class JpkiIssuer(Protocol):
    """J-LIS's side of remote card management."""

    def card_keys(self, diversification: bytes) -> scp03.StaticKeys:
        """The SCP03 static keys of the card that answered with `diversification`."""
        ...

    def issue(self, slot: Slot, csr: bytes) -> bytes:
        """A certificate (DER) for a CSR the card signed with its new pending key."""
        ...

    def revoke(self, serials: list[int]) -> None:
        """Revoke certificates (the ones a renewal replaced, or issued and never activated)."""
        ...

    def revoked(self, serial: int) -> bool:
        """Whether the issuer revoked `serial`."""
        ...


def _key(path: Path) -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise IssuerError(f"{path} is not an RSA key", retriable=False)
    return key


class JpkiIssuerSimulator:
    """The issuer on the `hub dev-pki` directory: its newest authentication root and its signing root issue.

    Its register of issued and revoked serials is a JSON file under the PKI directory, locked per change, so every
    hub replica and the tests see one issuer.
    """

    def __init__(self, pki_dir: Path) -> None:
        self.pki_dir = pki_dir
        manifest = json.loads((pki_dir / "manifest.json").read_text())
        newest = len(manifest["auth_roots"])
        self._authorities = {
            Slot.auth: Authority(
                x509.load_pem_x509_certificate((pki_dir / manifest["auth_roots"][-1]).read_bytes()),
                _key(pki_dir / f"private/auth-root-g{newest}.key.pem"),
            ),
            Slot.sign: Authority(
                x509.load_pem_x509_certificate((pki_dir / manifest["sign_root"]).read_bytes()),
                _key(pki_dir / "private/sign-root.key.pem"),
            ),
        }
        self._master = load_master_key(pki_dir)
        self._register = pki_dir / "card-issuer-register.json"

    def card_keys(self, diversification: bytes) -> scp03.StaticKeys:
        """Diversified from the master key."""
        return diversify(self._master, diversification)

    @contextmanager
    def _locked(self) -> Iterator[dict[str, list[str]]]:
        with (self.pki_dir / ".card-issuer.lock").open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            data: dict[str, list[str]] = (
                json.loads(self._register.read_text())
                if self._register.exists()
                else {"issued": [], "revoked": []}
            )
            yield data
            partial = self._register.with_suffix(".tmp")
            partial.write_text(json.dumps(data))
            partial.replace(self._register)

    def issue(self, slot: Slot, csr: bytes) -> bytes:
        """Check the CSR's self-signature (the card's proof of possession of the new key), then issue."""
        try:
            request = x509.load_der_x509_csr(csr)
        except ValueError as exc:
            raise IssuerError("not a CSR", retriable=False) from exc
        public = request.public_key()
        if not request.is_signature_valid or not isinstance(public, rsa.RSAPublicKey):
            raise IssuerError("the CSR's signature does not verify", retriable=False)
        now = clock.now()
        certificate = issue_leaf(
            self._authorities[slot],
            public,
            not_before=now - dt.timedelta(minutes=5),
            not_after=now + VALIDITY,
            signing=slot is Slot.sign,
        )
        with self._locked() as register:
            register["issued"].append(f"{certificate.serial_number:x}")
        return certificate.public_bytes(serialization.Encoding.DER)

    def revoke(self, serials: list[int]) -> None:
        """Add to the revocation register (idempotent)."""
        with self._locked() as register:
            for serial in serials:
                if f"{serial:x}" not in register["revoked"]:
                    register["revoked"].append(f"{serial:x}")

    def revoked(self, serial: int) -> bool:
        """Whether `serial` is in the register."""
        with self._locked() as register:
            return f"{serial:x}" in register["revoked"]

    def crls(self) -> list[x509.CertificateRevocationList]:
        """Current CRLs of both authorities, for the hub's CrlRevocationChecker (service/cardproof/revocation.py)."""
        with self._locked() as register:
            serials = [int(s, 16) for s in register["revoked"]]
        return [issue_crl(authority, serials) for authority in self._authorities.values()]
