"""ICE configuration for the agent's peer, always with an explicit server list.

aiortc silently falls back to stun:stun.l.google.com:19302 when `iceServers` is None; offline that costs
DNS lookups and delays, and in production it leaks the counter's address. So the list is always passed,
even empty.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Protocol

from aiortc import RTCConfiguration, RTCIceServer
from aiortc.rtcconfiguration import RTCIceTransportPolicy

from clerk_agent.rtc.errors import IceConfigError


class IceServerLike(Protocol):
    """Anything shaped like one ICE server: the hub's wire `IceServer`, or the agent's settings."""

    @property
    def urls(self) -> Sequence[str]: ...

    @property
    def username(self) -> str | None: ...

    @property
    def credential(self) -> str | None: ...


def turn_expiry(username: str) -> int | None:
    """Expiry (Unix seconds) of a coturn REST-API username `"<expiry>:<user>"`, or None if it has none."""
    head, sep, _ = username.partition(":")
    return int(head) if sep and head.isdigit() else None


def build_configuration(
    servers: Sequence[IceServerLike],
    *,
    relay_only: bool = False,
    now: Callable[[], float] = time.time,
) -> RTCConfiguration:
    """An RTCConfiguration with exactly `servers` (possibly none); IceConfigError if it cannot connect."""
    ice_servers: list[RTCIceServer] = []
    for server in servers:
        urls = list(server.urls)
        if not urls or not all(url.startswith(("stun:", "stuns:", "turn:", "turns:")) for url in urls):
            raise IceConfigError(f"not a STUN/TURN url list: {urls!r}")
        is_turn = any(url.startswith("turn") for url in urls)
        if is_turn:
            if not server.username or not server.credential:
                raise IceConfigError("a TURN server needs a username and a credential")
            expiry = turn_expiry(server.username)
            # coturn refuses an expired REST credential with a bare 401 and aiortc then waits forever in
            # `new` under relay policy, so the expiry is checked here, where it can be reported.
            if expiry is not None and expiry <= now():
                raise IceConfigError(f"TURN credentials expired at {expiry}")
        ice_servers.append(
            RTCIceServer(
                urls=urls,
                username=server.username if is_turn else None,
                credential=server.credential if is_turn else None,
            )
        )
    if relay_only and not any(url.startswith("turn") for server in ice_servers for url in _urls(server)):
        raise IceConfigError("relay-only ICE needs at least one TURN server")
    # The policy must be the enum: a plain string fails later inside RTCIceGatherer with KeyError.
    policy = RTCIceTransportPolicy.RELAY if relay_only else RTCIceTransportPolicy.ALL
    return RTCConfiguration(iceServers=ice_servers, iceTransportPolicy=policy)


def _urls(server: RTCIceServer) -> list[str]:
    return [server.urls] if isinstance(server.urls, str) else list(server.urls)
