"""Tickets, resume tokens, TURN credentials and the rate limit, on plain values."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

import pytest

from clerk_agent.rtc.errors import IceConfigError
from clerk_agent.rtc.ice import build_configuration
from service.config import IceServerSetting
from service.signaling.limits import TokenBucket
from service.signaling.tickets import (
    CredentialRejected,
    NonceBook,
    ResumeClaims,
    TicketClaims,
    issue_resume_token,
    issue_ticket,
    verify_resume_token,
    verify_ticket,
)
from service.signaling.turn import ice_servers_for, turn_credential

SECRET = b"test-secret-of-the-hub"


def _claims() -> TicketClaims:
    # Built when the test runs: a module-level expiry would lapse in a long suite.
    return TicketClaims(
        "case_abc", "officer", "account", "acct_x", "990019", None, int(time.time()) + 30, "nonce-0"
    )


def test_ticket_round_trip_and_refusals() -> None:
    claims = _claims()
    ticket = issue_ticket(SECRET, claims)
    assert verify_ticket(SECRET, ticket) == claims
    with pytest.raises(CredentialRejected, match="signature"):
        verify_ticket(b"another-secret", ticket)
    with pytest.raises(CredentialRejected, match="expired"):
        verify_ticket(SECRET, ticket, now=claims.expires_at)
    payload, mac = ticket.split(".")
    with pytest.raises(CredentialRejected):
        verify_ticket(SECRET, f"{payload[:-2]}AA.{mac}")
    for garbage in ("", "a.b.c", "%%%.%%%", "x" * 5000):
        with pytest.raises(CredentialRejected):
            verify_ticket(SECRET, garbage)


def test_resume_token_fits_the_wire_and_binds_room_and_role() -> None:
    claims = ResumeClaims(
        "case_" + "x" * 59, "clerk", "dev_" + "y" * 36, int(time.time()) + 12 * 3600, "z" * 16
    )
    token = issue_resume_token(SECRET, claims)
    assert 16 <= len(token) <= 128  # JoinMessage.resume_token's limits
    assert verify_resume_token(SECRET, token, room=claims.room, role="clerk") == claims
    with pytest.raises(CredentialRejected):
        verify_resume_token(SECRET, token, room=claims.room, role="officer")
    with pytest.raises(CredentialRejected):
        verify_resume_token(SECRET, token, room="case_other", role="clerk")
    # A ticket's key does not make resume tokens: purposes are separated.
    with pytest.raises(CredentialRejected):
        verify_resume_token(SECRET, issue_ticket(SECRET, _claims()), room="case_abc", role="officer")


def test_nonce_book_spends_once_and_forgets_expired() -> None:
    book = NonceBook()
    assert book.spend("a", time.time() + 60)
    assert not book.spend("a", time.time() + 60)
    for i in range(2000):
        book.spend(f"old{i}", time.time() - 1)
    assert book.spent("a")
    assert not book.spent("old0")  # pruned once it expired


def test_turn_credentials_verify_independently() -> None:
    secret = "coturn-static-auth-secret"
    now = 1_800_000_000
    servers = ice_servers_for(
        [
            IceServerSetting(urls=["stun:stun.example.invalid:3478"]),
            IceServerSetting(urls=["turn:turn.example.invalid:3478?transport=udp"]),
            IceServerSetting(urls=["turns:fixed.example.invalid:5349"], username="u", credential="p"),
        ],
        principal_id="acct_officer",
        turn_secret=secret,
        ttl_s=600,
        now=now,
    )
    stun, minted, fixed = servers
    assert stun.username is None
    assert stun.credential is None
    assert minted.username == f"{now + 600}:acct_officer"
    # coturn's own computation: base64(HMAC-SHA1(static-auth-secret, username)).
    expected = base64.b64encode(
        hmac.new(secret.encode(), minted.username.encode(), hashlib.sha1).digest()
    ).decode()
    assert minted.credential == expected
    assert turn_credential("other", minted.username) != expected
    assert (fixed.username, fixed.credential) == ("u", "p")


def test_expired_turn_credentials_are_reported_by_the_agent() -> None:
    now = time.time()
    [minted] = ice_servers_for(
        [IceServerSetting(urls=["turn:127.0.0.1:3478"])],
        principal_id="dev_x",
        turn_secret="s",
        ttl_s=60,
        now=now,
    )
    build_configuration([minted], relay_only=True, now=lambda: now)
    with pytest.raises(IceConfigError, match="expired"):
        build_configuration([minted], relay_only=True, now=lambda: now + 61)


def test_token_bucket_passes_a_burst_and_refills() -> None:
    clock = [0.0]
    bucket = TokenBucket(10.0, 5, clock=lambda: clock[0])
    assert all(bucket.take() for _ in range(5))
    assert not bucket.take()
    clock[0] += 0.25  # 2.5 tokens
    assert bucket.take()
    assert bucket.take()
    assert not bucket.take()
