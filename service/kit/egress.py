"""Where the hub may send requests on a client's behalf (webhooks): strict URL parsing and an address policy.

A URL a client registers is parsed strictly and stored in one canonical form; anything a lenient parser could read two
ways (octal, hex, integer or short IPv4 forms, leading zeros, control characters, user info, fragments, stray
brackets) is refused. Every address the host resolves to must be a public unicast address — or be named by the
operator's allow-list — at registration and again at every new connection (`service/kit/egress_http.py` connects to
the very address checked here, so a DNS answer that changes in between cannot redirect a request).

Standard library `ipaddress` classifies addresses; `idna` (IDNA 2008) turns an internationalised host name into its
A-label form.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

import idna

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

MAX_URL_LENGTH = 500
_URL = re.compile(
    r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://(?P<authority>[^/?#]*)(?P<path>/[^?#]*)?"
    r"(?:\?(?P<query>[^#]*))?(?P<fragment>#.*)?",
    re.DOTALL,
)
_BRACKETED = re.compile(r"\[(?P<address>[0-9A-Fa-f:.]+)\](?::(?P<port>[^:]*))?")
_PORT = re.compile(r"[1-9][0-9]{0,4}")
_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
# What a lenient IPv4 parser (inet_aton, WHATWG URL) reads as a number: digits, or 0x and hex digits.
_NUMERIC_LABEL = re.compile(r"[0-9]+|0x[0-9a-f]*")
# RFC 3986 path and query characters, with well-formed percent escapes only.
_PATH = re.compile(r"(?:[A-Za-z0-9\-._~!$&'()*+,;=:@/?]|%[0-9A-Fa-f]{2})*")

# Names of cloud instance-metadata services (they also live on link-local or private addresses, refused anyway).
METADATA_NAMES = frozenset(
    {
        "metadata",
        "metadata.google.internal",
        "metadata.goog",
        "metadata.azure.com",
        "instance-data",
        "instance-data.ec2.internal",
        "metadata.tencentyun.com",
    }
)
# Suffixes that name the hub's own machine or site network, never a municipality's public endpoint.
LOCAL_SUFFIXES = ("localhost", "local", "internal", "localdomain", "home.arpa", "arpa", "intranet", "lan")

_SHARED = ipaddress.IPv4Network("100.64.0.0/10")  # carrier-grade NAT (RFC 6598)
_NAT64 = ipaddress.IPv6Network(
    "64:ff9b::/96"
)  # well-known NAT64 prefix: the last 32 bits are an IPv4 address
_NAT64_LOCAL = ipaddress.IPv6Network("64:ff9b:1::/48")
_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")
_UNIQUE_LOCAL = ipaddress.IPv6Network("fc00::/7")


class UrlRejected(ValueError):
    """The URL is not in the strict form the hub accepts; `reason` is a stable code."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class DestinationRefused(Exception):
    """The host is one the hub must not connect to (loopback, private, metadata, …); `reason` is a stable code."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class DestinationUnresolved(OSError):
    """The host name has no address now (it may have one later; every send resolves it again)."""


@dataclass(frozen=True)
class Destination:
    """A parsed URL: its canonical text (what is stored and requested), host and port."""

    url: str
    scheme: str
    host: str  # lower-case A-label name, or the canonical address text (IPv6 without brackets)
    port: int
    address: IPAddress | None


def _host_name(raw: str) -> str:
    """The canonical lower-case A-label form of a host name; refuses anything DNS would not carry."""
    if not raw.isascii():
        try:
            # IDNA 2008 without UTS 46 mapping: full-width digits or invisible characters are refused, not mapped.
            raw = idna.encode(raw).decode("ascii")
        except idna.IDNAError as exc:
            raise UrlRejected("host", f"host is not a valid internationalised domain name: {exc}") from exc
    host = raw.lower()
    labels = host.split(".")
    if len(host) > 253 or not all(_LABEL.fullmatch(label) for label in labels):
        raise UrlRejected(
            "host", "host must be a domain name of letters, digits and hyphens (no trailing dot)"
        )
    for label in labels:
        if label.startswith("xn--"):
            try:
                idna.decode(label)
            except idna.IDNAError as exc:
                raise UrlRejected("host", f"host has an invalid A-label: {label}") from exc
    return host


def _ipv4_or_name(raw: str) -> tuple[str, IPAddress | None]:
    host = _host_name(raw)
    if _NUMERIC_LABEL.fullmatch(host.rsplit(".", 1)[-1]):
        # The last label is numeric, so a lenient parser reads the host as an IPv4 address: only the dotted-quad
        # decimal form without leading zeros is unambiguous (127.1, 0177.0.0.1, 0x7f.1 and 2130706433 are not).
        try:
            address = ipaddress.IPv4Address(host)
        except ValueError:
            address = None
        if address is None or str(address) != host:
            raise UrlRejected(
                "ip_form", "an IPv4 address must be written as four decimal numbers (e.g. 192.0.2.10)"
            )
        return host, address
    return host, None


def parse_url(url: str) -> Destination:
    """Parse an http(s) URL strictly; raises UrlRejected with a stable reason."""
    if any(ord(c) < 0x21 or ord(c) == 0x7F for c in url):
        raise UrlRejected("control_character", "url must not contain spaces or control characters")
    if "\\" in url:
        raise UrlRejected("backslash", "url must not contain a backslash")
    match = _URL.fullmatch(url)
    if match is None:
        raise UrlRejected("malformed", "url must be an absolute http(s) URL")
    scheme = match["scheme"].lower()
    if scheme not in ("http", "https"):
        raise UrlRejected("scheme", "url must use http or https")
    if match["fragment"] is not None:
        raise UrlRejected("fragment", "url must not have a fragment (#…)")
    authority = match["authority"]
    if "@" in authority:
        raise UrlRejected("userinfo", "url must not carry credentials; the signature authenticates the hub")
    address: IPAddress | None
    if authority.startswith("["):
        bracketed = _BRACKETED.fullmatch(authority)
        if bracketed is None:
            raise UrlRejected("brackets", "an IPv6 address must be written as [address] (no zone id)")
        try:
            address = ipaddress.IPv6Address(bracketed["address"])
        except ValueError as exc:
            raise UrlRejected("ip_form", "the bracketed host is not an IPv6 address") from exc
        # One text per address (RFC 5952; an IPv4-mapped address may also end in dotted-quad, as Python 3.13 writes).
        spellings = {address.compressed} | (
            {f"::ffff:{address.ipv4_mapped}"} if address.ipv4_mapped else set()
        )
        if bracketed["address"].lower() not in spellings:
            raise UrlRejected(
                "ip_form", f"write the IPv6 address in its canonical form: [{address.compressed}]"
            )
        host, port_text, host_text = address.compressed, bracketed["port"], f"[{address.compressed}]"
    else:
        if "[" in authority or "]" in authority or authority.count(":") > 1:
            raise UrlRejected("brackets", "an IPv6 address must be written as [address]")
        raw_host, colon, port_text_or_empty = authority.partition(":")
        port_text = port_text_or_empty if colon else None
        if not raw_host:
            raise UrlRejected("host", "url must name a host")
        host, address = _ipv4_or_name(raw_host)
        host_text = host
    default_port = 443 if scheme == "https" else 80
    if port_text is not None:
        if not _PORT.fullmatch(port_text) or int(port_text) > 65535:
            raise UrlRejected("port", "port must be a number from 1 to 65535 without leading zeros")
        port = int(port_text)
    else:
        port = default_port
    path, query = match["path"] or "/", match["query"]
    if not _PATH.fullmatch(path) or (query is not None and not _PATH.fullmatch(query)):
        raise UrlRejected("path", "path and query must be ASCII, with other characters percent-encoded")
    canonical = f"{scheme}://{host_text}{'' if port_text is None else f':{port}'}{path}"
    if query is not None:
        canonical += f"?{query}"
    if len(canonical) > MAX_URL_LENGTH:
        raise UrlRejected("too_long", f"url must be at most {MAX_URL_LENGTH} characters")
    return Destination(canonical, scheme, host, port, address)


def address_refusal(address: IPAddress) -> str | None:
    """Why the hub must not connect to `address` (a stable reason), or None for a public unicast address."""
    if isinstance(address, ipaddress.IPv6Address):
        # Forms that carry an IPv4 address are judged by that address (a dual-stack socket connects to it).
        if address.ipv4_mapped is not None:
            return address_refusal(address.ipv4_mapped)
        if address in _NAT64:
            return address_refusal(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
        if address.sixtofour is not None:
            return address_refusal(address.sixtofour)
        if address in _IPV4_COMPATIBLE or address in _NAT64_LOCAL:
            return "reserved"
    if address.is_unspecified:
        return "unspecified"
    if address.is_loopback:
        return "loopback"
    if address.is_link_local:
        return "link_local"  # 169.254.169.254 and fe80::/10: where instance metadata lives
    if address.is_multicast:
        return "multicast"
    if isinstance(address, ipaddress.IPv4Address) and address in _SHARED:
        return "shared"
    if isinstance(address, ipaddress.IPv6Address) and (address in _UNIQUE_LOCAL or address.is_site_local):
        return "unique_local"
    if address.is_reserved:
        return "reserved"
    if address.is_private:
        return "private"
    if not address.is_global:
        return "reserved"
    return None


def name_refusal(host: str) -> str | None:
    """Why a host name is refused before it is resolved, or None."""
    if host in METADATA_NAMES:
        return "metadata_host"
    if any(host == suffix or host.endswith(f".{suffix}") for suffix in LOCAL_SUFFIXES):
        return "local_name"
    if "." not in host:
        return "single_label"  # resolved through the hub's own search domains
    return None


@dataclass(frozen=True)
class AllowedDestinations:
    """The operator's exceptions to the address policy: networks, and host names, each optionally with one port."""

    networks: tuple[tuple[IPNetwork, int | None], ...] = ()
    hosts: tuple[tuple[str, int | None], ...] = ()

    @classmethod
    def parse(cls, entries: Iterable[str]) -> AllowedDestinations:
        """Entries like `127.0.0.1`, `10.20.0.0/16`, `[fd00::1]:8443`, `192.0.2.7:8080`, `backoffice.internal:443`."""
        networks: list[tuple[IPNetwork, int | None]] = []
        hosts: list[tuple[str, int | None]] = []
        for entry in entries:
            text = entry.strip()
            port: int | None = None
            bracketed = re.fullmatch(r"\[([^\]]+)\](?::([0-9]+))?", text)
            if bracketed:
                text, port = bracketed[1], int(bracketed[2]) if bracketed[2] else None
            elif text.count(":") == 1:
                text, port_text = text.split(":")
                if not _PORT.fullmatch(port_text) or int(port_text) > 65535:
                    raise ValueError(f"allowed destination {entry!r}: bad port")
                port = int(port_text)
            try:
                networks.append((ipaddress.ip_network(text, strict=True), port))
                continue
            except ValueError:
                if bracketed or ":" in text or "/" in text:
                    raise ValueError(f"allowed destination {entry!r} is not an address or network") from None
            try:
                hosts.append((_host_name(text), port))
            except UrlRejected as exc:
                raise ValueError(f"allowed destination {entry!r}: {exc}") from exc
        return cls(tuple(networks), tuple(hosts))

    def allows_address(self, address: IPAddress, port: int) -> bool:
        """Whether the operator allowed this address (and port)."""
        mapped = address.ipv4_mapped if isinstance(address, ipaddress.IPv6Address) else None
        return any(
            (address in network or (mapped is not None and mapped in network)) and allowed in (None, port)
            for network, allowed in self.networks
        )

    def allows_host(self, host: str, port: int) -> bool:
        """Whether the operator allowed this host name (and port); its addresses are then not checked."""
        return any(host == name and allowed in (None, port) for name, allowed in self.hosts)


class Resolver(Protocol):
    """Turns a host name into addresses (DNS in production; tests answer from a table)."""

    async def resolve(self, host: str, port: int) -> list[IPAddress]:
        """Every address of `host`, or DestinationUnresolved."""
        ...


class SystemResolver:
    """The operating system's resolver (getaddrinfo in a thread), bounded in time."""

    def __init__(self, timeout: float) -> None:
        self._timeout = timeout

    async def resolve(self, host: str, port: int) -> list[IPAddress]:
        """Every address of `host`, in the resolver's order, without duplicates."""
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(self._timeout):
                infos = await loop.getaddrinfo(
                    host, port, type=socket.SOCK_STREAM, flags=socket.AI_NUMERICSERV
                )
        except (OSError, TimeoutError) as exc:
            raise DestinationUnresolved(f"{host} does not resolve") from exc
        found: list[IPAddress] = []
        for *_, sockaddr in infos:
            address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
            if address not in found:
                found.append(address)
        if not found:
            raise DestinationUnresolved(f"{host} has no address")
        return found


class EgressPolicy:
    """The address policy with the operator's allow-list and a resolver; shared by registration and sending."""

    def __init__(self, allowed: AllowedDestinations, resolver: Resolver) -> None:
        self.allowed = allowed
        self.resolver = resolver

    def _check_address(self, address: IPAddress, port: int, host: str) -> None:
        if self.allowed.allows_address(address, port):
            return
        reason = address_refusal(address)
        if reason is not None:
            raise DestinationRefused(
                reason, f"{host} is a {reason.replace('_', ' ')} address, not a public one"
            )

    async def addresses(self, host: str, port: int) -> list[IPAddress]:
        """The addresses to connect to for `host`, each one allowed; DestinationRefused or DestinationUnresolved."""
        try:
            literal: IPAddress | None = ipaddress.ip_address(host)
        except ValueError:
            literal = None
        if literal is not None:
            if str(literal) != host:
                raise DestinationRefused("ip_form", "non-canonical address")
            self._check_address(literal, port, host)
            return [literal]
        try:
            name = _host_name(host)
        except UrlRejected as exc:
            raise DestinationRefused(exc.reason, str(exc)) from exc
        if _NUMERIC_LABEL.fullmatch(name.rsplit(".", 1)[-1]):
            raise DestinationRefused("ip_form", "non-canonical address")
        if self.allowed.allows_host(name, port):
            return await self.resolver.resolve(name, port)
        reason = name_refusal(name)
        if reason is not None:
            raise DestinationRefused(reason, f"{name} names a local or metadata service")
        found = await self.resolver.resolve(name, port)
        # One refused address refuses the name: the resolver may hand out any of them on the next lookup.
        for address in found:
            self._check_address(address, port, name)
        return found

    async def check(self, destination: Destination) -> None:
        """At registration: refuse a destination whose host is or resolves to a refused address.

        A name that does not resolve now is accepted (its records may not exist yet); every send checks again.
        """
        try:
            await self.addresses(destination.host, destination.port)
        except DestinationUnresolved:
            return
