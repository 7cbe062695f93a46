"""Webhook signing secrets at rest: AES-GCM under a key derived from HUB_SECRET_KEY, bound to the subscription."""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_NONCE = 12


class SecretBoxError(Exception):
    """A stored secret did not decrypt (HUB_SECRET_KEY changed, or the row was tampered with)."""


class SecretBox:
    """Encrypts webhook secrets; the hub must sign with them, so a one-way hash would not do."""

    def __init__(self, master_secret: str) -> None:
        key = HKDF(
            algorithm=hashes.SHA256(), length=32, salt=None, info=b"madoguchi/webhook-secret/v1"
        ).derive(master_secret.encode())
        self._aead = AESGCM(key)

    def seal(self, secret: str, subscription_id: str) -> bytes:
        """Encrypt `secret` for one subscription."""
        nonce = os.urandom(_NONCE)
        return nonce + self._aead.encrypt(nonce, secret.encode(), subscription_id.encode())

    def open(self, blob: bytes, subscription_id: str) -> str:
        """Decrypt a subscription's secret."""
        try:
            return self._aead.decrypt(blob[:_NONCE], blob[_NONCE:], subscription_id.encode()).decode()
        except (InvalidTag, ValueError) as exc:
            raise SecretBoxError("webhook secret does not decrypt") from exc
