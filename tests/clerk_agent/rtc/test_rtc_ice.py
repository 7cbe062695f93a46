"""ICE configuration: always an explicit server list, TURN credentials checked before use."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from aiortc.rtcconfiguration import RTCIceTransportPolicy

from clerk_agent.rtc.errors import IceConfigError
from clerk_agent.rtc.ice import build_configuration, turn_expiry
from clerk_agent.rtc.peer import AgentPeer, CallMedia
from clerk_agent.rtc.sinks import NullSink
from clerk_agent.rtc.sources import ToneMicrophone
from service.wire.signaling import IceServer

NOW = 1_900_000_000.0


@dataclass(frozen=True)
class SettingsServer:
    """The agent's settings shape, to show build_configuration is not tied to the wire model."""

    urls: tuple[str, ...]
    username: str | None = None
    credential: str | None = None


def test_no_servers_is_an_explicit_empty_list() -> None:
    config = build_configuration([])
    # None would make aiortc use stun.l.google.com.
    assert config.iceServers == []
    assert config.iceTransportPolicy is RTCIceTransportPolicy.ALL


def test_stun_and_turn_from_the_hub_with_relay_policy() -> None:
    servers = [
        IceServer(urls=["stun:192.0.2.1:3478"]),
        IceServer(
            urls=["turn:192.0.2.1:3478?transport=udp"], username=f"{int(NOW) + 600}:clerk", credential="pw"
        ),
    ]
    config = build_configuration(servers, relay_only=True, now=lambda: NOW)
    assert config.iceTransportPolicy is RTCIceTransportPolicy.RELAY
    assert config.iceServers is not None
    stun, turn = config.iceServers
    assert stun.urls == ["stun:192.0.2.1:3478"]
    assert stun.username is None
    assert (turn.username, turn.credential) == (f"{int(NOW) + 600}:clerk", "pw")


def test_settings_shaped_servers_are_accepted() -> None:
    config = build_configuration(
        [SettingsServer(urls=("turns:turn.example.invalid:443",), username="u", credential="p")]
    )
    assert config.iceServers is not None
    assert config.iceServers[0].urls == ["turns:turn.example.invalid:443"]


@pytest.mark.parametrize(
    ("servers", "relay_only", "message"),
    [
        (
            [SettingsServer(urls=("turn:192.0.2.1",), username=f"{int(NOW) - 1}:clerk", credential="p")],
            False,
            "expired",
        ),
        ([SettingsServer(urls=("turn:192.0.2.1",))], False, "username and a credential"),
        ([SettingsServer(urls=("stun:192.0.2.1",))], True, "relay-only"),
        ([], True, "relay-only"),
        ([SettingsServer(urls=("http://192.0.2.1",))], False, "STUN/TURN"),
        ([SettingsServer(urls=())], False, "STUN/TURN"),
    ],
)
def test_unusable_settings_are_refused_up_front(
    servers: list[SettingsServer], relay_only: bool, message: str
) -> None:
    with pytest.raises(IceConfigError, match=message) as caught:
        build_configuration(servers, relay_only=relay_only, now=lambda: NOW)
    assert not caught.value.retriable


def test_turn_expiry_reads_coturn_rest_usernames() -> None:
    assert turn_expiry("1900000600:clerk") == 1_900_000_600
    assert turn_expiry("static-user") is None
    assert turn_expiry("abc:clerk") is None


async def test_offer_gathers_host_candidates_only_with_no_servers() -> None:
    mic = ToneMicrophone()
    peer = AgentPeer(build_configuration([]), CallMedia(audio=mic), sink=NullSink())
    try:
        await peer.prepare()
        offer = await peer.create_offer()
    finally:
        await peer.close()
        mic.stop()
    candidates = [line for line in offer.splitlines() if line.startswith("a=candidate:")]
    assert candidates
    assert all(" typ host" in line for line in candidates)
    assert "127.0.0.1" not in offer  # aioice leaves loopback out; a machine without another address gets none
