"""Kept webhook connections (service/kit/egress_http.py): reused only for a destination checked again, not held by
a receiver's Nagle algorithm, one write per request, and a receiver's idle close retried once on a new connection.

The receiver is a raw asyncio server on 127.0.0.1 that counts its connections and the requests each one carried, and
writes its answer the way many servers do: the head, then the body, as two segments without TCP_NODELAY.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import AsyncIterator

import httpcore
import httpx
import pytest

from service.kit.egress import AllowedDestinations, DestinationRefused, EgressPolicy
from service.kit.egress_http import PinnedTransport, _OneWrite
from tests.service.unit.test_egress import Table


class RawReceiver:
    """Counts connections and requests; `close_second` closes a connection at its second request, unanswered."""

    def __init__(self, *, close_second: bool = False, body: bytes = b"ok") -> None:
        self.close_second = close_second
        self.body = body
        self.connections = 0
        self.requests = 0
        self.port = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Serve requests of one connection until it closes."""
        self.connections += 1
        writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 0)
        served = 0
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(
                    int(line.split(b":")[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                )
                await reader.readexactly(length)
                served += 1
                if self.close_second and served == 2:
                    break
                self.requests += 1
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(self.body))
                await writer.drain()
                await asyncio.sleep(0.001)  # the head leaves as a segment of its own
                writer.write(self.body)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


@contextlib.asynccontextmanager
async def serving(receiver: RawReceiver) -> AsyncIterator[RawReceiver]:
    """Serve `receiver` on a free port of 127.0.0.1."""
    server = await asyncio.start_server(receiver.handle, "127.0.0.1", 0)
    receiver.port = server.sockets[0].getsockname()[1]
    try:
        yield receiver
    finally:
        server.close()


def client_for(table: dict[str, list[str]], *allowed: str) -> tuple[httpx.AsyncClient, PinnedTransport]:
    """An httpx client over a PinnedTransport with `table` as DNS and `allowed` as the operator's allow-list."""
    transport = PinnedTransport(EgressPolicy(AllowedDestinations.parse(allowed), Table(table)))
    return httpx.AsyncClient(transport=transport, timeout=httpx.Timeout(2.0, connect=0.5)), transport


async def post_unread(client: httpx.AsyncClient, url: str) -> int:
    """As the webhook sender: the status decides, the body is left to the transport."""
    async with client.stream("POST", url, content=b"x" * 300) as response:
        return response.status_code


async def until_kept(transport: PinnedTransport, count: int = 1) -> None:
    """Wait for the background drain to hand the connection back."""
    deadline = time.monotonic() + 2
    while sum(len(kept) for kept in transport.pool._idle.values()) < count:
        assert time.monotonic() < deadline, "the connection was not kept"
        await asyncio.sleep(0.002)


async def test_one_connection_serves_every_request_and_a_nagle_receiver_holds_nothing() -> None:
    """A receiver that sends head and body as two segments without TCP_NODELAY: before, reading such a body on a
    reused connection took ~40 ms (its Nagle waits for our delayed ACK); the status never waits for the body, and
    the body is drained within milliseconds (TCP_QUICKACK), so the next request finds the connection kept."""
    async with serving(RawReceiver()) as receiver:
        client, transport = client_for({}, "127.0.0.1")
        async with client:
            url = f"http://127.0.0.1:{receiver.port}/hooks"
            for _ in range(5):
                assert await post_unread(client, url) == 200
                await until_kept(transport)
            # Read in line, as any httpx caller may: no 40 ms stall either.
            started = time.perf_counter()
            for _ in range(5):
                response = await client.post(url, content=b"x")
                assert response.content == b"ok"
            assert time.perf_counter() - started < 0.15
    assert (receiver.connections, receiver.requests, transport.pool.connects) == (1, 10, 1)


async def test_a_kept_connection_is_never_used_for_a_destination_that_no_longer_checks_out() -> None:
    """The name moves to a refused address, then the allow-list drops the address, then the name moves to another
    allowed address: a kept connection to the old address must serve none of these requests."""
    async with serving(RawReceiver()) as receiver:
        table = {"hooks.example": ["127.0.0.1"]}
        client, transport = client_for(table, "127.0.0.1", "192.0.2.0/24")
        async with client:
            url = f"http://hooks.example:{receiver.port}/hooks"
            assert await post_unread(client, url) == 200
            await until_kept(transport)

            table["hooks.example"] = ["10.0.0.7"]  # rebinding to an internal address
            with pytest.raises(DestinationRefused):
                await post_unread(client, url)

            table["hooks.example"] = ["127.0.0.1"]
            transport.pool._policy.allowed = AllowedDestinations.parse(["192.0.2.0/24"])  # no longer allowed
            with pytest.raises(DestinationRefused):
                await post_unread(client, url)

            transport.pool._policy.allowed = AllowedDestinations.parse(["127.0.0.1", "192.0.2.0/24"])
            table["hooks.example"] = ["192.0.2.1"]  # allowed, but elsewhere: a new connection (none answers)
            with pytest.raises(httpx.TransportError):
                await post_unread(client, url)
            assert transport.pool._idle == {}, "the connection to the old address was kept"
    assert receiver.requests == 1


async def test_a_connection_the_receiver_closes_at_the_next_request_is_retried_once_on_a_new_one() -> None:
    """A receiver's idle timeout may close a kept connection as our request leaves: one more try, on a new one."""
    async with serving(RawReceiver(close_second=True)) as receiver:
        client, transport = client_for({}, "127.0.0.1")
        async with client:
            url = f"http://127.0.0.1:{receiver.port}/hooks"
            assert await post_unread(client, url) == 200
            await until_kept(transport)
            assert await post_unread(client, url) == 200
    assert (receiver.connections, receiver.requests) == (2, 2)


async def test_a_long_response_body_closes_its_connection_instead_of_being_read() -> None:
    async with serving(RawReceiver(body=b"y" * 200_000)) as receiver:
        client, transport = client_for({}, "127.0.0.1")
        async with client:
            url = f"http://127.0.0.1:{receiver.port}/hooks"
            assert await post_unread(client, url) == 200
            deadline = time.monotonic() + 2
            while transport.pool._drains:
                assert time.monotonic() < deadline
                await asyncio.sleep(0.005)
            assert transport.pool._idle == {}
            assert await post_unread(client, url) == 200
    assert receiver.connections == 2


class Recording(httpcore.AsyncNetworkStream):
    """A stream that records its writes and answers reads with nothing."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:  # noqa: ASYNC109 — the interface
        """Record one write."""
        self.writes.append(buffer)

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:  # noqa: ASYNC109 — the interface
        """Nothing to read."""
        return b""

    async def aclose(self) -> None:
        """Nothing to close."""


async def test_head_and_body_leave_in_one_write() -> None:
    inner = Recording()
    connection = httpcore.AsyncHTTP11Connection(
        httpcore.Origin(b"http", b"receiver.test", 80), _OneWrite(inner)
    )
    with pytest.raises(httpcore.RemoteProtocolError):  # the recording stream never answers
        await connection.handle_async_request(
            httpcore.Request(
                "POST",
                "http://receiver.test/hooks",
                headers={"Host": "receiver.test", "Content-Length": "2"},
                content=b"{}",
            )
        )
    assert len(inner.writes) == 1
    assert inner.writes[0].startswith(b"POST /hooks HTTP/1.1\r\n")
    assert inner.writes[0].endswith(b"\r\n\r\n{}")
