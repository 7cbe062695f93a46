"""The hub-mediated rows of bench/connect.py: a real hub under uvicorn, the agent's own `run_call`, and officers.

`HubBench` starts the hub as its own `hub serve` process (fresh SQLite, one synthetic tenant) on a private
veth pair when it can create one (root), else on 127.0.0.1. Each call is a fresh case assigned to the officer, with the agent's `run_call`
already joined and prepared, as while the case waits in the queue. The clock starts when the officer side
starts joining (ticket request) — the officer's accept — and stops at the first decoded video frame there:
- aiortc officer stand-in (`HubSignaling` + `AgentPeer`), direct or relay-only through coturn;
- headless Chromium running the console's own `LiveLink` (municipal_console/static/js/livelink.js) in a
  network namespace, with a fake microphone, first frame from requestVideoFrameCallback; direct, or
  relay-only through a coturn on the namespace's link (Chromium gathers nothing on loopback).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
from pydantic import SecretStr
from sqlalchemy import select, update

from clerk_agent.flows.call import CallStatus, run_call
from clerk_agent.link.auth import DeviceAuth
from clerk_agent.link.signaling import HubSignaling
from clerk_agent.rtc.call import take_call
from clerk_agent.rtc.ice import build_configuration
from clerk_agent.rtc.peer import AgentPeer, CallMedia, PeerTimeouts
from clerk_agent.rtc.sinks import NullSink
from clerk_agent.rtc.sources import MediaSource, SyntheticCamera, ToneMicrophone
from service.accounts.models import Account
from service.accounts.roles import Role
from service.cases.models import Case
from service.config import Environment, IceServerSetting, Settings
from service.db import create_engine, create_sessionmaker, unit_of_work
from service.migrate import upgrade
from service.wire.signaling import SeqCounter
from tests._coturn import Coturn, run_coturn
from tests._procs import stop
from tests.factories import PASSWORD, Tenant, make_tenant
from tests.municipal_console._net import BrowserNet, browser_namespace, chromium_in

TIMEOUTS = PeerTimeouts(answer_s=5, connect_s=5, first_frame_s=5, gather_s=5)
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-domain-reliability",
    "--autoplay-policy=no-user-gesture-required",
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
]
# In the page: import the console's LiveLink, open the call, resolve with start → first presented frame.
LIVELINK_CALL = """async (caseId) => {
  const { LiveLink } = await import('/console/js/livelink.js');
  const video = document.createElement('video');
  video.muted = true; video.autoplay = true; video.playsInline = true;
  document.body.append(video);
  const log = [];
  const quiet = { state: (s) => log.push(s), video() {}, notice: (k, v) => log.push(`${k}:${JSON.stringify(v)}`), stats() {} };
  const started = performance.now();
  const first = new Promise((resolve) => video.requestVideoFrameCallback(() => resolve(performance.now())));
  const link = new LiveLink(caseId, video, quiet);
  window.benchCall = { link, video };
  link.start();
  const limit = new Promise((_, reject) => setTimeout(() => reject(new Error(`no frame in 10 s: ${log.join(' ')}`)), 10000));
  return (await Promise.race([first, limit])) - started;
}"""
LIVELINK_END = """() => { const call = window.benchCall; if (call) { call.link.close(); call.video.remove(); }
  window.benchCall = null; }"""


def _phases(total: float, joined: float, peer: AgentPeer) -> dict[str, float]:
    """The officer's milestones of one call in ms from its ticket request (the peer's own are from the offer)."""
    metrics = peer.metrics()
    offer = total - (metrics.first_frame_ms or 0.0)  # the officer's clock starts when the offer arrives
    marks = {"joined": joined, "offer in": offer}
    for name, value in (
        ("answer out", metrics.signaling_ms),
        ("ICE", metrics.ice_ms),
        ("DTLS", metrics.dtls_ms),
    ):
        if value is not None:
            marks[name] = offer + value
    marks["first frame"] = total
    return marks


def _free_port(host: str) -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def coturn(host: str, log_dir: Path) -> Iterator[Coturn | None]:
    """turnserver on `host` with loopback peers allowed, stopped by PID; None when coturn is not installed."""
    binary = shutil.which("turnserver")
    if binary is None:
        yield None
        return
    with run_coturn(binary, host, log_dir / "turnserver.log", "madoguchi-bench") as turn:
        yield turn


class Hub:
    """One hub app under uvicorn, with the bench tenant's device and officer clients."""

    def __init__(self, database_url: str, origin: str, tenant: Tenant) -> None:
        self.engine = create_engine(database_url)
        self.sessionmaker = create_sessionmaker(self.engine)
        self.origin = origin
        self.tenant = tenant
        self.officer_token = ""
        # Generous timeouts: on a shared machine a request may wait behind other work for seconds.
        self.device = httpx.AsyncClient(
            base_url=origin, auth=DeviceAuth(tenant.device_id, tenant.device_key), timeout=30
        )
        self.officer = httpx.AsyncClient(base_url=origin, timeout=30)

    async def log_in(self) -> None:
        """The officer's session (bearer token) for the stand-in and the page."""
        login = await self.officer.post(
            "/api/v1/auth/login", json={"username": self.tenant.usernames[Role.officer], "password": PASSWORD}
        )
        login.raise_for_status()
        self.officer_token = str(login.json()["access_token"])
        self.officer.headers["Authorization"] = f"Bearer {self.officer_token}"

    async def aclose(self) -> None:
        """Close the clients and the engine."""
        await self.device.aclose()
        await self.officer.aclose()
        await self.engine.dispose()


class HubBench:
    """The hub(s), the namespace and the browser the hub-mediated rows share for one bench run."""

    def __init__(self) -> None:
        self.direct: Hub | None = None
        self.relayed: Hub | None = None
        self.relayed_browser: Hub | None = None  # on the namespace's link, with its own coturn there
        self.net: BrowserNet | None = None
        self.page: Any = None
        self.relayed_page: Any = None
        self.notes: list[str] = []
        # Per direct aiortc-officer call, ms from the ticket request: where the time goes (#18).
        self.phases: list[dict[str, float]] = []
        self._stack = contextlib.AsyncExitStack()

    async def __aenter__(self) -> HubBench:
        await self._stack.__aenter__()
        workdir = Path(self._stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-connect-")))
        try:
            self.net = self._stack.enter_context(browser_namespace())
        except BaseException as exc:  # missing_service() fails like a test; the bench goes on without it
            self.notes.append(f"no network namespace ({type(exc).__name__}): Chromium row skipped")
        host = self.net.host_address if self.net else "127.0.0.1"
        # One database per hub: two hubs' background tasks on one SQLite file would wait on each other's locks.
        self.direct = await self._start_hub(*await self._seeded(workdir / "direct"), host)
        self.relayed = await self._relayed_hub(workdir / "relayed", "127.0.0.1")
        if self.relayed is None:
            self.notes.append("coturn not installed: TURN rows skipped")
        elif self.net is not None:
            # Chromium gathers nothing on loopback (docs/live-link.md §5): its relay and hub sit on the veth link.
            self.relayed_browser = await self._relayed_hub(workdir / "relayed-browser", self.net.host_address)
        if self.net is not None and CHROMIUM.exists():  # noqa: ASYNC240 - once, at set-up
            await self._start_browser(workdir)
        return self

    async def _relayed_hub(self, directory: Path, host: str) -> Hub | None:
        """A hub on `host` that hands out relay-only ICE through its own coturn there; None without coturn."""
        directory.mkdir(parents=True)  # noqa: ASYNC240 - once, at set-up
        turn = self._stack.enter_context(coturn(host, directory))
        if turn is None:
            return None
        seeded, tenant = await self._seeded(directory / "hub")
        relayed = seeded.model_copy(
            update={
                "ice_servers": [IceServerSetting(urls=[f"turn:{turn.host}:{turn.port}?transport=udp"])],
                "turn_secret": SecretStr(turn.secret),
                "turn_ttl_seconds": 600,
                "signaling_relay_only": True,
            }
        )
        return await self._start_hub(relayed, tenant, host)

    async def __aexit__(self, *exc: object) -> None:
        await self._stack.__aexit__(None, None, None)

    @staticmethod
    async def _seeded(directory: Path) -> tuple[Settings, Tenant]:
        """Settings on a fresh, migrated SQLite database, and the bench tenant in it."""
        directory.mkdir(parents=True)  # noqa: ASYNC240 - once, at set-up
        database_url = f"sqlite+aiosqlite:///{directory / 'hub.db'}"
        engine = create_engine(database_url)
        try:
            await upgrade(engine)
            settings = Settings(
                environment=Environment.test,
                database_url=database_url,
                data_dir=directory / "data",
                officer_wrapup_seconds=0,
            )
            tenant = await make_tenant(
                create_sessionmaker(engine), settings, prefix="99001", name="甲市", office_code="99101"
            )
        finally:
            await engine.dispose()
        return settings, tenant

    async def _start_hub(self, base: Settings, tenant: Tenant, host: str) -> Hub:
        """`hub serve` in its own process (as deployed: the hub does not share the peers' event loop)."""
        port = _free_port(host)
        origin = f"http://{host}:{port}"
        env = {
            **os.environ,
            "HUB_ENVIRONMENT": "test",
            "HUB_DATABASE_URL": base.database_url,
            "HUB_DATA_DIR": str(base.data_dir),
            "HUB_HOST": host,
            "HUB_PORT": str(port),
            "HUB_PUBLIC_ORIGIN": origin,
            "HUB_OFFICER_WRAPUP_SECONDS": "0",
            "HUB_ICE_SERVERS": json.dumps([server.model_dump() for server in base.ice_servers]),
            "HUB_TURN_SECRET": base.turn_secret.get_secret_value(),
            "HUB_SIGNALING_RELAY_ONLY": "true" if base.signaling_relay_only else "false",
        }
        log = base.data_dir.parent / "hub.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(  # noqa: S603, ASYNC220 - our own console script, started once
                [str(Path(sys.executable).with_name("hub")), "serve"],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        self._stack.callback(stop, proc)
        hub = Hub(base.database_url, origin, tenant)
        self._stack.push_async_callback(hub.aclose)
        async with asyncio.timeout(30):
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(f"hub serve exited: {log.read_text()[-2000:]}")
                with contextlib.suppress(httpx.TransportError):
                    if (await hub.officer.get("/healthz")).status_code == 200:
                        break
                await asyncio.sleep(0.1)
        await hub.log_in()
        return hub

    async def _start_browser(self, workdir: Path) -> None:
        from playwright.async_api import async_playwright

        if self.net is None or self.direct is None:
            raise RuntimeError("the browser needs the namespace and the direct hub")
        playwright = await self._stack.enter_async_context(async_playwright())
        launcher = chromium_in(self.net.namespace, workdir, str(CHROMIUM))
        hubs = [self.direct] + ([self.relayed_browser] if self.relayed_browser else [])
        origins = ",".join(hub.origin for hub in hubs)
        browser = await playwright.chromium.launch(
            executable_path=str(launcher),
            headless=True,
            args=[*CHROMIUM_ARGS, f"--unsafely-treat-insecure-origin-as-secure={origins}"],
        )
        self._stack.push_async_callback(browser.close)
        self.page = await self._console_page(browser, self.direct)
        if self.relayed_browser is not None:
            self.relayed_page = await self._console_page(browser, self.relayed_browser)

    @staticmethod
    async def _console_page(browser: Any, hub: Hub) -> Any:
        """A page on `hub`'s console, signed in as the bench officer."""
        page = await (await browser.new_context()).new_page()
        await page.goto(f"{hub.origin}/console/")
        # The console's api.js reads its bearer token from sessionStorage: the officer's session, as after login.
        await page.evaluate(
            "(token) => sessionStorage.setItem('madoguchi.console.session',"
            " JSON.stringify({access_token: token, refresh_token: '', username: 'bench'}))",
            hub.officer_token,
        )
        return page

    async def _case_waiting(self, hub: Hub) -> str:
        """A fresh case of the bench tenant with the officer assigned (as after the accept)."""
        created = await hub.device.post(
            "/api/v1/cases",
            json={"municipality_code": hub.tenant.municipality_code, "procedure": "pin_reset"},
        )
        created.raise_for_status()
        case_id = str(created.json()["id"])
        async with unit_of_work(hub.sessionmaker) as session:
            officer_id = await session.scalar(
                select(Account.id).where(Account.username == hub.tenant.usernames[Role.officer])
            )
            await session.execute(update(Case).where(Case.id == case_id).values(officer_id=officer_id))
        return case_id

    @contextlib.asynccontextmanager
    async def _agent(self, hub: Hub) -> AsyncIterator[str]:
        """The agent's run_call on a fresh case, joined and prepared, until the block ends."""
        case_id = await self._case_waiting(hub)
        status = CallStatus()
        source = MediaSource(
            video=SyntheticCamera(640, 480, 30), audio=ToneMicrophone(), video_size=(640, 480)
        )
        agent = asyncio.create_task(
            run_call(hub.device, case_id, status, source=source, timeouts=TIMEOUTS, report_metrics=False)
        )
        try:
            async with asyncio.timeout(10):
                while status.phase != "waiting_officer":
                    if agent.done():
                        raise RuntimeError(f"agent ended: {status.phase} {status.detail}")
                    await asyncio.sleep(0.005)
            yield case_id
        finally:
            agent.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await agent

    async def aiortc_officer(self, *, relayed: bool = False) -> float:
        """Officer stand-in joins (ticket, socket) → takes the agent's offer → first decoded video frame, ms."""
        hub = self.relayed if relayed else self.direct
        if hub is None:
            raise RuntimeError("that hub is not running")
        async with self._agent(hub) as case_id:
            signaling = HubSignaling(hub.officer, case_id, role="officer")
            mic = ToneMicrophone(660)
            peer: AgentPeer | None = None
            try:
                started = time.perf_counter()
                await signaling.connect()
                joined = time.perf_counter()
                peer = AgentPeer(
                    build_configuration(signaling.ice_servers, relay_only=signaling.relay_only),
                    CallMedia(audio=mic, receive=frozenset({"audio", "video"})),
                    sink=NullSink(),
                    timeouts=TIMEOUTS,
                )
                await peer.prepare(pre_offer=False)
                await take_call(peer, signaling, room=case_id, seq=SeqCounter())
                await peer.wait_first_frame("video")
                total = (time.perf_counter() - started) * 1000
                if not relayed:
                    self.phases.append(_phases(total, (joined - started) * 1000, peer))
                return total
            finally:
                if peer is not None:
                    await peer.close()
                await signaling.close()
                mic.stop()

    async def chromium_officer(self, *, relayed: bool = False) -> float:
        """The console's LiveLink in Chromium: start → first presented video frame, ms (the page's clock)."""
        hub, page = (self.relayed_browser, self.relayed_page) if relayed else (self.direct, self.page)
        if hub is None or page is None:
            raise RuntimeError("no browser for that row")
        async with self._agent(hub) as case_id:
            try:
                return float(await page.evaluate(LIVELINK_CALL, case_id))
            finally:
                await page.evaluate(LIVELINK_END)
