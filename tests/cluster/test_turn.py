"""The cluster's TURN relay (`Cluster(turn=True)`, `deploy/cluster/up --turn`): a counter joining a case's room
through HAProxy is handed coturn's address with credentials its replica minted, coturn accepts them and relays
datagrams to a peer, and refuses a forged password (so it really checks)."""

from __future__ import annotations

import asyncio

import pytest
from aioice.stun import TransactionFailed
from aioice.turn import create_turn_endpoint
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from clerk_agent.link.auth import DeviceAuth
from clerk_agent.link.hub import hub_http_client
from clerk_agent.link.signaling import HubSignaling
from deploy.cluster import Cluster
from service.config import Settings
from tests.cluster._traffic import CounterDevice, Seen
from tests.factories import make_tenant

pytestmark = [pytest.mark.e2e]


class _Inbox(asyncio.DatagramProtocol):
    """Datagrams received, in a queue."""

    def __init__(self) -> None:
        self.received: asyncio.Queue[tuple[bytes, tuple[str, int]]] = asyncio.Queue()

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.received.put_nowait((data, addr))


async def test_replicas_hand_out_turn_credentials_that_coturn_accepts(
    cluster: Cluster, sessionmaker: async_sessionmaker[AsyncSession], seed_settings: Settings
) -> None:
    coturn = cluster.coturn
    assert coturn is not None
    tenant = await make_tenant(sessionmaker, seed_settings, prefix="99015", name="辰村", office_code="99115")
    counter = CounterDevice(cluster.url, cluster.ca_file, tenant, Seen())
    device = hub_http_client(
        cluster.url, DeviceAuth(tenant.device_id, tenant.device_key), ca_file=cluster.ca_file
    )
    signaling: HubSignaling | None = None
    loop = asyncio.get_running_loop()
    peer_transport, peer = await loop.create_datagram_endpoint(_Inbox, local_addr=("127.0.0.1", 0))
    try:
        case_id = await counter.case(stop_after="check-in")
        assert case_id is not None, counter.seen.failures
        signaling = HubSignaling(device, case_id, role="clerk")
        await signaling.connect()
        [server] = signaling.ice_servers
        assert server.urls == coturn.urls
        assert server.username is not None
        assert server.credential is not None
        assert server.username.endswith(f":{tenant.device_id}")

        for transport in ("udp", "tcp"):
            relay, mine = await create_turn_endpoint(
                _Inbox,
                ("127.0.0.1", coturn.port),
                server.username,
                server.credential,
                transport=transport,
            )
            try:
                host, port = relay.get_extra_info("sockname")
                assert host == "127.0.0.1"
                assert coturn.relay_ports[0] <= port <= coturn.relay_ports[1]
                # Through the relay to a peer and back: the peer sees the relayed address, not ours.
                relay.sendto(f"hello over {transport}".encode(), peer_transport.get_extra_info("sockname"))
                async with asyncio.timeout(5):
                    data, seen_from = await peer.received.get()
                assert data == f"hello over {transport}".encode()
                assert seen_from == (host, port)
                peer_transport.sendto(b"back", seen_from)
                async with asyncio.timeout(5):
                    echoed, _ = await mine.received.get()
                assert echoed == b"back"
            finally:
                relay.close()

        # aioice closes its socket when the allocation is refused.
        with pytest.raises(TransactionFailed, match="401"):
            await create_turn_endpoint(
                _Inbox, ("127.0.0.1", coturn.port), server.username, "forged-password", transport="udp"
            )
    finally:
        peer_transport.close()
        if signaling is not None:
            await signaling.close()
        await device.aclose()
        await counter.aclose()
