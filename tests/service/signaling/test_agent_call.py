"""The agent's real call loop (`run_call`) ↔ an aiortc officer stand-in through the hub under uvicorn.

Both directions carry media: the counter's camera and tone reach the officer, the officer's tone reaches the
counter's sink and shows in CallStatus; the agent's connection metrics land on the case.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import httpx
import numpy as np
import pytest
from numpy.typing import NDArray
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from clerk_agent.link.signaling import HubSignaling
from clerk_agent.media import synthetic_media
from clerk_agent.photo.camera import SceneCamera
from clerk_agent.rtc.call import take_call
from clerk_agent.rtc.ice import build_configuration
from clerk_agent.rtc.peer import AgentPeer, CallMedia
from clerk_agent.rtc.sinks import RecorderSink
from clerk_agent.rtc.sources import ToneMicrophone
from service.accounts.roles import Role
from service.wire.signaling import (
    AnswerMessage,
    ByeMessage,
    OfferMessage,
    RenegotiateMessage,
    SeqCounter,
)
from tests.factories import World
from tests.service.conftest import CaseDriver
from tests.service.signaling._hub import TIMEOUTS, assign_officer, counter_running


async def _until(check: Callable[[], bool], timeout_s: float = 5.0) -> None:
    async with asyncio.timeout(timeout_s):
        while not check():  # noqa: ASYNC110 - CallStatus and the sinks have no events to wait on
            await asyncio.sleep(0.02)


def _officer_peer(officer: HubSignaling, mic: ToneMicrophone, saw: RecorderSink) -> AgentPeer:
    return AgentPeer(
        build_configuration(officer.ice_servers, relay_only=officer.relay_only),
        CallMedia(audio=mic, receive=frozenset({"audio", "video"})),
        sink=saw,
        timeouts=TIMEOUTS,
    )


@pytest.mark.usefixtures("hub_url")  # the sockets need the hub listening
async def test_run_call_sends_camera_and_tone_and_hears_the_officer(
    world: World,
    driver: CaseDriver,
    officer_http: httpx.AsyncClient,
    client: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    case = await driver.create()
    await assign_officer(sessionmaker, case["id"], world.a.usernames[Role.officer])
    async with counter_running(world.device_a, officer_http, case["id"]) as counter:
        status, agent, officer = counter.status, counter.agent, counter.officer
        mic, saw = ToneMicrophone(660.0), RecorderSink()
        peer = _officer_peer(officer, mic, saw)
        try:
            await _until(lambda: status.phase == "waiting_officer")
            assert not status.officer_audio
            await officer.connect()
            await peer.prepare(pre_offer=False)
            await take_call(peer, officer, room=case["id"], seq=SeqCounter())
            await peer.wait_connected()
            await peer.wait_first_frame("video")
            await peer.wait_first_frame("audio")
            # The counter's tone is real sound, not silence; the picture is the call's 640×480.
            await _until(lambda: saw.frames["video"] >= 5 and saw.audio_peak > 1000)
            assert {(f.width, f.height) for f in saw.video} == {(640, 480)}
            # The officer's voice reaches the counter and CallStatus says so.
            await _until(lambda: status.officer_audio_frames > 10 and status.officer_audio)
            assert status.phase == "connected"
            assert status.offers == 1

            # The agent reported its side of the call: connected, heard the officer, over a host pair.
            await _until(lambda: bool(status.metrics))
            listed: list[dict[str, object]] = []

            async def reported() -> bool:
                response = await client.get(
                    f"/api/v1/cases/{case['id']}/connection-metrics", headers=world.h("a", Role.officer)
                )
                listed[:] = response.json()["items"]
                return bool(listed)

            async with asyncio.timeout(5):
                while not await reported():  # noqa: ASYNC110 - polling the hub's route
                    await asyncio.sleep(0.05)
            (row,) = listed
            assert (row["side"], row["role"], row["candidate_pair"]) == ("clerk", "offerer", "host")
            for milestone in ("signaling_ms", "dtls_ms", "first_audio_ms"):
                assert isinstance(row[milestone], float), milestone
            assert row["first_frame_ms"] is None  # the counter receives no video

            await officer.send(ByeMessage(seq=0, room=case["id"], reason="hangup"))
            async with asyncio.timeout(5):
                await agent
            assert status.phase == "ended"
        finally:
            await peer.close()
            mic.stop()


@pytest.mark.usefixtures("hub_url")
async def test_run_call_answers_renegotiation_with_a_fresh_peer(
    world: World,
    driver: CaseDriver,
    officer_http: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    case = await driver.create()
    await assign_officer(sessionmaker, case["id"], world.a.usernames[Role.officer])
    async with counter_running(world.device_a, officer_http, case["id"], report_metrics=False) as counter:
        status, officer = counter.status, counter.officer
        mic, saw = ToneMicrophone(660.0), RecorderSink()
        peers: list[AgentPeer] = []
        try:
            await officer.connect()
            first = _officer_peer(officer, mic, saw)
            peers.append(first)
            await first.prepare(pre_offer=False)
            await take_call(first, officer, room=case["id"], seq=SeqCounter())
            await first.wait_connected()
            await first.close()
            await officer.send(
                RenegotiateMessage(seq=0, room=case["id"], ice_restart=True, reason="network_drop")
            )
            offer = await officer.recv()
            while not isinstance(offer, OfferMessage):
                offer = await officer.recv()
            assert offer.ice_restart
            # aiortc's sender stops its track when the peer closes: the new peer gets its own microphone.
            mic = ToneMicrophone(660.0)
            second = _officer_peer(officer, mic, RecorderSink())
            peers.append(second)
            await second.prepare(pre_offer=False)
            answer = await second.accept_offer(offer.sdp)
            await officer.send(AnswerMessage(seq=0, room=case["id"], sdp=answer))
            await second.wait_connected()
            await second.wait_first_frame("video")
            await _until(lambda: status.offers == 2 and status.officer_audio)
        finally:
            for each in peers:
                await each.close()
            mic.stop()


@pytest.mark.usefixtures("hub_url")
async def test_a_stale_answer_does_not_end_the_call(
    world: World,
    driver: CaseDriver,
    officer_http: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    case = await driver.create()
    await assign_officer(sessionmaker, case["id"], world.a.usernames[Role.officer])
    async with counter_running(world.device_a, officer_http, case["id"], report_metrics=False) as counter:
        status, agent, officer = counter.status, counter.agent, counter.officer
        mic = ToneMicrophone(660.0)
        peer = _officer_peer(officer, mic, RecorderSink())
        try:
            await officer.connect()
            await peer.prepare(pre_offer=False)
            offer = await officer.recv()
            while not isinstance(offer, OfferMessage):
                offer = await officer.recv()
            answer = AnswerMessage(seq=0, room=case["id"], sdp=await peer.accept_offer(offer.sdp))
            await officer.send(answer)
            await peer.wait_connected()
            # The same answer again, as when an answer crosses a renegotiation: refused, and the call goes on.
            await officer.send(answer)
            await _until(lambda: status.detail == "peer_failed")
            assert not agent.done()
            assert status.phase == "connected"
            await _until(lambda: status.officer_audio)
        finally:
            await peer.close()
            mic.stop()


@pytest.mark.usefixtures("hub_url")
async def test_the_officer_sees_what_is_held_up_to_the_counter_camera(
    world: World,
    driver: CaseDriver,
    officer_http: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    # One camera for the stills and the call: a card held up for a still is in the officer's picture too.
    case = await driver.create()
    await assign_officer(sessionmaker, case["id"], world.a.usernames[Role.officer])
    scene = SceneCamera(1280, 960)
    async with counter_running(
        world.device_a, officer_http, case["id"], source=synthetic_media(scene).call_source()
    ) as counter:
        status, officer = counter.status, counter.officer
        mic, saw = ToneMicrophone(660.0), RecorderSink()
        peer = _officer_peer(officer, mic, saw)

        def latest_bgr() -> NDArray[np.uint8] | None:
            if not saw.video:
                return None
            picture: NDArray[np.uint8] = saw.video[-1].to_ndarray(format="bgr24")  # type: ignore[assignment]
            return picture

        def shows(colour: tuple[int, int, int]) -> bool:
            picture = latest_bgr()
            if picture is None:
                return False
            centre = picture[160:320, 213:426].reshape(-1, 3).mean(axis=0)
            return bool(np.all(np.abs(centre - np.array(colour)) < 30))

        try:
            await _until(lambda: status.phase == "waiting_officer")
            await officer.connect()
            await peer.prepare(pre_offer=False)
            await take_call(peer, officer, room=case["id"], seq=SeqCounter())
            await peer.wait_connected()
            await peer.wait_first_frame("video")
            colour = (40, 180, 220)  # BGR: a plain amber card filling the camera
            scene.show(np.full((960, 1280, 3), colour, dtype=np.uint8))
            await _until(lambda: shows(colour), timeout_s=10.0)
            # Put down: the moving pattern is back (many colours, not one).
            scene.show(None)

            def pattern() -> bool:
                picture = latest_bgr()
                return picture is not None and not shows(colour) and float(picture.std()) > 30

            await _until(pattern, timeout_s=10.0)
        finally:
            await peer.close()
            mic.stop()
