"""Lobby terminal card-to-receipt time beside its floor: the bare card read and the bare CUPS submit.

Measured in one run on this machine: (1) the card read alone (detect, certificates, PIN counters, VERIFY, the
signature over the hub's nonce) on the in-process virtual card; (2) a one-page PDF submitted to a private cupsd
and followed until the printer reports it completed; (3) the terminal's whole card step (tries read, the hub's
nonce, PIN, proof verified with the hub's card-proof code by the tests' stand-in hub, slip rendered and printed).

    .venv/bin/python -m bench.certificate_terminal [--rounds 20]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from clerk_agent.card.reading import PossessionChallenge, read_at_counter  # noqa: E402
from clerk_agent.card.virtual.people import PEOPLE  # noqa: E402
from clerk_agent.flows.cardslot import VirtualSlot  # noqa: E402
from clerk_agent.kiosk.flow import KioskFlow, KioskStep  # noqa: E402
from clerk_agent.kiosk.slip import render_slip  # noqa: E402
from clerk_agent.link.client import HubClient  # noqa: E402
from clerk_agent.printing.ipp import IppPrinter  # noqa: E402
from service.cardproof.devpki import main as devpki_main  # noqa: E402
from service.wire.certificates import CertificateKind, Scope  # noqa: E402
from tests._cups import CupsServer  # noqa: E402
from tests.clerk_agent.kiosk._standin import MUNICIPALITY, StandInHub  # noqa: E402

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
    print(f"rounds: {rounds}")
    print(f"bare card read (virtual card, in-process)     {_ms(reads)}")
    print(f"bare CUPS submit to completed (slip PDF)      {_ms(submits)}")
    print(f"terminal card-to-receipt (stand-in hub)       {_ms(terminal)}")
    floor = statistics.median(reads) + statistics.median(submits)
    print(f"  card-to-receipt over the floor (read+print): {statistics.median(terminal) / floor:5.2f}x")


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
        finally:
            cups.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
