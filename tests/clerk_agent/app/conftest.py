"""A real hub (`hub demo` under uvicorn, stopped by PID), the counter agent in-process, and a scripted officer."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from clerk_agent.app import bind_local, run
from clerk_agent.config import AgentSettings
from clerk_agent.flows.cardadmin import CardAdmin
from clerk_agent.flows.cardslot import CardSlot
from clerk_agent.link.hub import HubLink
from tests._procs import free_port

HUB = str(Path(sys.executable).parent / "hub")


@dataclass
class Hub:
    """A hub subprocess on a fixed port and database, restartable for the resilience test."""

    port: int
    env: dict[str, str]
    data_dir: Path
    proc: subprocess.Popen[bytes] | None = None
    log: list[Path] = field(default_factory=list)

    @property
    def base(self) -> str:
        """Its base URL."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def credentials(self) -> dict[str, object]:
        """demo-credentials.json."""
        loaded: dict[str, object] = json.loads((self.data_dir / "demo-credentials.json").read_text())
        return loaded

    def start(self, *, demo: bool) -> None:
        """`hub demo --port` the first time (migrate, seed, serve), `hub serve` after a stop."""
        args = ["demo", "--port", str(self.port)] if demo else ["serve", "--port", str(self.port)]
        out = self.data_dir.parent / f"hub-{len(self.log)}.log"
        self.log.append(out)
        with out.open("wb") as sink:
            self.proc = subprocess.Popen([HUB, *args], env=self.env, stdout=sink, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while True:
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{self.base}/healthz", timeout=1).status_code == 200:
                    return
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"hub did not come up:\n{out.read_text()}")
            time.sleep(0.2)

    def stop(self) -> None:
        """SIGINT by PID, then wait (kill after 15 s)."""
        if self.proc is None:
            return
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc = None


@pytest.fixture(scope="session")
def agent_pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A `hub dev-pki` directory shared by the hub and the virtual card."""
    from service.cardproof.devpki import main as devpki_main

    out = tmp_path_factory.mktemp("agent-pki")
    assert devpki_main(["--out", str(out), "--force"]) == 0
    return out


@pytest.fixture
def hub(fresh_database_url: str, tmp_path: Path, agent_pki: Path) -> Iterator[Hub]:
    """The demo hub on a free port; stopped by PID afterwards."""
    data = tmp_path / "hub"
    env = {
        **os.environ,
        "HUB_DATABASE_URL": fresh_database_url,
        "HUB_DATA_DIR": str(data),
        "HUB_ENVIRONMENT": "development",
        "HUB_DEV_PKI_DIR": str(agent_pki),
        # One demo officer takes a case again right after aborting it (the abort → requeue test).
        "HUB_OFFICER_WRAPUP_SECONDS": "0",
    }
    server = Hub(free_port(), env, data)
    server.start(demo=True)
    try:
        yield server
    finally:
        server.stop()


@dataclass
class Agent:
    """The running agent: its UI base URL and data directory."""

    base: str
    data_dir: Path
    log_records: list[str]


class _Collect:
    def __init__(self, records: list[str]) -> None:
        self.records = records

    def write(self, text: str) -> int:
        self.records.append(text)
        return len(text)

    def flush(self) -> None:
        """Nothing buffered."""


@contextlib.asynccontextmanager
async def agent_running(
    hub: Hub,
    data_dir: Path,
    pki: Path,
    *,
    card_source: str = "virtual",
    card_admin: Callable[[CardSlot, HubLink], CardAdmin] | None = None,
    document_reader: str | None = None,
) -> AsyncIterator[Agent]:
    """`clerk_agent.app.run` on a free loopback port with the in-process virtual card; logs captured.

    `document_reader`: the ID-document reader's PC/SC name (else the demo's virtual documents in process)."""
    import logging

    records: list[str] = []
    handler = logging.StreamHandler(_Collect(records))
    handler.setLevel(logging.DEBUG)
    root = logging.getLogger()
    root.addHandler(handler)
    old_level = root.level
    root.setLevel(logging.DEBUG)
    settings = AgentSettings(
        hub_url=hub.base,
        device_id=str(hub.credentials["device_id"]),
        key_file=hub.data_dir / "demo-device.key",
        card_source=card_source,
        document_reader=document_reader,
        pki_dir=pki,
        data_dir=data_dir,
        ui_port=0,
        poll_seconds=0.3,
        backoff_max_seconds=2.0,
    )
    sock = bind_local(0)
    ready = asyncio.Event()
    task = asyncio.create_task(
        run(settings, ready=ready, sock=sock, card_admin=card_admin), name="agent-under-test"
    )
    try:
        async with asyncio.timeout(20):
            await ready.wait()
        yield Agent(f"http://127.0.0.1:{sock.getsockname()[1]}", settings.data_dir, records)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        root.removeHandler(handler)
        root.setLevel(old_level)


@pytest.fixture
async def agent(hub: Hub, tmp_path: Path, agent_pki: Path) -> AsyncIterator[Agent]:
    """The agent for one test (its data directory in tmp_path)."""
    async with agent_running(hub, tmp_path / "agent", agent_pki) as running:
        yield running


class CounterClient:
    """The counter UI's API as the browser uses it: session cookie and CSRF token from the page."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client
        self.token = ""
        self.responses: list[str] = []

    async def open(self, path: str = "/") -> str:
        """Load a page and keep its CSRF token."""
        page = await self.client.get(path)
        assert page.status_code == 200, page.text
        found = re.search(r'name="csrf-token" content="([0-9a-f]+)"', page.text)
        assert found is not None
        self.token = found.group(1)
        self.responses.append(page.text)
        return page.text

    async def post(self, path: str, body: object = None, *, raw: bytes | None = None) -> dict[str, object]:
        """A state-changing call with the token."""
        headers = {"X-CSRF-Token": self.token}
        if raw is not None:
            response = await self.client.post(path, content=raw, headers=headers)
        else:
            response = await self.client.post(path, json=body or {}, headers=headers)
        self.responses.append(response.text)
        assert response.status_code == 200, response.text
        data: dict[str, object] = response.json()
        return data

    async def state(self, path: str = "/api/state") -> dict[str, object]:
        """The screen's state."""
        response = await self.client.get(path)
        self.responses.append(response.text)
        data: dict[str, object] = response.json()
        return data

    async def until(self, predicate: str, within_s: float = 30.0) -> dict[str, object]:
        """Poll the clerk state until `case.state` equals `predicate` (or the step, prefixed `step:`)."""
        deadline = time.monotonic() + within_s
        while True:
            state = await self.state()
            case = state.get("case")
            progress = state["progress"]
            assert isinstance(progress, dict)
            if predicate.startswith("step:"):
                if progress["current"] == predicate[5:]:
                    return state
            elif isinstance(case, dict) and case.get("state") == predicate:
                return state
            if time.monotonic() > deadline:
                raise AssertionError(f"counter never reached {predicate}: {state}")
            await asyncio.sleep(0.2)


class Officer:
    """The scripted officer through the hub's REST API (what the console does)."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    @classmethod
    async def login(cls, hub: Hub, client: httpx.AsyncClient) -> Officer:
        """Log in as demo-officer."""
        logins = hub.credentials["logins"]
        assert isinstance(logins, dict)
        token = await client.post(
            f"{hub.base}/api/v1/auth/login",
            json={"username": "demo-officer", "password": logins["demo-officer"]},
        )
        assert token.status_code == 200, token.text
        client.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
        client.base_url = httpx.URL(hub.base)
        return cls(client)

    async def accept(self, case_id: str) -> None:
        """Available → the offer for this case → accept."""
        presence = await self.client.put("/api/v1/officers/me/presence", json={"status": "available"})
        assert presence.status_code == 200, presence.text
        offer = await self.client.get("/api/v1/officers/me/offer", params={"wait": 10})
        assert offer.status_code == 200, offer.text
        assert offer.json()["case_id"] == case_id
        accepted = await self.client.post(f"/api/v1/offers/{offer.json()['id']}/accept")
        assert accepted.status_code == 200, accepted.text

    async def state(self, case_id: str) -> str:
        """The case's state as the officer sees it."""
        return str((await self.client.get(f"/api/v1/cases/{case_id}")).json()["state"])

    async def review_and_approve(self, case_id: str) -> None:
        """Once the counter's evidence has reached the hub: begin-review, video live, checklist, liveness, approve.

        The counter shows 「書類の提示が終わりました」 as soon as its write is queued locally; like the console, whose
        審査開始 waits for the case's state, the officer waits for `evidence_captured` rather than race the queue.
        """
        base = f"/api/v1/cases/{case_id}"
        deadline = time.monotonic() + 20
        while (state := await self.state(case_id)) != "evidence_captured":
            assert time.monotonic() < deadline, (
                f"the counter's evidence never reached the hub (state {state})"
            )
            await asyncio.sleep(0.1)
        begun = await self.client.post(f"{base}/begin-review", json={})
        assert begun.status_code == 200, begun.text
        assert (await self.client.post(f"{base}/video-status", json={"state": "live"})).status_code == 200
        checklist = {
            "id_combination": "A1_with_pin",
            "face_match": True,
            "attributes_match": True,
            "eligibility_confirmed": True,
            "documents_authentic": True,
        }
        assert (await self.client.put(f"{base}/checklist", json=checklist)).status_code == 200
        challenge = await self.client.post(f"{base}/liveness-challenges")
        assert challenge.status_code == 201, challenge.text
        passed = await self.client.post(
            f"{base}/liveness-challenges/{challenge.json()['id']}/result", json={"passed": True}
        )
        assert passed.status_code == 200, passed.text
        approved = await self.client.post(f"{base}/approve", json={"attested": True})
        assert approved.status_code == 200, approved.text

    async def evidence_kinds(self, case_id: str) -> list[str]:
        """The kinds of the case's evidence items, oldest first (the assigned officer's view)."""
        listed = await self.client.get(f"/api/v1/cases/{case_id}/evidence")
        assert listed.status_code == 200, listed.text
        return [str(item["kind"]) for item in listed.json()["items"]]

    async def abort(self, case_id: str, reason_code: str) -> None:
        """Abort the live session with a reason (network, picture_quality, …)."""
        aborted = await self.client.post(f"/api/v1/cases/{case_id}/abort", json={"reason_code": reason_code})
        assert aborted.status_code == 200, aborted.text


async def until_view(
    client: CounterClient, path: str, check: Callable[[dict[str, object]], bool], within_s: float = 20.0
) -> dict[str, object]:
    """Poll a screen's state until `check` holds."""
    deadline = time.monotonic() + within_s
    while True:
        view = await client.state(path)
        if check(view):
            return view
        if time.monotonic() > deadline:
            raise AssertionError(f"{path} never got there: {view}")
        await asyncio.sleep(0.2)


async def take_application_photo(counter: CounterClient, applicant: CounterClient) -> dict[str, object]:
    """Live framing preview on, take, the applicant approves on their screen; returns the clerk's state."""
    await counter.post("/api/photo/preview", {"on": True})
    await until_view(counter, "/api/state", lambda v: bool(v["photo"]["frames"]))  # type: ignore[index]
    taken = await counter.post("/api/photo/take")
    assert taken["photo"]["candidate"] is True, taken  # type: ignore[index]
    shown = await until_view(applicant, "/api/applicant/state", lambda v: bool(v["photo_review"]))
    assert shown["photo_review"] is True
    await applicant.post("/api/applicant/photo", {"approved": True})
    return await counter.state()


async def photograph_documents(counter: CounterClient, documents: int = 1) -> dict[str, object]:
    """Each document held up front and tilted (the synthetic camera's test card); waits until all are sent."""
    for number in range(1, documents + 1):
        await counter.post("/api/synthetic-camera", {"scene": "document"})
        await counter.post("/api/documents/capture", {"document": number, "view": "front"})
        await counter.post("/api/synthetic-camera", {"scene": "document_tilt"})
        await counter.post("/api/documents/capture", {"document": number, "view": "tilt"})
    await counter.post("/api/synthetic-camera", {"scene": "pattern"})
    return await until_view(
        counter,
        "/api/state",
        lambda v: all(d["sent"] for d in v["case"]["documents"]),  # type: ignore[index]
        within_s=60,
    )
