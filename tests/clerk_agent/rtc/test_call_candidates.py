"""The agent's call drops the officer's mDNS candidates (they can never resolve across the two networks)."""

from __future__ import annotations

from clerk_agent.flows.call import is_mdns, without_mdns

MDNS = "candidate:842163049 1 udp 2122260223 0b7c0c4e-1d2f-4a3b-9c8d-112233445566.local 54321 typ host generation 0"
HOST = "candidate:1 1 udp 2122260223 10.213.7.2 54321 typ host generation 0"


def test_mdns_candidates_are_recognised_by_their_address_only() -> None:
    assert is_mdns(MDNS)
    assert is_mdns("a=" + MDNS)
    assert not is_mdns(HOST)
    assert not is_mdns("candidate:1 1 udp 1 10.0.0.1 9 typ host ufrag local")  # ".local" elsewhere
    assert not is_mdns("")


def test_without_mdns_keeps_every_other_line() -> None:
    sdp = f"v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na={MDNS}\r\na={HOST}\r\na=end-of-candidates\r\n"
    assert (
        without_mdns(sdp) == f"v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na={HOST}\r\na=end-of-candidates\r\n"
    )
