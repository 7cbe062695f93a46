"""Full read and hub verification of each ID-document chip through pcscd + vpcd, beside the bare APDU floor.

Per document type (one row each in DOCUMENTS): the counter's whole read on an open connection (access control,
secure messaging, every object), the same read with connect and the resetting close, and the hub's verifier on
what was read. The floor is measured in the same run: the read's APDU count × the median round trip of the
document's plain SELECT. The virtual chips run in this process, in vicc threads behind vpcd.

    flock /tmp/madoguchi-pcsc.lock .venv/bin/python bench/chip_read.py [--rounds 20] [--selects 200]

To add a document type, append a `Document` to DOCUMENTS: how to build its virtual chip from the dev PKI, how the
counter reads it, and one plain APDU the chip answers before access control.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from clerk_agent.card import apdu  # noqa: E402
from clerk_agent.card.idchips.base import ChipRead  # noqa: E402
from clerk_agent.card.idchips.passport import LDS_AID, MrzAccess, PassportReader  # noqa: E402
from clerk_agent.card.pcsc import connect_with_backoff, reader_state, wait_for_card_event  # noqa: E402
from clerk_agent.card.transport import Transport  # noqa: E402
from clerk_agent.card.virtual.idchips.lds import HOLDERS  # noqa: E402
from clerk_agent.card.virtual.idchips.passport import passport_from_dev_pki  # noqa: E402
from clerk_agent.card.virtual.pcscd import PcscdStack  # noqa: E402
from clerk_agent.card.virtual.vicc import ViccClient, VirtualChip  # noqa: E402
from service.cardproof import devpki  # noqa: E402
from service.idchips.anchors import load_chip_anchors  # noqa: E402
from service.idchips.verifiers import VERIFIERS  # noqa: E402
from service.wire.idchips import ChipKind  # noqa: E402

HANAKO = HOLDERS["yamada_hanako"]


@dataclass(frozen=True)
class Document:
    """One row of the bench: a document type's virtual chip, its counter read, its floor command."""

    label: str
    kind: ChipKind
    chip: Callable[[Path], VirtualChip]
    read: Callable[[Transport], ChipRead]
    floor_command: bytes


DOCUMENTS: list[Document] = [
    Document(
        "passport (BAC, 3DES SM)",
        ChipKind.passport,
        lambda pki: passport_from_dev_pki(pki, pace_parameter_id=None),
        lambda transport: PassportReader(
            transport, MrzAccess(HANAKO.document_number, HANAKO.birth, HANAKO.expiry_yymmdd)
        ).read(),
        apdu.select_df(LDS_AID).encode(),
    ),
    Document(
        "passport (PACE ECDH-GM brainpoolP256r1, AES SM)",
        ChipKind.passport,
        lambda pki: passport_from_dev_pki(pki, pace_parameter_id=13),
        lambda transport: PassportReader(
            transport, MrzAccess(HANAKO.document_number, HANAKO.birth, HANAKO.expiry_yymmdd)
        ).read(),
        apdu.select_df(LDS_AID).encode(),
    ),
]


def _loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def median_round_trip(reader: str, count: int, command: bytes) -> float:
    """Median round trip in seconds of `command`, sent `count` times on one connection."""
    transport = connect_with_backoff(reader)
    samples = []
    try:
        for _ in range(count):
            start = time.perf_counter()
            transport.transmit(command)
            samples.append(time.perf_counter() - start)
    finally:
        transport.close()
    return statistics.median(samples)


def reads(reader: str, document: Document, rounds: int) -> tuple[ChipRead, list[float], list[float]]:
    """The last read, and the read-only and connect+read+close times over `rounds` reads."""
    read_times, session_times = [], []
    last: ChipRead | None = None
    for _ in range(rounds):
        session_start = time.perf_counter()
        transport = connect_with_backoff(reader)
        try:
            start = time.perf_counter()
            last = document.read(transport)
            read_times.append(time.perf_counter() - start)
        finally:
            transport.close()
        session_times.append(time.perf_counter() - session_start)
    if last is None:
        raise SystemExit("--rounds must be at least 1")
    return last, read_times, session_times


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--selects", type=int, default=200)
    args = parser.parse_args(argv)
    print(f"load average before: {_loadavg()}  (cores: {os.cpu_count()})")
    pki_dir = Path(tempfile.mkdtemp(prefix="madoguchi-bench-chips-")) / "pki"
    devpki.main(["--out", str(pki_dir), "--person", "yamada_hanako", "--generations", "1"])
    anchors = load_chip_anchors(None, pki_dir, allow_test=True)
    stack = PcscdStack()
    stack.acquire()
    try:
        slot = stack.allocate_slot()
        print(
            f"reader {slot.reader}; {args.rounds} reads per document, floor from {args.selects} plain SELECTs"
        )
        print(
            f"{'document':<28}{'APDUs':>6}{'RTT ms':>8}{'floor ms':>10}{'read ms':>9}{'ratio':>7}"
            f"{'session ms':>12}{'verify ms':>11}{'verdict':>10}"
        )
        for document in DOCUMENTS:
            _present, before = reader_state(slot.reader)
            client = ViccClient(document.chip(pki_dir), port=slot.port, netns=slot.netns).start()
            try:
                wait_for_card_event(slot.reader, present=True, after=before, timeout=15)
                rtt = median_round_trip(slot.reader, args.selects, document.floor_command)
                read, read_times, session_times = reads(slot.reader, document, args.rounds)
            finally:
                client.stop()
                wait_for_card_event(slot.reader, present=False)
            verify_times = []
            for _ in range(args.rounds):
                start = time.perf_counter()
                result = VERIFIERS[document.kind](read.objects, anchors, dt.datetime.now(dt.UTC))
                verify_times.append(time.perf_counter() - start)
            floor_ms = read.apdu_count * rtt * 1e3
            read_ms = statistics.median(read_times) * 1e3
            print(
                f"{document.label:<28}{read.apdu_count:>6}{rtt * 1e3:>8.3f}{floor_ms:>10.2f}{read_ms:>9.2f}"
                f"{read_ms / floor_ms:>7.2f}{statistics.median(session_times) * 1e3:>12.2f}"
                f"{statistics.median(verify_times) * 1e3:>11.2f}{result.verdict.value:>10}"
            )
        print("read = access control + every object on an open connection; session adds connect and close;")
        print("verify = the hub's verifier on the objects read (signature, chain, hashes), in this process")
    finally:
        stack.release()
    print(f"load average after: {_loadavg()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
