"""Signed, short-lived credentials of the signaling socket: join tickets and resume tokens (HMAC, no table).

Both are verified without a database, so any hub replica sharing HUB_SECRET_KEY accepts them. Single use is
enforced by a per-process `NonceBook` and, for tickets, by the `signaling_ticket_use` table that every replica
shares (service.spend_ticket): a ticket replayed against another replica within its 30 s TTL is refused there
too. A resume token's nonce is burned on every replica through the bus's presence news instead.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass
from typing import Final, Literal

ParticipantRole = Literal["clerk", "officer"]
PrincipalKindCode = Literal["account", "device"]

# A counter session never lasts a day: a resume token is refused after this however often it was renewed.
RESUME_MAX_AGE_S: Final = 12 * 3600
_TICKET_PURPOSE: Final = b"madoguchi/signaling/ticket/v1"
_RESUME_PURPOSE: Final = b"madoguchi/signaling/resume/v1"


class CredentialRejected(ValueError):
    """A ticket or resume token that is forged, expired, malformed or already used."""


@dataclass(frozen=True)
class TicketClaims:
    """Who a ticket admits to which room, and until when."""

    room: str
    role: ParticipantRole
    principal_kind: PrincipalKindCode
    principal_id: str
    municipality_code: str | None
    post_office_id: str | None
    expires_at: int
    nonce: str


@dataclass(frozen=True)
class ResumeClaims:
    """A joined session's right to rejoin its room after a dropped socket."""

    room: str
    role: ParticipantRole
    principal_id: str
    expires_at: int
    nonce: str


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (ValueError, TypeError) as exc:
        raise CredentialRejected("not base64url") from exc


def _key(secret: bytes, purpose: bytes) -> bytes:
    # One derived key per purpose, so a ticket can never pass as a resume token or any other HMAC of the hub.
    return hmac.new(secret, purpose, hashlib.sha256).digest()


def new_nonce() -> str:
    """96 random bits, URL-safe."""
    return secrets.token_urlsafe(12)


def issue_ticket(secret: bytes, claims: TicketClaims) -> str:
    """`<payload>.<mac>`, both base64url; the payload is the claims as compact JSON."""
    payload = json.dumps(
        [
            claims.room,
            claims.role,
            claims.principal_kind,
            claims.principal_id,
            claims.municipality_code,
            claims.post_office_id,
            claims.expires_at,
            claims.nonce,
        ],
        separators=(",", ":"),
    ).encode()
    mac = hmac.new(_key(secret, _TICKET_PURPOSE), payload, hashlib.sha256).digest()
    return f"{_b64(payload)}.{_b64(mac)}"


def verify_ticket(secret: bytes, ticket: str, *, now: float | None = None) -> TicketClaims:
    """The claims of an authentic, unexpired ticket; CredentialRejected otherwise (not checked for reuse here)."""
    if len(ticket) > 2048 or ticket.count(".") != 1:
        raise CredentialRejected("malformed ticket")
    payload_text, mac_text = ticket.split(".")
    payload = _unb64(payload_text)
    expected = hmac.new(_key(secret, _TICKET_PURPOSE), payload, hashlib.sha256).digest()
    if not hmac.compare_digest(expected, _unb64(mac_text)):
        raise CredentialRejected("ticket signature does not verify")
    try:
        room, role, kind, principal_id, municipality, office, expires_at, nonce = json.loads(payload)
    except (ValueError, TypeError) as exc:
        raise CredentialRejected("malformed ticket payload") from exc
    if (
        role not in ("clerk", "officer")
        or kind not in ("account", "device")
        or not isinstance(expires_at, int)
    ):
        raise CredentialRejected("malformed ticket payload")
    if expires_at <= (time.time() if now is None else now):
        raise CredentialRejected("ticket expired")
    return TicketClaims(room, role, kind, principal_id, municipality, office, expires_at, nonce)


def issue_resume_token(secret: bytes, claims: ResumeClaims) -> str:
    """`<nonce>.<expiry>.<principal id>.<mac>`: short enough for the wire's 128-character limit."""
    body = f"{claims.nonce}.{claims.expires_at}.{claims.principal_id}"
    return f"{body}.{_b64(_resume_mac(secret, claims.room, claims.role, body))}"


def verify_resume_token(
    secret: bytes, token: str, *, room: str, role: ParticipantRole, now: float | None = None
) -> ResumeClaims:
    """The claims of an authentic, unexpired resume token for this room and role; CredentialRejected otherwise."""
    parts = token.split(".")
    if len(parts) != 4 or not parts[1].isdigit():
        raise CredentialRejected("malformed resume token")
    nonce, expiry, principal_id, mac_text = parts
    body = f"{nonce}.{expiry}.{principal_id}"
    if not hmac.compare_digest(_resume_mac(secret, room, role, body), _unb64(mac_text)):
        raise CredentialRejected("resume token does not verify for this room and role")
    if int(expiry) <= (time.time() if now is None else now):
        raise CredentialRejected("resume token expired")
    return ResumeClaims(room, role, principal_id, int(expiry), nonce)


def _resume_mac(secret: bytes, room: str, role: str, body: str) -> bytes:
    # Room and role are bound into the MAC but not carried: the join frame names them.
    message = f"{room}\n{role}\n{body}".encode()
    return hmac.new(_key(secret, _RESUME_PURPOSE), message, hashlib.sha256).digest()[:16]


class NonceBook:
    """Nonces already spent in this process, each kept until its credential would have expired anyway."""

    def __init__(self) -> None:
        self._spent: dict[str, float] = {}
        self._prune_at = 1024

    def spend(self, nonce: str, expires_at: float) -> bool:
        """Record `nonce` as used; False when it already was."""
        if nonce in self._spent:
            return False
        self._spent[nonce] = expires_at
        if len(self._spent) >= self._prune_at:
            now = time.time()
            self._spent = {n: exp for n, exp in self._spent.items() if exp > now}
            self._prune_at = max(1024, 2 * len(self._spent))
        return True

    def burn(self, nonce: str, expires_at: float) -> None:
        """Record `nonce` as used, whether or not it was before."""
        self.spend(nonce, expires_at)

    def spent(self, nonce: str) -> bool:
        """Whether `nonce` was used."""
        return nonce in self._spent
