"""How a clerk-agent device signs its requests (shared by the hub and clerk_agent; no hub imports).

Each request carries:
  X-Device-Id         the device id the hub gave at enrolment
  X-Device-Timestamp  Unix seconds (integer); the hub accepts a small clock skew
  X-Device-Nonce      16–64 URL-safe characters, never reused by the device
  X-Device-Signature  base64url (no padding) Ed25519 signature over `signing_input(...)`
"""

from __future__ import annotations

import base64
import hashlib

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

HEADER_ID = "X-Device-Id"
HEADER_TIMESTAMP = "X-Device-Timestamp"
HEADER_NONCE = "X-Device-Nonce"
HEADER_SIGNATURE = "X-Device-Signature"
SCHEME = "MADOGUCHI-DEVICE-V1"


def b64url(data: bytes) -> str:
    """base64url without padding."""
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def b64url_decode(text: str) -> bytes:
    """Inverse of `b64url`; raises ValueError on bad input."""
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def signing_input(*, method: str, path_and_query: str, timestamp: int, nonce: str, body: bytes) -> bytes:
    """The exact bytes a device signs: scheme, method, path with query, timestamp, nonce and the body's SHA-256."""
    body_hash = hashlib.sha256(body).hexdigest()
    return f"{SCHEME}\n{method.upper()}\n{path_and_query}\n{timestamp}\n{nonce}\n{body_hash}".encode()


def public_key_text(key: Ed25519PrivateKey | Ed25519PublicKey) -> str:
    """The raw 32-byte public key as base64url, the form the hub stores."""
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return b64url(public.public_bytes(Encoding.Raw, PublicFormat.Raw))


def sign_headers(
    key: Ed25519PrivateKey,
    *,
    device_id: str,
    method: str,
    path_and_query: str,
    timestamp: int,
    nonce: str,
    body: bytes,
) -> dict[str, str]:
    """The four headers of a signed device request."""
    signature = key.sign(
        signing_input(
            method=method, path_and_query=path_and_query, timestamp=timestamp, nonce=nonce, body=body
        )
    )
    return {
        HEADER_ID: device_id,
        HEADER_TIMESTAMP: str(timestamp),
        HEADER_NONCE: nonce,
        HEADER_SIGNATURE: b64url(signature),
    }
