"""An httpx transport that connects only to addresses the egress policy allows, pinned per connection.

httpcore opens each TCP connection through a network backend that receives the URL's host name. This backend resolves
the name once, checks every address against the policy, and connects to a checked address itself: the socket never
resolves the name again, so a DNS answer that changes between check and connect (rebinding) cannot redirect it. TLS
still verifies the certificate against the host name (httpcore passes the URL's host as SNI and for verification), and
the Host header is the URL's.
"""

from __future__ import annotations

import functools
import ssl
from collections.abc import Iterable

import anyio
import httpcore
import httpx

from service.kit.egress import DestinationUnresolved, EgressPolicy


class PinnedBackend(httpcore.AsyncNetworkBackend):
    """Resolve, check, connect to the checked address; DestinationRefused propagates unchanged."""

    def __init__(self, policy: EgressPolicy) -> None:
        self._policy = policy
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 — httpcore's backend interface
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        """Open a TCP stream to an allowed address of `host` (the connect timeout covers resolving too)."""
        try:
            with anyio.fail_after(timeout):
                addresses = await self._policy.addresses(host, port)
                failure: Exception = httpcore.ConnectError(f"no address of {host} accepted the connection")
                for address in addresses:
                    try:
                        return await self._inner.connect_tcp(
                            str(address), port, local_address=local_address, socket_options=socket_options
                        )
                    except httpcore.ConnectError as exc:
                        failure = exc
                raise failure
        except TimeoutError as exc:
            raise httpcore.ConnectTimeout(f"connecting to {host} timed out") from exc
        except DestinationUnresolved as exc:
            raise httpcore.ConnectError(str(exc)) from exc

    async def connect_unix_socket(  # httpcore's backend interface: the parameters are unused on purpose
        self,
        path: str,  # noqa: ARG002
        timeout: float | None = None,  # noqa: ASYNC109, ARG002
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,  # noqa: ARG002
    ) -> httpcore.AsyncNetworkStream:
        """Never: a webhook leaves the machine over TCP."""
        raise httpcore.ConnectError("unix sockets are not a webhook destination")

    async def sleep(self, seconds: float) -> None:
        """As the default backend."""
        await self._inner.sleep(seconds)


@functools.cache
def verifying_context() -> ssl.SSLContext:
    """httpx's certificate-verifying TLS context, built once per process (loading the CA bundle costs ~0.1 s of CPU,
    which every app start and every test paid twice); a context is meant to be shared by many connections."""
    return httpx.create_ssl_context(trust_env=False)


class PinnedTransport(httpx.AsyncHTTPTransport):
    """httpx's transport over a connection pool whose connections go through PinnedBackend; no proxies from env."""

    def __init__(self, policy: EgressPolicy, *, limits: httpx.Limits | None = None) -> None:
        limits = limits or httpx.Limits()
        super().__init__(verify=verifying_context(), trust_env=False, limits=limits)
        # httpx takes no network backend, so the pool it built is replaced by the same pool with ours.
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=verifying_context(),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=PinnedBackend(policy),
        )
