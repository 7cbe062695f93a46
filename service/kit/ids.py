"""Random identifiers."""

from __future__ import annotations

import secrets


def random_id(prefix: str) -> str:
    """A prefixed random id with 128 bits of entropy, e.g. `case_5f3k…`."""
    return f"{prefix}_{secrets.token_urlsafe(16)}"


def random_secret(nbytes: int = 32) -> str:
    """A URL-safe secret for tokens and keys."""
    return secrets.token_urlsafe(nbytes)
