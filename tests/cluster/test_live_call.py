"""A replica killed with SIGKILL during a live call (docs/operations.md §Cluster): the counter agent's real call
flow and the scripted officer reconnect through HAProxy to the other replica, the call goes on (media is peer to
peer), a renegotiation crosses the surviving replica, and the case continues with nothing acknowledged lost.
"""

from __future__ import annotations

import asyncio

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from clerk_agent.link.auth import DeviceAuth
from clerk_agent.link.hub import hub_http_client
from clerk_agent.rtc.call import take_call
from clerk_agent.rtc.ice import build_configuration
from clerk_agent.rtc.peer import AgentPeer, CallMedia
from clerk_agent.rtc.sinks import RecorderSink
from clerk_agent.rtc.sources import ToneMicrophone
from deploy.cluster import Cluster
from service.accounts.roles import Role
from service.config import Settings
from service.wire.signaling import AnswerMessage, OfferMessage, RenegotiateMessage, SeqCounter
from tests.cluster._traffic import CounterDevice, Seen, acknowledged_states_kept, until
from tests.factories import login, make_tenant
from tests.service.signaling._hub import TIMEOUTS, assign_officer, counter_running

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def _busiest(cluster: Cluster) -> str:
    """The replica holding the most live sessions in HAProxy (the signaling sockets are tunnels there)."""
    from deploy.cluster.loadbalancer import admin_command

    lines = admin_command(cluster.stats_socket, "show stat").splitlines()
    header = lines[0][2:].split(",")
    sessions = {
        row["svname"]: int(row["scur"] or 0)
        for row in (dict(zip(header, line.split(","), strict=False)) for line in lines[1:])
        if row.get("pxname") == "hub_replicas" and row.get("svname") in {r.name for r in cluster.nodes}
    }
    assert any(sessions.values()), sessions
    return max(sessions, key=lambda name: sessions[name])


async def test_replica_killed_during_a_live_call_the_call_and_case_go_on(
    healthy: Cluster, sessionmaker: async_sessionmaker[AsyncSession], seed_settings: Settings
) -> None:
    cluster = healthy
    tenant = await make_tenant(sessionmaker, seed_settings, prefix="99014", name="卯町", office_code="99114")
    device = hub_http_client(
        cluster.url, DeviceAuth(tenant.device_id, tenant.device_key), ca_file=cluster.ca_file
    )
    officer_http = hub_http_client(cluster.url, httpx.Auth(), ca_file=cluster.ca_file)
    seen = Seen()
    counter_api = CounterDevice(cluster.url, cluster.ca_file, tenant, seen)
    peers: list[AgentPeer] = []
    mic = ToneMicrophone(660.0)
    try:
        case_id = await counter_api.case(stop_after="consents")
        assert case_id is not None, seen.failures
        await assign_officer(sessionmaker, case_id, tenant.usernames[Role.officer])
        officer_http.headers.update(await login(officer_http, tenant.usernames[Role.officer]))
        async with counter_running(device, officer_http, case_id, report_metrics=False) as counter:
            status, officer = counter.status, counter.officer
            saw = RecorderSink()
            first = AgentPeer(
                build_configuration(officer.ice_servers, relay_only=officer.relay_only),
                CallMedia(audio=mic, receive=frozenset({"audio", "video"})),
                sink=saw,
                timeouts=TIMEOUTS,
            )
            peers.append(first)
            await officer.connect()
            await first.prepare(pre_offer=False)
            await take_call(first, officer, room=case_id, seq=SeqCounter())
            await first.wait_connected()
            await first.wait_first_frame("video")
            await until(lambda: status.phase == "connected", 20, "the counter connected")

            await asyncio.to_thread(cluster.kill_replica, _busiest(cluster))
            frames_at_kill = saw.frames["video"]
            # Media flows peer to peer, so the picture goes on while both sides find the other replica.
            await until(lambda: saw.frames["video"] > frames_at_kill + 10, 20, "video after the kill")
            # A renegotiation (an ICE restart, as after a network change) crosses the surviving replica.
            await officer.send(
                RenegotiateMessage(seq=0, room=case_id, ice_restart=True, reason="network_drop")
            )
            async with asyncio.timeout(30):
                offer = await officer.recv()
                while not isinstance(offer, OfferMessage):
                    offer = await officer.recv()
            assert offer.ice_restart
            await first.close()
            mic = ToneMicrophone(660.0)  # aiortc stops a closed peer's track: the new peer gets its own
            second = AgentPeer(
                build_configuration(officer.ice_servers, relay_only=officer.relay_only),
                CallMedia(audio=mic, receive=frozenset({"audio", "video"})),
                sink=RecorderSink(),
                timeouts=TIMEOUTS,
            )
            peers.append(second)
            await second.prepare(pre_offer=False)
            answer = await second.accept_offer(offer.sdp)
            await officer.send(AnswerMessage(seq=0, room=case_id, sdp=answer))
            await second.wait_connected()
            await second.wait_first_frame("video")
            # Both ends answered each other through the surviving replica, so whoever sat on the killed one rejoined.
            await until(lambda: status.offers >= 2 and status.officer_audio, 20, "the renegotiated call")
        # The case continues through the load balancer, on the surviving replica.
        queued = await counter_api.post(f"/api/v1/cases/{case_id}/request-verification", {})
        assert queued is not None, seen.failures
        seen.acknowledged[case_id] = str(queued.json()["state"])
    finally:
        for peer in peers:
            await peer.close()
        mic.stop()
        await counter_api.aclose()
        await device.aclose()
        await officer_http.aclose()
    assert seen.failures == []
    await acknowledged_states_kept(sessionmaker, seen.acknowledged)
