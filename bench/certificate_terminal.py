"""Lobby terminal card-to-receipt and print station scan-to-printed beside their floors: the bare card read and
the bare CUPS submit.

Measured in one run on this machine: (1) the card read alone (detect, certificates, PIN counters, VERIFY, the
signature over the hub's nonce) on the in-process virtual card; (2) a one-page PDF submitted to a private cupsd
and followed until the printer reports it completed; (3) the terminal's whole card step (tries read, the hub's
nonce, PIN, proof verified with the hub's card-proof code by the tests' stand-in hub, slip rendered and printed);
(4) the municipality's signed certificate PDF submitted bare to cupsd; (5) the clerk's print station against the
real hub in process (SQLite): scan → the hub releases the document → the binding checked → CUPS print → completed
→ `printed` reported to the hub.

    .venv/bin/python -m bench.certificate_terminal [--rounds 20]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker  # noqa: E402

from clerk_agent.card.reading import PossessionChallenge, read_at_counter  # noqa: E402
from clerk_agent.card.virtual.people import PEOPLE  # noqa: E402
from clerk_agent.flows.cardslot import VirtualSlot  # noqa: E402
from clerk_agent.flows.station import PrintStation  # noqa: E402
from clerk_agent.kiosk.flow import KioskFlow, KioskStep  # noqa: E402
from clerk_agent.kiosk.slip import render_slip  # noqa: E402
from clerk_agent.link.client import HubClient  # noqa: E402
from clerk_agent.link.hub import HubLink  # noqa: E402
from clerk_agent.printing.ipp import IppPrinter  # noqa: E402
from service.accounts.roles import Role  # noqa: E402
from service.app import create_app  # noqa: E402
from service.cardproof.devpki import main as devpki_main  # noqa: E402
from service.config import Environment, Settings  # noqa: E402
from service.db import create_engine, create_sessionmaker  # noqa: E402
from service.migrate import upgrade  # noqa: E402
from service.wire.certificates import CertificateKind, JobState, Scope  # noqa: E402
from tests._cups import CupsServer  # noqa: E402
from tests.clerk_agent.kiosk._standin import MUNICIPALITY, StandInHub  # noqa: E402
from tests.factories import login, make_tenant  # noqa: E402
from tests.service.certificates.conftest import ALWAYS_OPEN, make_holder, new_device  # noqa: E402

PERSON = "yamada_hanako"


def _ms(samples: list[float]) -> str:
    return f"median {statistics.median(samples) * 1000:7.1f} ms  max {max(samples) * 1000:7.1f} ms"


async def _run(rounds: int, pki: Path, cups: CupsServer) -> None:
    slot = VirtualSlot(pki, PERSON)
    pin = PEOPLE[PERSON].auth_pin
    reads = []
    for index in range(rounds):
        start = time.perf_counter()
        with slot.session() as card:
            read_at_counter(
                card,
                auth_pin=bytearray(pin.encode()),
                challenge=PossessionChallenge("https://hub.bench", f"nonce-{index}", f"req_{index}"),
            )
        reads.append(time.perf_counter() - start)

    printer = IppPrinter(cups.add_queue("bench"), poll_s=0.02)
    hub = StandInHub(pki)
    link, http = hub.link()
    submits = []
    async with http:
        flow = KioskFlow(HubClient(link), slot, printer, municipality_code=MUNICIPALITY)
        await flow.tick()
        await flow.choose(CertificateKind.inkan)
        await flow.submit_pin(bytearray(pin.encode()))
        answer = flow.session.answer
        if answer is None or answer.receipt is None:
            raise SystemExit(f"the terminal gave no receipt: {flow.notice}")
        slip = render_slip(answer.receipt)
        for index in range(rounds):
            cups.clear("bench")
            start = time.perf_counter()
            await printer.print_pdf(slip, job_name=f"bench-{index}")
            submits.append(time.perf_counter() - start)
        terminal = []
        for _ in range(rounds):
            slot.remove()
            await flow.tick()
            slot.insert()
            cups.clear("bench")
            start = time.perf_counter()
            await flow.tick()
            await flow.choose(CertificateKind.juminhyo, scope=Scope.self_only)
            await flow.submit_pin(bytearray(pin.encode()))
            terminal.append(time.perf_counter() - start)
            if flow.step is not KioskStep.receipt or not flow.session.slip_printed:
                raise SystemExit(f"the terminal stopped at {flow.step}: {flow.notice}")
    print(f"rounds: {rounds}; load average {os.getloadavg()[0]:.1f}")
    print(f"bare card read (virtual card, in-process)     {_ms(reads)}")
    print(f"bare CUPS submit to completed (slip PDF)      {_ms(submits)}")
    print(f"terminal card-to-receipt (stand-in hub)       {_ms(terminal)}")
    floor = statistics.median(reads) + statistics.median(submits)
    print(f"  card-to-receipt over the floor (read+print): {statistics.median(terminal) / floor:5.2f}x")


async def _station(rounds: int, pki: Path, cups: CupsServer) -> None:
    """Scan-to-printed at the print station on the real hub, beside the bare submit of the same certificate PDF."""
    with tempfile.TemporaryDirectory(prefix="bench-hub-") as directory:
        data = Path(directory)
        url = f"sqlite+aiosqlite:///{data / 'hub.sqlite3'}"
        settings = Settings(
            environment=Environment.test,
            database_url=url,
            data_dir=data / "hub",
            public_origin="http://hub.test",
            dev_pki_dir=pki,
        )
        engine = create_engine(url)
        await upgrade(engine)
        sessionmaker = create_sessionmaker(engine)
        app = create_app(settings)
        try:
            async with app.router.lifespan_context(app):
                await _station_rounds(rounds, app, sessionmaker, settings, pki, cups)
        finally:
            await engine.dispose()


async def _station_rounds(
    rounds: int,
    app: Any,
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    pki: Path,
    cups: CupsServer,
) -> None:
    tenant = await make_tenant(sessionmaker, settings, prefix="99001", name="甲市", office_code="99101")
    code = tenant.municipality_code
    register = app.state.integrations.resident
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://hub.test") as client:
        headers = await login(client, tenant.usernames[Role.supervisor])
        path = f"/api/v1/municipalities/{code}/certificate-config"
        config = (await client.get(path, headers=headers)).json()["config"]
        answer = await client.put(path, json={**config, **ALWAYS_OPEN}, headers=headers)
        answer.raise_for_status()
        kiosk = await new_device(app, sessionmaker, settings, tenant, "bench kiosk")
        desk = await new_device(app, sessionmaker, settings, tenant, "bench station")
        async with kiosk, desk:
            queue = cups.add_queue("station")
            station = PrintStation(
                HubClient(HubLink(desk, backoff_initial_s=0.01, backoff_max_s=0.02)),
                IppPrinter(queue, poll_s=0.02),
            )
            samples = []
            for _ in range(rounds + 1):
                holder = make_holder(pki, code)
                register.add_holder(holder.record)
                body = {"municipality_code": code, "kind": "juminhyo", "scope": "self", "count": 1}
                challenge = (await kiosk.post("/api/v1/certificates/requests", json=body)).json()
                proof = holder.prove(challenge)
                answered = await kiosk.post(
                    f"/api/v1/certificates/requests/{challenge['request_id']}/proof", json=proof
                )
                number = answered.json()["receipt"]["receipt_number"]
                cups.clear("station")
                start = time.perf_counter()
                await station.scan(number)
                await station.print_certificate()
                samples.append(time.perf_counter() - start)
                if station.notice is not None or station.require().job.state is not JobState.printed:
                    raise SystemExit(f"the station stopped: {station.notice} {station.problem_code}")
            certificate = cups.printed("station")
    samples = samples[1:]  # the first round warms the hub's signer and the PDF libraries
    printer = IppPrinter(cups.add_queue("bare"), poll_s=0.02)
    submits = []
    for index in range(rounds):
        cups.clear("bare")
        start = time.perf_counter()
        await printer.print_pdf(certificate, job_name=f"bare-{index}")
        submits.append(time.perf_counter() - start)
    print(f"rounds: {rounds}; load average {os.getloadavg()[0]:.1f}")
    print(f"bare CUPS submit to completed (certificate)   {_ms(submits)}")
    print(f"station scan-to-printed (real hub, SQLite)    {_ms(samples)}")
    floor = statistics.median(submits)
    print(f"  scan-to-printed over the bare submit:        {statistics.median(samples) / floor:5.2f}x")


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-pki-") as directory:
        pki = Path(directory)
        devpki_main(["--out", str(pki), "--force"])
        cups = CupsServer().start()
        try:
            asyncio.run(_run(args.rounds, pki, cups))
            asyncio.run(_station(args.rounds, pki, cups))
        finally:
            cups.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
