"""How a clerk-agent device signs its requests (shared by the hub and clerk_agent; no hub imports).

Each request carries:
  X-Device-Id         the device id the hub gave at enrolment
  X-Device-Timestamp  Unix seconds in plain decimal (no sign, no leading zero, no spaces, at most 12 digits);
                      the hub accepts a small clock skew
  X-Device-Nonce      16–64 URL-safe characters (A–Z a–z 0–9 _ -), never reused by the device
  X-Device-Signature  base64url (no padding) Ed25519 signature over `signing_input(...)`

The signed path is the request target exactly as it goes on the wire (`canonical_target`): the raw path with its
percent-escapes kept, and the raw query. Never the decoded path: `/a%2Fb` and `/a/b` are different targets,
and a signature over one must not pass for the other.
"""

from __future__ import annotations

import base64
import hashlib
import re

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

HEADER_ID = "X-Device-Id"
HEADER_TIMESTAMP = "X-Device-Timestamp"
HEADER_NONCE = "X-Device-Nonce"
HEADER_SIGNATURE = "X-Device-Signature"
SCHEME = "MADOGUCHI-DEVICE-V1"

# Exactly what `str(int)` of a positive Unix time prints: `int()` alone would also take "+5", "05", " 5 ", "1_5"
# and non-ASCII digits, several spellings of one signed value.
_TIMESTAMP = re.compile(r"[1-9][0-9]{0,11}")
_NONCE = re.compile(r"[A-Za-z0-9_-]{16,64}")
_PERCENT_ESCAPE = re.compile(r"%[0-9a-fA-F]{2}")


def parse_timestamp(text: str) -> int:
    """The Unix time of an `X-Device-Timestamp` header; ValueError unless it is plain decimal as the wire defines."""
    if not _TIMESTAMP.fullmatch(text):
        raise ValueError("X-Device-Timestamp must be Unix seconds in plain decimal")
    return int(text)


def valid_nonce(text: str) -> bool:
    """Whether `text` is a well-formed `X-Device-Nonce`."""
    return _NONCE.fullmatch(text) is not None


def canonical_target(raw_path: str, raw_query: str = "") -> str:
    """The request target both sides sign: raw path (escapes kept), `?` and the raw query when there is one.

    The only normalisation, done identically by the device and the hub, is upper-case hex in percent-escapes
    (`%2f` and `%2F` are one byte either way). `raw_path` may carry the query itself (httpx's `raw_path` does).
    """
    path, _, query_in_path = raw_path.partition("?")
    query = raw_query or query_in_path
    target = f"{path}?{query}" if query else path
    return _PERCENT_ESCAPE.sub(lambda m: m.group(0).upper(), target)


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
