"""Envelope encryption (AES-256-GCM): a fresh data key per object, wrapped by a key-encryption key (KEK).

The associated data binds each ciphertext to where it belongs (case, field, object id), so a blob copied onto
another case or field fails to decrypt. Destroying an object's wrapped data key shreds it.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

NONCE_BYTES = 12


class EnvelopeError(Exception):
    """A blob did not decrypt: wrong key, wrong associated data, or tampered bytes."""


@dataclass(frozen=True)
class Sealed:
    """An encrypted object as stored: which KEK wrapped its data key, the wrapped key, and the ciphertext."""

    kek_id: str
    wrapped_key: bytes  # nonce ‖ AES-GCM(KEK, data key, aad)
    ciphertext: bytes  # nonce ‖ AES-GCM(data key, plaintext, aad)


class Keyring:
    """Key-encryption keys by id; new objects are wrapped with the active one."""

    def __init__(self, keys: dict[str, bytes], active: str) -> None:
        if active not in keys:
            raise ValueError(f"active KEK {active!r} is not in the keyring")
        for kid, key in keys.items():
            if len(key) != 32:
                raise ValueError(f"KEK {kid!r} must be 32 bytes (AES-256)")
        self._keys = dict(keys)
        self.active = active
        # The key file this keyring follows: `hub keys rotate` rewrites it, and a running hub picks it up.
        self._source: Path | None = None
        self._stamp: tuple[int, int] | None = None

    @classmethod
    def generate(cls) -> Keyring:
        """A keyring with one random KEK (development and tests)."""
        return cls({"k1": AESGCM.generate_key(bit_length=256)}, "k1")

    @staticmethod
    def _read(path: Path) -> tuple[dict[str, bytes], str]:
        data = json.loads(path.read_text())
        return {k: base64.b64decode(v) for k, v in data["keys"].items()}, str(data["active"])

    @classmethod
    def load(cls, path: Path) -> Keyring:
        """Read `{"active": id, "keys": {id: base64}}` from a key file, and follow the file from then on."""
        stamp = _stamp(path)
        keyring = cls(*cls._read(path))
        keyring._follow(path, stamp)
        return keyring

    def save(self, path: Path) -> None:
        """Write the key file with owner-only permissions, atomically (a running hub never reads half a file)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        body = json.dumps(
            {"active": self.active, "keys": {k: base64.b64encode(v).decode() for k, v in self._keys.items()}}
        )
        partial = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(body)
            handle.flush()
            os.fsync(handle.fileno())
        partial.replace(path)
        self._follow(path, _stamp(path))

    def _follow(self, path: Path, stamp: tuple[int, int] | None) -> None:
        self._source, self._stamp = path, stamp

    def refresh(self) -> bool:
        """Reload the key file if it changed since it was read (a rotation); True when the keys changed.

        Called before every use, so `hub keys rotate` needs no restart. An unreadable file keeps the keys in hand.
        """
        if self._source is None:
            return False
        stamp = _stamp(self._source)
        if stamp is None or stamp == self._stamp:
            return False
        try:
            keys, active = self._read(self._source)
            fresh = Keyring(keys, active)
        except (OSError, ValueError, KeyError):
            return False
        self._keys, self.active, self._stamp = fresh._keys, fresh.active, stamp
        return True

    def add_key(self, kek_id: str | None = None) -> str:
        """Add a new random KEK and make it active; returns its id."""
        kek_id = kek_id or f"k{len(self._keys) + 1}-{secrets.token_hex(3)}"
        self._keys[kek_id] = AESGCM.generate_key(bit_length=256)
        self.active = kek_id
        return kek_id

    def ids(self) -> list[str]:
        """Every KEK id."""
        return sorted(self._keys)

    def _kek(self, kek_id: str) -> AESGCM:
        if kek_id not in self._keys:
            self.refresh()  # a blob re-wrapped by `hub keys rotate` after this keyring was read
        try:
            return AESGCM(self._keys[kek_id])
        except KeyError as exc:
            raise EnvelopeError(f"unknown KEK {kek_id!r}") from exc

    def seal(self, plaintext: bytes, aad: bytes) -> Sealed:
        """Encrypt with a fresh data key, wrapped by the active KEK; both bound to `aad`."""
        self.refresh()
        data_key = AESGCM.generate_key(bit_length=256)
        nonce, key_nonce = os.urandom(NONCE_BYTES), os.urandom(NONCE_BYTES)
        ciphertext = nonce + AESGCM(data_key).encrypt(nonce, plaintext, aad)
        wrapped = key_nonce + self._kek(self.active).encrypt(key_nonce, data_key, aad)
        return Sealed(self.active, wrapped, ciphertext)

    def _unwrap(self, sealed: Sealed, aad: bytes) -> bytes:
        try:
            return self._kek(sealed.kek_id).decrypt(
                sealed.wrapped_key[:NONCE_BYTES], sealed.wrapped_key[NONCE_BYTES:], aad
            )
        except (InvalidTag, ValueError) as exc:
            raise EnvelopeError("data key does not unwrap (wrong KEK or associated data)") from exc

    def open(self, sealed: Sealed, aad: bytes) -> bytes:
        """Decrypt; raises EnvelopeError when anything does not match."""
        data_key = self._unwrap(sealed, aad)
        try:
            return AESGCM(data_key).decrypt(
                sealed.ciphertext[:NONCE_BYTES], sealed.ciphertext[NONCE_BYTES:], aad
            )
        except (InvalidTag, ValueError) as exc:
            raise EnvelopeError("ciphertext does not decrypt (tampered or moved)") from exc

    def rewrap(self, sealed: Sealed, aad: bytes) -> Sealed:
        """The same ciphertext with its data key wrapped by the active KEK (key rotation)."""
        self.refresh()
        data_key = self._unwrap(sealed, aad)
        key_nonce = os.urandom(NONCE_BYTES)
        return Sealed(
            self.active,
            key_nonce + self._kek(self.active).encrypt(key_nonce, data_key, aad),
            sealed.ciphertext,
        )


def _stamp(path: Path) -> tuple[int, int] | None:
    """What tells a rewritten key file apart: modification time and inode (os.replace gives a new inode)."""
    try:
        status = path.stat()
    except OSError:
        return None
    return status.st_mtime_ns, status.st_ino


def aad_for(*, case_id: str, field: str, object_id: str) -> bytes:
    """Associated data that pins a blob to its case, field and object."""
    return f"madoguchi/v1|case={case_id}|field={field}|object={object_id}".encode()
