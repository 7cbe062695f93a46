"""APDU count and wall time of the whole counter read through pcscd + vpcd, beside the APDU round-trip floor.

The read: detect, auth certificate and its CA, PIN counters, VERIFY, COMPUTE DIGITAL SIGNATURE, 照合番号B,
card face. The floor is measured in the same run: APDU count × median SELECT DF round trip. The virtual card
runs as `clerk-agent virtual-card` in its own process, as a real card sits behind its own reader.

    .venv/bin/python bench/card_read.py [--rounds 30] [--selects 300] [--generation gen2028]

`--generation gen2028` reads the next-generation card (P-384, two APs; docs/card.md §3): detection first tries the
current card's AP, so that read has one SELECT more.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from clerk_agent.card import apdu  # noqa: E402
from clerk_agent.card.pcsc import connect_with_backoff, reader_state, wait_for_card_event  # noqa: E402
from clerk_agent.card.protocol import MyNumberCard  # noqa: E402
from clerk_agent.card.reading import PossessionChallenge, read_at_counter  # noqa: E402
from clerk_agent.card.virtual.nextgen import printed_card_face_code  # noqa: E402
from clerk_agent.card.virtual.pcscd import PcscdStack  # noqa: E402
from clerk_agent.card.virtual.people import PEOPLE  # noqa: E402
from service.cardproof import devpki  # noqa: E402
from service.wire.card_profiles import CardGeneration, profile_for  # noqa: E402

HOLDER = PEOPLE["yamada_hanako"]


def median_round_trip(reader: str, count: int, commands: list[bytes]) -> float:
    """Median round trip in seconds of the last of `commands`, sent `count` times after the others (setup)."""
    transport = connect_with_backoff(reader)
    samples = []
    try:
        for command in commands[:-1]:
            transport.transmit(command)
        for _ in range(count):
            start = time.perf_counter()
            transport.transmit(commands[-1])
            samples.append(time.perf_counter() - start)
    finally:
        transport.close()
    return statistics.median(samples)


def counter_reads(
    reader: str, rounds: int, code: str, **options: int | bool
) -> tuple[int, list[float], list[float]]:
    """(APDU count, read-only times, connect+read+close times) over `rounds` full reads; `code` opens the face."""
    read_times, session_times = [], []
    apdus = 0
    for index in range(rounds):
        session_start = time.perf_counter()
        transport = connect_with_backoff(reader)
        try:
            card = MyNumberCard(transport, **options)  # type: ignore[arg-type]
            start = time.perf_counter()
            result = read_at_counter(
                card,
                auth_pin=bytearray(HOLDER.auth_pin.encode()),
                code_b=bytearray(code.encode()),
                challenge=PossessionChallenge("https://hub.bench", f"nonce-{index}", "case_bench"),
            )
            read_times.append(time.perf_counter() - start)
        finally:
            transport.close()
        session_times.append(time.perf_counter() - session_start)
        apdus = result.apdu_count
    return apdus, read_times, session_times


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--selects", type=int, default=300)
    parser.add_argument("--generation", default="gen2016", choices=[g.value for g in CardGeneration])
    args = parser.parse_args(argv)
    generation = CardGeneration(args.generation)
    code = printed_card_face_code(HOLDER) if generation is CardGeneration.GEN2028 else HOLDER.code_b
    stack = PcscdStack()
    stack.acquire()
    card_process = None
    try:
        slot = stack.allocate_slot()
        pki_dir = Path(tempfile.mkdtemp(prefix="madoguchi-bench-pki-")) / "pki"
        devpki.main(["--out", str(pki_dir), "--person", HOLDER.key, "--generations", "1"])
        _present, before = reader_state(slot.reader)
        card_process = subprocess.Popen(  # noqa: S603 - our own CLI
            [
                *(sys.executable, "-m", "clerk_agent.cli", "virtual-card"),
                *("--vpcd-port", str(slot.port), "--person", HOLDER.key, "--pki-dir", str(pki_dir)),
                *("--generation", generation.value),
                *(("--vpcd-netns", str(slot.netns)) if slot.netns else ()),
            ],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            stdout=subprocess.DEVNULL,
        )
        wait_for_card_event(slot.reader, present=True, after=before, timeout=15)
        select = apdu.select_df(profile_for(generation).auth_aid).encode()
        floor_rtt = median_round_trip(slot.reader, args.selects, [select])
        read_rtt = median_round_trip(
            slot.reader, args.selects, [select, apdu.read_binary_sfi(0x0A, 0, 256).encode()]
        )
        print(
            f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} (the floor is a row of this run)"
        )
        print(f"reader {slot.reader}; median round trip over {args.selects}: SELECT {floor_rtt * 1e3:.3f} ms")
        print(f"  (for comparison, a 256-byte READ BINARY: {read_rtt * 1e3:.3f} ms)")
        print(f"{'variant':<34}{'APDUs':>6}{'read ms':>10}{'floor ms':>10}{'ratio':>7}{'session ms':>12}")
        variants: list[tuple[str, dict[str, int | bool]]] = [
            ("short EF ids, 256-byte reads", {}),
            ("SELECT EF forms, 256-byte reads", {"short_ef_ids": False}),
            ("short EF ids, extended Le", {"max_chunk": 0xFF00}),
        ]
        for name, options in variants:
            count, reads, sessions = counter_reads(slot.reader, args.rounds, code, **options)
            read_ms = statistics.median(reads) * 1e3
            floor_ms = count * floor_rtt * 1e3
            print(
                f"{name:<34}{count:>6}{read_ms:>10.2f}{floor_ms:>10.2f}{read_ms / floor_ms:>7.2f}"
                f"{statistics.median(sessions) * 1e3:>12.2f}"
            )
        print(
            "read = the counter read on an open exclusive connection; session adds connect and the resetting close"
        )
        print(f"card: {generation.value} (docs/card.md §3); load average {os.getloadavg()[0]:.2f}")
    finally:
        if card_process is not None:
            card_process.send_signal(signal.SIGTERM)
            card_process.wait(10)
        stack.release()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
