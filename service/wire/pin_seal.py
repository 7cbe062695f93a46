"""Sealing the applicant's chosen PINs (暗証番号設定依頼) to the municipality's key, at the counter.

Only the municipality's 交付前設定 step, which holds the X25519 private key, can open the sealed request; the clerk,
the agent after sealing, and the hub's operators cannot. Format v1 (HPKE-like, ECIES over X25519):
  ephemeral X25519 key pair; shared = X25519(eph, municipality public key);
  key = HKDF-SHA256(shared, salt = eph public ‖ municipality public, info = "madoguchi/pin-seal/v1|" + case id);
  ciphertext = AES-256-GCM(key, 12-byte nonce, JSON of the PINs, aad = case id).
Shared by the hub (validation of the envelope) and the agent (sealing); no hub imports.
"""

from __future__ import annotations

import json
import os
import re

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from pydantic import BaseModel, ConfigDict, Field

from service.wire.device_auth import b64url, b64url_decode

VERSION = "madoguchi/pin-seal/v1"
FOUR_DIGITS = re.compile(r"^[0-9]{4}$")
SIGN_PASSWORD = re.compile(r"^(?=.*[A-Z])(?=.*[0-9])[A-Z0-9]{6,16}$")


class SealedPinRequest(BaseModel):
    """The envelope the hub stores and forwards; it cannot read it."""

    model_config = ConfigDict(extra="forbid")

    v: str = Field(pattern=r"^madoguchi/pin-seal/v1$")
    key_id: str = Field(min_length=8, max_length=64, description="which municipality key it is sealed to")
    epk: str = Field(min_length=43, max_length=43, description="ephemeral X25519 public key, base64url")
    nonce: str = Field(min_length=16, max_length=16)
    ct: str = Field(min_length=40, max_length=600)


class PinChoiceError(ValueError):
    """A chosen PIN does not meet the card's rules (docs/domain.md §A2.19)."""


def validate_pins(
    *, sign_password: bytearray, auth_pin: bytearray, juki_pin: bytearray, kenhojo_pin: bytearray
) -> None:
    """署名用 6–16 upper-case letters and digits (both); the other three 4 digits."""
    if not SIGN_PASSWORD.match(sign_password.decode("ascii", "replace")):
        raise PinChoiceError(
            "署名用パスワードは英大文字と数字を含む6〜16文字 / signing password: 6–16 A–Z and 0–9, both"
        )
    for label, pin in (
        ("利用者証明用", auth_pin),
        ("住民基本台帳用", juki_pin),
        ("券面事項入力補助用", kenhojo_pin),
    ):
        if not FOUR_DIGITS.match(pin.decode("ascii", "replace")):
            raise PinChoiceError(f"{label}暗証番号は数字4桁 / {label} PIN: 4 digits")


def key_id_of(public: X25519PublicKey) -> str:
    """A short id of a municipality sealing key (base64url of its first 12 bytes)."""
    return b64url(public.public_bytes(Encoding.Raw, PublicFormat.Raw)[:12])


def _derive(shared: bytes, eph: bytes, recipient: bytes, case_id: str) -> bytes:
    return HKDF(
        algorithm=hashes.SHA256(), length=32, salt=eph + recipient, info=f"{VERSION}|{case_id}".encode()
    ).derive(shared)


def seal(recipient: X25519PublicKey, *, case_id: str, pins: dict[str, bytearray]) -> SealedPinRequest:
    """Seal the PINs for `case_id`, then wipe the caller's buffers."""
    try:
        payload = bytearray(json.dumps({k: v.decode("ascii") for k, v in pins.items()}).encode())
        eph = X25519PrivateKey.generate()
        eph_pub = eph.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        recipient_raw = recipient.public_bytes(Encoding.Raw, PublicFormat.Raw)
        key = _derive(eph.exchange(recipient), eph_pub, recipient_raw, case_id)
        nonce = os.urandom(12)
        ct = AESGCM(key).encrypt(nonce, bytes(payload), case_id.encode())
        payload[:] = bytes(len(payload))
        return SealedPinRequest(
            v=VERSION, key_id=key_id_of(recipient), epk=b64url(eph_pub), nonce=b64url(nonce), ct=b64url(ct)
        )
    finally:
        for buffer in pins.values():
            buffer[:] = bytes(len(buffer))


def open_sealed(private: X25519PrivateKey, sealed: SealedPinRequest, *, case_id: str) -> dict[str, str]:
    """The municipality's side (交付前設定): open a sealed request; raises on any mismatch."""
    eph_pub = b64url_decode(sealed.epk)
    recipient_raw = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    key = _derive(
        private.exchange(X25519PublicKey.from_public_bytes(eph_pub)), eph_pub, recipient_raw, case_id
    )
    plain = AESGCM(key).decrypt(b64url_decode(sealed.nonce), b64url_decode(sealed.ct), case_id.encode())
    opened: dict[str, str] = json.loads(plain)
    return opened
