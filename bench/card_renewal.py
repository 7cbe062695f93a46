"""Time of a whole e-certificate renewal relayed through the hub (docs/card-admin.md), beside its floors.

One renewal: the hub's SCP03 channel to the card's management applet, two RSA-2048 key pairs made on the card, two
CSRs signed there, two certificates from the issuer simulator written and committed, the old ones revoked, every
command and answer relayed by the agent's `renew_certificates` over the hub's REST API (in process, ASGI, SQLite).
Measured in the same run:
- the bare relayed-APDU floor: as many hub round trips (a device GET of the job) and as many card round trips (a
  plain SELECT) as the renewal made, with no cryptography;
- the card's two RSA-2048 key generations alone (the emulator's share; a real chip takes seconds).

    .venv/bin/python bench/card_renewal.py [--rounds 5] [--pcsc]

With --pcsc the card sits behind pcscd + vpcd (run under `flock /tmp/madoguchi-pcsc.lock`), so the card round trips
are real PC/SC ones as at the counter.
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
from cryptography.hazmat.primitives.asymmetric import rsa  # noqa: E402

from clerk_agent.card.transport import Transport  # noqa: E402
from clerk_agent.card.virtual.card import VirtualMyNumberCard  # noqa: E402
from clerk_agent.card.virtual.transport import InProcessTransport  # noqa: E402
from clerk_agent.flows.cardrelay import renew_certificates  # noqa: E402
from clerk_agent.link.hub import HubLink  # noqa: E402
from service.app import create_app  # noqa: E402
from service.cardproof.devpki import main as devpki_main  # noqa: E402
from service.config import Environment, Settings  # noqa: E402
from service.db import create_engine, create_sessionmaker  # noqa: E402
from service.migrate import upgrade  # noqa: E402
from service.wire.cardadmin import ADMIN_AID  # noqa: E402
from tests.factories import Tenant, device_client, make_tenant  # noqa: E402
from tests.service.cardadmin.conftest import factory_card, quick_approved_case  # noqa: E402


def _loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def _ms(samples: list[float]) -> str:
    return f"median {statistics.median(samples) * 1000:8.1f} ms  min {min(samples) * 1000:8.1f} ms"


class _Slot:
    """The card in a vpcd slot of the shared pcscd (--pcsc), or in process."""

    def __init__(self, use_pcsc: bool) -> None:
        self.use_pcsc = use_pcsc
        self.stack: Any = None
        self.slot: Any = None
        self.client: Any = None

    def __enter__(self) -> _Slot:
        if self.use_pcsc:
            from clerk_agent.card.virtual.pcscd import PcscdStack

            self.stack = PcscdStack()
            self.stack.acquire()
            self.slot = self.stack.allocate_slot()
        return self

    def __exit__(self, *exc: object) -> None:
        self.remove()
        if self.stack is not None:
            self.stack.release()

    def insert(self, card: VirtualMyNumberCard) -> Transport:
        """The card in the slot; a connected transport to it."""
        if not self.use_pcsc:
            return InProcessTransport(card)
        from clerk_agent.card import pcsc
        from clerk_agent.card.virtual.vicc import ViccClient

        self.remove()
        _present, before = pcsc.reader_state(self.slot.reader)
        self.client = ViccClient(card, port=self.slot.port, netns=self.slot.netns).start()
        pcsc.wait_for_card_event(self.slot.reader, present=True, after=before)
        transport: Transport = pcsc.connect_with_backoff(self.slot.reader, timeout=10)
        return transport

    def remove(self) -> None:
        """Take the card out (and wait until pcscd saw it go)."""
        if self.client is not None:
            from clerk_agent.card import pcsc

            self.client.stop()
            pcsc.wait_for_card_event(self.slot.reader, present=False)
            self.client = None


async def main(rounds: int, use_pcsc: bool) -> None:
    """Run the benchmark and print the figures."""
    work = Path(tempfile.mkdtemp(prefix="bench-card-renewal-"))
    pki = work / "pki"
    devpki_main(["--out", str(pki), "--force"])
    url = f"sqlite+aiosqlite:///{work / 'hub.db'}"
    engine = create_engine(url)
    await upgrade(engine)
    sessionmaker = create_sessionmaker(engine)
    settings = Settings(
        environment=Environment.test, database_url=url, data_dir=work / "hub", dev_pki_dir=pki
    )
    tenant = await make_tenant(sessionmaker, settings, prefix="99007", name="計測市", office_code="99107")
    app = create_app(settings)
    print(f"load average before: {_loadavg()}  (cores: {os.cpu_count()})")
    renewals: list[float] = []
    floors_hub: list[float] = []
    floors_card: list[float] = []
    keygens: list[float] = []
    counts = [0, 0]
    with _Slot(use_pcsc) as slot:
        await _rounds(
            app, tenant, sessionmaker, pki, slot, rounds, renewals, floors_hub, floors_card, keygens, counts
        )
    commands, turns = counts
    await engine.dispose()
    renewals, floors_hub, floors_card, keygens = (s[1:] for s in (renewals, floors_hub, floors_card, keygens))
    print(f"renewal: {commands} relayed APDUs in {turns} hub round trips, {rounds} rounds")
    print(f"  whole renewal (relay, channel, keys, CSRs, issue, write, commit, revoke)  {_ms(renewals)}")
    print(f"  floor: {turns} bare hub round trips                                       {_ms(floors_hub)}")
    where = "through pcscd" if use_pcsc else "in process"
    print(f"  floor: {commands} bare card round trips ({where})                   {_ms(floors_card)}")
    print(f"  2 x RSA-2048 key generation alone                                       {_ms(keygens)}")
    floor = statistics.median(floors_hub) + statistics.median(floors_card)
    print(f"  renewal / relayed-APDU floor: {statistics.median(renewals) / floor:.1f}x")
    print(f"load average after: {_loadavg()}")


async def _rounds(
    app: Any,
    tenant: Tenant,
    sessionmaker: Any,
    pki: Path,
    slot: _Slot,
    rounds: int,
    renewals: list[float],
    floors_hub: list[float],
    floors_card: list[float],
    keygens: list[float],
    counts: list[int],
) -> None:
    """Renew `rounds` + 1 cards (the first warms up), each followed by its floors."""
    async with app.router.lifespan_context(app), device_client(app, tenant) as http:
        link = HubLink(http)
        relayed: list[str] = []

        async def count(request: httpx.Request) -> None:
            if "/card-admin/runs" in request.url.path:
                relayed.append(request.url.path)

        http.event_hooks["request"].append(count)
        for _ in range(rounds + 1):  # the first round warms up (imports, first key file reads)
            card, _applet = factory_card(pki)
            case_id = await quick_approved_case(sessionmaker, tenant)
            transport = slot.insert(card)
            relayed.clear()
            start = time.perf_counter()
            result = await renew_certificates(link, transport, case_id)
            renewals.append(time.perf_counter() - start)
            if result.outcome != "renewed":
                raise SystemExit(f"the renewal did not complete: {result}")
            commands, turns = result.commands, len(relayed)
            counts[:] = [commands, turns]

            start = time.perf_counter()
            for _turn in range(turns):
                (await http.get(f"/api/v1/cases/{case_id}/card-admin")).raise_for_status()
            floors_hub.append(time.perf_counter() - start)
            select = bytes((0x00, 0xA4, 0x04, 0x0C, len(ADMIN_AID))) + ADMIN_AID
            start = time.perf_counter()
            for _command in range(commands):
                await asyncio.to_thread(transport.transmit, select)
            floors_card.append(time.perf_counter() - start)
            start = time.perf_counter()
            for _slot in range(2):
                rsa.generate_private_key(public_exponent=65537, key_size=2048)
            keygens.append(time.perf_counter() - start)
            close = getattr(transport, "close", None)
            if close is not None:
                close()  # a PC/SC connection (resets the card); the in-process one has nothing to close


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--pcsc", action="store_true", help="the card behind pcscd + vpcd")
    arguments = parser.parse_args()
    asyncio.run(main(arguments.rounds, arguments.pcsc))
