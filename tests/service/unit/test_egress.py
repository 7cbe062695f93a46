"""The egress policy on plain values, and the pinned transport's refusals as httpx callers see them."""

from __future__ import annotations

import ipaddress

import httpx
import pytest

from service.kit.egress import (
    AllowedDestinations,
    DestinationRefused,
    DestinationUnresolved,
    EgressPolicy,
    IPAddress,
    address_refusal,
    parse_url,
)
from service.kit.egress_http import PinnedTransport


class Table:
    """A resolver answering from a dict."""

    def __init__(self, table: dict[str, list[str]]) -> None:
        self.table = table

    async def resolve(self, host: str, port: int) -> list[IPAddress]:
        """The table's addresses, or DestinationUnresolved."""
        if host not in self.table:
            raise DestinationUnresolved(host)
        return [ipaddress.ip_address(a) for a in self.table[host]]


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("8.8.8.8", None),
        ("2606:4700:4700::1111", None),
        ("64:ff9b::808:808", None),  # NAT64 of a public address: an IPv6-only hub reaches IPv4 receivers so
        ("::ffff:808:808", None),
        ("2002:808:808::1", None),
        ("127.0.0.1", "loopback"),
        ("0.0.0.0", "unspecified"),  # noqa: S104 — classified, never bound
        ("169.254.169.254", "link_local"),
        ("100.64.0.1", "shared"),
        ("10.0.0.1", "private"),
        ("224.0.0.251", "multicast"),
        ("240.0.0.1", "reserved"),
        ("fd00::1", "unique_local"),
        ("fec0::1", "unique_local"),
        ("fe80::1", "link_local"),
        ("::ffff:7f00:1", "loopback"),
        ("64:ff9b::a9fe:a9fe", "link_local"),
        ("2002:a9fe:a9fe::", "link_local"),
        ("::7f00:1", "reserved"),
    ],
)
def test_address_policy_refuses_internal_forms_and_only_those(address: str, reason: str | None) -> None:
    """A public address must stay deliverable (an over-broad rule would break every receiver)."""
    assert address_refusal(ipaddress.ip_address(address)) == reason


def test_allow_list_entries_parse_and_match_ports() -> None:
    allowed = AllowedDestinations.parse(
        ["127.0.0.1:8080", "10.0.0.0/8", "[fd00::1]:443", "Backoffice.Internal"]
    )
    assert allowed.allows_address(ipaddress.ip_address("127.0.0.1"), 8080)
    assert not allowed.allows_address(ipaddress.ip_address("127.0.0.1"), 8081)
    assert allowed.allows_address(ipaddress.ip_address("10.9.8.7"), 1)
    assert allowed.allows_address(ipaddress.ip_address("::ffff:10.9.8.7"), 1)
    assert allowed.allows_address(ipaddress.ip_address("fd00::1"), 443)
    assert allowed.allows_host("backoffice.internal", 80)
    for bad in ["10.0.0.1/8", "[::1", "host:0", "a..b", "fd00::/7:80"]:
        with pytest.raises(ValueError, match="allowed destination"):
            AllowedDestinations.parse([bad])


async def test_pinned_transport_refuses_before_connecting_and_httpx_does_not_wrap_it() -> None:
    """The sender tells a refusal from an unreachable host by this exception type."""
    policy = EgressPolicy(AllowedDestinations(), Table({"inside.example": ["10.0.0.7"]}))
    async with httpx.AsyncClient(transport=PinnedTransport(policy)) as client:
        for url in ["http://127.0.0.1:9/", "http://inside.example/", "http://localhost/"]:
            with pytest.raises(DestinationRefused):
                await client.post(url)
        with pytest.raises(httpx.ConnectError):
            await client.post("http://unknown.example/")
    assert parse_url("http://inside.example/").host == "inside.example"
