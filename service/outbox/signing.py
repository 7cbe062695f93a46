"""Webhook signatures: `Madoguchi-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>." + body)>`.

Receivers recompute the HMAC over the raw body, compare in constant time, refuse a timestamp outside the replay
window (default 300 s) and de-duplicate by `Madoguchi-Event-Id`. A retry is signed afresh with a new timestamp.
"""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "Madoguchi-Signature"
EVENT_ID_HEADER = "Madoguchi-Event-Id"
EVENT_TYPE_HEADER = "Madoguchi-Event-Type"
DELIVERY_ID_HEADER = "Madoguchi-Delivery-Id"
ATTEMPT_HEADER = "Madoguchi-Delivery-Attempt"
REPLAY_WINDOW_SECONDS = 300


class SignatureInvalid(ValueError):
    """The signature header is missing, malformed, stale or does not match."""


def compute(secret: str, timestamp: int, body: bytes) -> str:
    """Hex HMAC-SHA256 of `"<timestamp>." + body` under the subscription secret."""
    return hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()


def header_value(secret: str, timestamp: int, body: bytes) -> str:
    """The Madoguchi-Signature header for one attempt."""
    return f"t={timestamp},v1={compute(secret, timestamp, body)}"


def verify(secret: str, header: str, body: bytes, *, now: float, window: int = REPLAY_WINDOW_SECONDS) -> int:
    """Check a signature header; returns its timestamp, raises SignatureInvalid."""
    parts: dict[str, list[str]] = {}
    for item in header.split(","):
        key, sep, value = item.strip().partition("=")
        if sep:
            parts.setdefault(key, []).append(value)
    try:
        timestamp = int(parts["t"][0])
    except (KeyError, ValueError) as exc:
        raise SignatureInvalid("no timestamp") from exc
    if abs(now - timestamp) > window:
        raise SignatureInvalid("timestamp outside the replay window")
    expected = compute(secret, timestamp, body)
    if not any(hmac.compare_digest(expected, candidate) for candidate in parts.get("v1", [])):
        raise SignatureInvalid("signature does not match")
    return timestamp
