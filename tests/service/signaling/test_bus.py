"""The room bus: in-process fan-out, and PostgreSQL LISTEN/NOTIFY between two nodes with chunked payloads."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from service.config import Settings
from service.signaling.bus import (
    NOTIFY_CHUNK_BYTES,
    MemoryBus,
    PostgresBus,
    asyncpg_dsn,
    channel_of,
    make_bus,
    split_utf8,
)
from tests._services import missing_service
from tests.conftest import PG_ADMIN_URL


def test_split_utf8_never_cuts_a_character() -> None:
    text = ("窓口ブリッジ" * 3000 + "x") * 2
    pieces = split_utf8(text.encode(), 7000)
    assert all(len(piece) <= 7000 for piece in pieces)
    assert "".join(piece.decode() for piece in pieces) == text  # every piece decodes on its own
    assert split_utf8(b"", 10) == [b""]


def test_channel_names_are_identifiers() -> None:
    name = channel_of("case_AbC-_" + "z" * 54)
    assert name.isidentifier()
    assert name == name.lower()
    assert len(name) <= 63
    assert channel_of("a") != channel_of("b")


def test_bus_selection(settings: Settings) -> None:
    sqlite = settings.model_copy(update={"database_url": "sqlite+aiosqlite:///x.db", "signaling_bus": "auto"})
    assert type(make_bus(sqlite)) is MemoryBus
    pg = "postgresql+asyncpg://hub@db:5432/hub"
    assert type(make_bus(settings.model_copy(update={"database_url": pg}))) is PostgresBus
    forced = settings.model_copy(update={"database_url": pg, "signaling_bus": "memory"})
    assert type(make_bus(forced)) is MemoryBus
    with pytest.raises(ValueError, match="PostgreSQL"):
        make_bus(sqlite.model_copy(update={"signaling_bus": "postgres"}))
    assert asyncpg_dsn(pg) == "postgresql://hub@db:5432/hub"


async def test_memory_bus_fans_out_to_the_room_only() -> None:
    bus = MemoryBus()
    a1, a2, b = await bus.subscribe("a"), await bus.subscribe("a"), await bus.subscribe("b")
    await bus.publish("a", "one")
    await bus.publish("a", "two")
    assert [await a1.get(), await a1.get()] == ["one", "two"]
    assert [await a2.get(), await a2.get()] == ["one", "two"]
    await bus.unsubscribe(a2)
    await bus.publish("a", "three")
    assert await a1.get() == "three"
    await bus.publish("b", "bee")
    assert await b.get() == "bee"


@pytest.fixture
async def two_nodes() -> AsyncIterator[tuple[PostgresBus, PostgresBus]]:
    """Two PostgreSQL buses (two "replicas") on the test server's admin database: NOTIFY needs no table."""
    nodes = (PostgresBus(asyncpg_dsn(PG_ADMIN_URL)), PostgresBus(asyncpg_dsn(PG_ADMIN_URL)))
    try:
        for node in nodes:
            await node.start()
    except OSError:
        for node in nodes:
            await node.close()
        missing_service(f"PostgreSQL at {PG_ADMIN_URL}")
    yield nodes
    for node in nodes:
        await node.close()


async def test_postgres_bus_crosses_nodes_in_order_with_large_payloads(
    two_nodes: tuple[PostgresBus, PostgresBus],
) -> None:
    one, two = two_nodes
    room = "case_bustest0000000000000"
    here, there = await one.subscribe(room), await two.subscribe(room)
    other_room = await two.subscribe("case_elsewhere")
    big = "a=candidate:" + "窓" * 30_000  # ~90 KB in UTF-8: 13 NOTIFY chunks
    assert len(big.encode()) > 10 * NOTIFY_CHUNK_BYTES
    for message in ("first", big, "last"):
        await one.publish(room, message)
    async with asyncio.timeout(5):
        received = [await there.get() for _ in range(3)]
    assert received == ["first", big, "last"]
    # The publisher's own subscribers got it once, locally (not a second time back from PostgreSQL).
    assert [await here.get() for _ in range(3)] == ["first", big, "last"]
    await asyncio.sleep(0.2)
    assert here.pending() == 0
    assert other_room.pending() == 0
    # After the last local unsubscribe the node stops listening to the room.
    await two.unsubscribe(there)
    await one.publish(room, "unheard")
    await asyncio.sleep(0.2)
    assert there.pending() == 0


async def _terminate(node: PostgresBus, pid: int) -> None:
    """Kill one of `node`'s server backends, as a database restart or failover does."""
    import asyncpg  # type: ignore[import-untyped]

    admin = await asyncpg.connect(asyncpg_dsn(PG_ADMIN_URL))
    try:
        assert await admin.fetchval("SELECT pg_terminate_backend($1)", pid)
    finally:
        await admin.close()


async def test_postgres_bus_listens_again_after_losing_its_connection(
    two_nodes: tuple[PostgresBus, PostgresBus],
) -> None:
    one, two = two_nodes
    room = "case_reconnect000000000000"
    there = await two.subscribe(room)
    await one.publish(room, "before")
    async with asyncio.timeout(5):
        assert await there.get() == "before"

    assert two._listen is not None
    await _terminate(two, two._listen.get_server_pid())
    async with asyncio.timeout(10):
        while not (two.reconnects == 1 and two.listening):  # noqa: ASYNC110 - no event for a reconnect
            await asyncio.sleep(0.02)
    # A room subscribed after the reconnect is heard too, and the old room still is.
    later = await two.subscribe("case_afterreconnect0000000")
    await one.publish(room, "after")
    await one.publish("case_afterreconnect0000000", "later")
    async with asyncio.timeout(5):
        assert await there.get() == "after"
        assert await later.get() == "later"

    # The NOTIFY side: a dead connection is reopened on the next publish, and the message still goes out.
    assert one._notify is not None
    await _terminate(one, one._notify.get_server_pid())
    await asyncio.sleep(0.1)
    await one.publish(room, "resent")
    async with asyncio.timeout(5):
        assert await there.get() == "resent"
