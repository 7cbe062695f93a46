"""Password hashing (argon2id) and token hashing."""

from __future__ import annotations

import os

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from service.kit.hashing import sha256_hex

# Tests lower the cost through the environment; production keeps argon2-cffi's RFC 9106 defaults.
_hasher = PasswordHasher(
    time_cost=int(os.environ.get("HUB_ARGON2_TIME_COST", "3")),
    memory_cost=int(os.environ.get("HUB_ARGON2_MEMORY_KIB", "65536")),
)
# A hash of a random password, checked against when the username is unknown so timing does not reveal it.
_DUMMY_HASH = _hasher.hash(os.urandom(16).hex())


def hash_password(password: str) -> str:
    """argon2id hash of a password."""
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Whether the password matches; spends the same work when there is no account."""
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def token_hash(token: str) -> str:
    """Lookup hash of a high-entropy token or API key (a fast hash suffices at 256 bits)."""
    return sha256_hex(token)
