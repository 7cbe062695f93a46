"""Well-behaved clients for the fault tests: counters walking cases through the load balancer, and what they saw.

A well-behaved client sends an Idempotency-Key with every state-changing request, and on a 503 waits for its
Retry-After and sends the same request again (the key makes a replay harmless). Everything else it records: a
transport error or any other status is a failure the fault tests count.
"""

from __future__ import annotations

import asyncio
import secrets
import ssl
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from clerk_agent.link.auth import DeviceAuth
from service.cases.models import Case
from tests.factories import CONSENTS, ELIGIBLE, Tenant, shinseisho_id

# The counter's path to the officer queue, then a withdrawal: two webhook events per case (queued, closed).
STEPS: tuple[tuple[str, dict[str, Any], str], ...] = (
    ("check-in", {}, "checked_in"),
    ("precheck", {"answers": ELIGIBLE}, "eligibility_precheck"),
    ("consents", {"consents": CONSENTS}, "eligibility_precheck"),
    ("request-verification", {}, "queued_for_officer"),
    ("withdraw", {"reason_code": "other"}, "withdrawn"),
)
MAX_RETRY_AFTER_S = 3.0


@dataclass
class Seen:
    """What the clients saw: statuses, failures, and every acknowledged (2xx) case state."""

    statuses: Counter[int] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    acknowledged: dict[str, str] = field(default_factory=dict)
    retry_after_missing: int = 0
    requests: int = 0


class CounterDevice:
    """One counter (a device) of a tenant, through the load balancer."""

    def __init__(self, base_url: str, ca_file: Path, tenant: Tenant, seen: Seen) -> None:
        self.tenant = tenant
        self.seen = seen
        self.http = httpx.AsyncClient(
            base_url=base_url,
            verify=ssl.create_default_context(cafile=str(ca_file)),
            auth=DeviceAuth(tenant.device_id, tenant.device_key),
            timeout=30,
        )

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self.http.aclose()

    async def post(self, path: str, body: dict[str, Any]) -> httpx.Response | None:
        """POST with an Idempotency-Key; retried on 503 after Retry-After; None after a failure (recorded)."""
        key = secrets.token_urlsafe(16)
        deadline = time.monotonic() + 60
        while True:
            self.seen.requests += 1
            try:
                response = await self.http.post(path, json=body, headers={"Idempotency-Key": key})
            except httpx.TransportError as exc:
                self.seen.failures.append(f"POST {path}: {type(exc).__name__} {exc}")
                return None
            self.seen.statuses[response.status_code] += 1
            if response.status_code == 503 and time.monotonic() < deadline:
                retry_after = response.headers.get("retry-after")
                if retry_after is None or not retry_after.isdigit():
                    self.seen.retry_after_missing += 1
                    retry_after = "1"
                await asyncio.sleep(min(float(retry_after), MAX_RETRY_AFTER_S))  # the server asked for it
                continue
            if response.status_code >= 300:
                self.seen.failures.append(f"POST {path}: {response.status_code} {response.text[:300]}")
                return None
            return response

    async def case(self, *, stop_after: str | None = None) -> str | None:
        """Open a case and walk it through STEPS (up to `stop_after`); its id, or None if a step failed."""
        body = {
            "municipality_code": self.tenant.municipality_code,
            "procedure": "card_application",
            "shinseisho_id": shinseisho_id(),
        }
        created = await self.post("/api/v1/cases", body)
        if created is None:
            return None
        case_id = str(created.json()["id"])
        self.seen.acknowledged[case_id] = str(created.json()["state"])
        for action, payload, _ in STEPS:
            done = await self.post(f"/api/v1/cases/{case_id}/{action}", payload)
            if done is None:
                return None
            self.seen.acknowledged[case_id] = str(done.json()["state"])
            if action == stop_after:
                break
        return case_id


async def run_counters(counters: list[CounterDevice], until: asyncio.Event, *, minimum: int = 1) -> list[str]:
    """Every counter opens and walks cases until `until` is set (each at least `minimum`); the cases' ids."""
    done: list[str] = []

    async def loop(counter: CounterDevice) -> None:
        walked = 0
        while walked < minimum or not until.is_set():
            case_id = await counter.case()
            walked += 1
            if case_id is not None:
                done.append(case_id)

    async with asyncio.TaskGroup() as group:
        for counter in counters:
            group.create_task(loop(counter))
    return done


def pid_owning_port(local_port: int, pids: list[int]) -> int | None:
    """Which of `pids` owns the TCP socket bound to 127.0.0.1:`local_port` (read from /proc, Linux only)."""
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if int(fields[1].rsplit(":", 1)[1], 16) == local_port:
                inodes.add(fields[9])
    wanted = {f"socket:[{inode}]" for inode in inodes}
    for pid in pids:
        fd_dir = Path(f"/proc/{pid}/fd")
        try:
            entries = list(fd_dir.iterdir())
        except OSError:
            continue
        for entry in entries:
            try:
                if str(entry.readlink()) in wanted:
                    return pid
            except OSError:
                continue
    return None


async def until(check: Callable[[], bool], within_s: float, what: str) -> None:
    """Poll `check` until it holds (AssertionError naming `what` after `within_s`)."""
    deadline = time.monotonic() + within_s
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


async def acknowledged_states_kept(
    sessionmaker: async_sessionmaker[AsyncSession], acknowledged: dict[str, str]
) -> None:
    """Every case state a client got a 2xx for is the state the database holds (nothing acknowledged lost)."""
    assert acknowledged
    async with sessionmaker() as session:
        rows = await session.execute(select(Case.id, Case.state).where(Case.id.in_(list(acknowledged))))
        stored = {case_id: str(getattr(state, "value", state)) for case_id, state in rows}
    assert stored == acknowledged
