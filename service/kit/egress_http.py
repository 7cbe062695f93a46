"""An httpx transport that connects only to addresses the egress policy allows, and reuses a connection only for a
request whose destination was checked again and still includes that connection's address.

Every request resolves its host and checks every address against the policy (`EgressPolicy.addresses`), as every new
connection did before connections were kept. A kept connection is then reused only if (a) its origin — scheme, the
canonical host name or address, port — is the request's, and (b) the address it is connected to is among the addresses
this request's check just returned. A DNS answer that changed (rebinding to a refused address refuses the request
before any connection is looked at; a move to another allowed address leaves the old connection unused, and it is
closed), or an allow-list that no longer admits the address, therefore never reaches a kept socket. A new connection
goes to a checked address itself (the socket never resolves the name again). TLS verifies the certificate against the
host name (SNI and verification use the URL's host), and a kept TLS connection serves only that host name.

Why the sockets are kept, and how (issue #18): a connection per request cost ~1 ms of connect. Kept connections were
tried once and dropped after a 40 ms stall on a reused connection; that stall is a receiver writing its response head
and body as two segments without TCP_NODELAY (Nagle holds the body until our ACK of the head, which Linux delays up
to 40 ms once the connection is past its first exchanges). A client cannot turn the receiver's Nagle off, so the
sender never waits for a response body: the status line decides the attempt, and the body is drained afterwards in
the background (at most `DRAIN_BYTES`, for at most `DRAIN_SECONDS`); only a connection whose response was read to its
end goes back to the pool, any other is closed. Our own side writes each request's head and body in one write on a
TCP_NODELAY socket, so no segment of ours waits for the receiver's delayed ACK either.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import socket
import ssl
from collections.abc import AsyncIterable, AsyncIterator, Sequence
from dataclasses import dataclass

import anyio
import httpcore
import httpx

from service.kit.egress import DestinationUnresolved, EgressPolicy, IPAddress

KEEPALIVE_SECONDS = 4.0
"""How long a connection is kept idle: under the 5 s idle timeout of common servers (uvicorn, Node.js, Apache), so we
close first; a server that closed earlier is noticed before reuse (its socket is readable) or retried once."""
IDLE_PER_ORIGIN = 8
"""Idle connections kept per origin (the worker's default concurrency)."""
DRAIN_BYTES = 64 * 1024
"""A response body longer than this is not read to its end: the connection is closed instead of kept."""
DRAIN_SECONDS = 2.0
"""A response body not complete within this time closes its connection."""
_NODELAY = (socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
_QUICKACK = (socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1) if hasattr(socket, "TCP_QUICKACK") else None


class _OneWrite(httpcore.AsyncNetworkStream):
    """Holds what httpcore writes until it reads, so a request's head and body leave in one write (httpcore writes
    them separately: two segments, and two wake-ups of the receiver, for every webhook)."""

    _FLUSH_AT = 64 * 1024

    def __init__(self, inner: httpcore.AsyncNetworkStream) -> None:
        self._inner = inner
        self._pending = bytearray()
        self._timeout: float | None = None

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:  # noqa: ASYNC109 — httpcore's interface
        """Queue `buffer`; a large body is written as it comes."""
        self._pending += buffer
        self._timeout = timeout
        if len(self._pending) >= self._FLUSH_AT:
            await self._flush()

    async def _flush(self) -> None:
        if self._pending:
            data = bytes(self._pending)
            self._pending.clear()
            await self._inner.write(data, timeout=self._timeout)

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:  # noqa: ASYNC109 — httpcore's interface
        """Send what is queued, then read."""
        # As httpcore does for its own writes: a receiver may answer and close before taking the whole request,
        # so a failed write still lets its answer be read.
        with contextlib.suppress(httpcore.WriteError):
            await self._flush()
        if _QUICKACK is not None:
            sock = self._inner.get_extra_info("socket")
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.setsockopt(*_QUICKACK)
        return await self._inner.read(max_bytes, timeout=timeout)

    async def aclose(self) -> None:
        """Close the socket."""
        await self._inner.aclose()

    def get_extra_info(self, info: str) -> object:
        """As the inner stream (httpcore asks whether an idle socket is readable, i.e. closed by the server)."""
        return self._inner.get_extra_info(info)


_Key = tuple[bytes, bytes, int]  # an origin's scheme, host and port (httpcore's Origin is not hashable)


def _key(origin: httpcore.Origin) -> _Key:
    return (origin.scheme, origin.host, origin.port)


@dataclass
class _Kept:
    """A connection and the checked address it is connected to."""

    address: IPAddress
    connection: httpcore.AsyncHTTP11Connection


class _Body:
    """A response body: read by the caller, or drained by the pool after the caller closes it unread."""

    def __init__(
        self, pool: PinnedPool, origin: httpcore.Origin, kept: _Kept, inner: AsyncIterable[bytes]
    ) -> None:
        self._pool = pool
        self._origin = origin
        self._kept = kept
        self._inner = inner
        self._read = False
        self._closed = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._inner:
            yield chunk
        self._read = True

    async def aclose(self) -> None:
        """Hand the connection back: kept once its response is read to the end, else closed."""
        if self._closed:
            return
        self._closed = True
        if self._read:
            await self._pool.release(self._origin, self._kept, self._inner)
        else:
            self._pool.drain(self._origin, self._kept, self._inner)


class PinnedPool(httpcore.AsyncConnectionPool):
    """HTTP/1.1 connections per origin and checked address. httpx uses only the request interface of its pool
    (`handle_async_request`, `aclose`), which this class implements in place of httpcore's pool."""

    def __init__(self, policy: EgressPolicy, ssl_context: ssl.SSLContext) -> None:
        super().__init__(ssl_context=ssl_context)
        self._policy = policy
        self._ssl = ssl_context
        self._backend = httpcore.AnyIOBackend()
        self._idle: dict[_Key, list[_Kept]] = {}
        self._drains: set[asyncio.Task[None]] = set()
        self._closing = False
        self.connects = 0  # how many connections were opened (tests and benches read it)

    async def handle_async_request(self, request: httpcore.Request) -> httpcore.Response:
        """Check the destination, then send on a kept connection to a checked address or on a new one."""
        origin = request.url.origin
        host = origin.host.decode("ascii")
        timeouts = request.extensions.get("timeout", {})
        connect_timeout: float | None = timeouts.get("connect")
        addresses = await self._checked(host, origin.port, connect_timeout)
        kept = await self._take(origin, addresses)
        if kept is not None:
            try:
                return await self._send(origin, kept, request)
            except (httpcore.RemoteProtocolError, httpcore.ReadError, httpcore.WriteError):
                # The receiver closed the kept connection as the request went out (its idle timeout), before any
                # answer: once more on a new connection. Receivers de-duplicate by event id, as for every retry.
                pass
        fresh = await self._connect(origin, host, addresses, connect_timeout)
        return await self._send(origin, fresh, request)

    async def _checked(self, host: str, port: int, within: float | None) -> Sequence[IPAddress]:
        """Every allowed address of `host` now; DestinationRefused propagates unchanged (httpx does not wrap it)."""
        try:
            with anyio.fail_after(within):
                return await self._policy.addresses(host, port)
        except TimeoutError as exc:
            raise httpcore.ConnectTimeout(f"resolving {host} timed out") from exc
        except DestinationUnresolved as exc:
            raise httpcore.ConnectError(str(exc)) from exc

    async def _take(self, origin: httpcore.Origin, addresses: Sequence[IPAddress]) -> _Kept | None:
        """The most recently used kept connection of `origin` to one of `addresses`; closes what may not be used."""
        stale: list[_Kept] = []
        for key, kept_list in list(self._idle.items()):
            for kept in list(kept_list):
                if kept.connection.has_expired() or (key == _key(origin) and kept.address not in addresses):
                    kept_list.remove(kept)
                    stale.append(kept)
            if not kept_list:
                del self._idle[key]
        chosen = self._idle[_key(origin)].pop() if self._idle.get(_key(origin)) else None
        for kept in stale:
            await kept.connection.aclose()
        return chosen

    async def _connect(
        self, origin: httpcore.Origin, host: str, addresses: Sequence[IPAddress], within: float | None
    ) -> _Kept:
        """A new connection to the first checked address that accepts (TLS verified against `host`)."""
        try:
            with anyio.fail_after(within):
                failure: Exception = httpcore.ConnectError(f"no address of {host} accepted the connection")
                for address in addresses:
                    try:
                        stream = await self._backend.connect_tcp(
                            str(address), origin.port, socket_options=[_NODELAY]
                        )
                    except httpcore.ConnectError as exc:
                        failure = exc
                        continue
                    if origin.scheme == b"https":
                        try:
                            stream = await stream.start_tls(self._ssl, server_hostname=host)
                        except BaseException:
                            await stream.aclose()
                            raise
                    self.connects += 1
                    connection = httpcore.AsyncHTTP11Connection(
                        origin, _OneWrite(stream), keepalive_expiry=KEEPALIVE_SECONDS
                    )
                    return _Kept(address, connection)
                raise failure
        except TimeoutError as exc:
            raise httpcore.ConnectTimeout(f"connecting to {host} timed out") from exc

    async def _send(
        self, origin: httpcore.Origin, kept: _Kept, request: httpcore.Request
    ) -> httpcore.Response:
        response = await kept.connection.handle_async_request(request)
        if not isinstance(response.stream, AsyncIterable):
            raise TypeError("an async connection answers with an async body")
        return httpcore.Response(
            status=response.status,
            headers=response.headers,
            content=_Body(self, origin, kept, response.stream),
            extensions=response.extensions,
        )

    def drain(self, origin: httpcore.Origin, kept: _Kept, body: AsyncIterable[bytes]) -> None:
        """Read the rest of a response in the background, then keep or close its connection."""
        task = asyncio.get_running_loop().create_task(self._drain(origin, kept, body))
        self._drains.add(task)
        task.add_done_callback(self._drains.discard)

    async def _drain(self, origin: httpcore.Origin, kept: _Kept, body: AsyncIterable[bytes]) -> None:
        try:
            read = 0
            with anyio.fail_after(DRAIN_SECONDS):
                async for chunk in body:
                    read += len(chunk)
                    if read > DRAIN_BYTES:
                        break
        except Exception:  # noqa: S110 — a broken or slow body only means the connection is not kept
            pass
        finally:
            await self.release(origin, kept, body)

    async def release(self, origin: httpcore.Origin, kept: _Kept, body: AsyncIterable[bytes]) -> None:
        """Close the response; its connection is kept only if the exchange is complete (httpcore closes it else)."""
        close = getattr(body, "aclose", None)
        if close is not None:
            await close()
        if not kept.connection.is_idle():
            return
        if self._closing:
            await kept.connection.aclose()
            return
        kept_list = self._idle.setdefault(_key(origin), [])
        kept_list.append(kept)
        if len(kept_list) > IDLE_PER_ORIGIN:
            await kept_list.pop(0).connection.aclose()

    async def aclose(self) -> None:
        """Stop the drains and close every kept connection."""
        self._closing = True
        for task in list(self._drains):
            task.cancel()
        for task in list(self._drains):
            with contextlib.suppress(BaseException):
                await task
        idle, self._idle = self._idle, {}
        for kept_list in idle.values():
            for kept in kept_list:
                await kept.connection.aclose()


@functools.cache
def verifying_context() -> ssl.SSLContext:
    """httpx's certificate-verifying TLS context, built once per process (loading the CA bundle costs ~0.1 s of CPU,
    which every app start and every test paid twice); a context is meant to be shared by many connections."""
    return httpx.create_ssl_context(trust_env=False)


class PinnedTransport(httpx.AsyncHTTPTransport):
    """httpx's transport over PinnedPool; no proxies from the environment."""

    def __init__(self, policy: EgressPolicy) -> None:
        super().__init__(verify=verifying_context(), trust_env=False)
        # httpx takes no pool of ours, so the pool it built is replaced (httpx only calls its request interface).
        self._pool = PinnedPool(policy, verifying_context())

    @property
    def pool(self) -> PinnedPool:
        """The pool (tests and benches count its connections)."""
        if not isinstance(self._pool, PinnedPool):
            raise TypeError("the pool was replaced")
        return self._pool
