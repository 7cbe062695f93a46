"""The README's first command: the whole demo comes up, answers, and stops everything it started."""

from __future__ import annotations

import contextlib
import ipaddress
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from clerk_agent.card.virtual.people import PEOPLE

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.e2e


def _process_tree(root: int) -> set[int]:
    """`root` and all its descendants, from /proc/<pid>/task/<tid>/children."""
    found: set[int] = set()
    todo = [root]
    while todo:
        pid = todo.pop()
        found.add(pid)
        for children in Path(f"/proc/{pid}/task").glob("*/children"):
            with contextlib.suppress(OSError):
                todo += [int(child) for child in children.read_text().split()]
    return found


def _decode(address: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """A /proc/net/tcp{,6} local address (hex, host byte order per 32-bit word) without its port."""
    raw = bytes.fromhex(address.split(":")[0])
    native = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
    return ipaddress.ip_address(native)


def listening_addresses(root: int) -> list[tuple[str, int]]:
    """Where the process tree of `root` listens for TCP connections: (address, port) pairs."""
    inodes: set[str] = set()
    for pid in _process_tree(root):
        for fd in Path(f"/proc/{pid}/fd").glob("*"):
            with contextlib.suppress(OSError):
                target = str(fd.readlink())
                if target.startswith("socket:["):
                    inodes.add(target[8:-1])
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for row in Path(table).read_text().splitlines()[1:]:
            fields = row.split()
            if fields[3] == "0A" and fields[9] in inodes:  # 0A: LISTEN
                address = _decode(fields[1])
                if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
                    address = address.ipv4_mapped
                found.append((str(address), int(fields[1].split(":")[1], 16)))
    return found


def test_demo_comes_up_and_stops_cleanly(tmp_path: Path) -> None:
    env = {**os.environ, "MADOGUCHI_DEMO_DIR": str(tmp_path), "HUB_PORT": "0"}
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "deploy" / "demo.py")],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=ROOT,
    )
    lines: list[str] = []
    try:
        deadline = time.monotonic() + 90
        assert proc.stdout is not None
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            if "hub log" in line:
                break
        text = "".join(lines)
        assert "officer console" in text, text
        base = next(
            word
            for line in lines
            if line.strip().startswith("hub ")
            for word in line.split()
            if word.startswith("http://127.0.0.1:")
        )
        assert httpx.get(f"{base}/healthz").json() == {"status": "ok"}
        assert httpx.get(f"{base}/console/").status_code == 200
        assert "demo-officer" in text
        # What the counter really reads: the in-process card, not a PC/SC reader the demo never uses.
        card_line = next(line for line in lines if line.strip().startswith("仮想カード"))
        assert "in-process" in card_line, card_line
        assert "reader “" not in card_line, card_line
        # After the URLs, a numbered first case a person can follow, down to the face check and approval.
        walk = text[text.index("first case") :]
        numbers = [int(m.group(1)) for m in re.finditer(r"^\s*(\d+)\. ", walk, re.MULTILINE)]
        assert numbers == list(range(1, 11 + 1)), walk
        hanako = PEOPLE["yamada_hanako"]  # the card the counter reads: her code B and PIN as printed
        assert hanako.code_b in walk, walk
        assert hanako.auth_pin in walk, walk
        for needed in (
            "申請書ID",
            "同意",
            "暗証番号",
            "demo-officer",
            "受諾する",
            "ICチップの顔写真",
            "承認",
        ):
            assert needed in walk, (needed, walk)
        assert "--camera-person other" in walk
        counter = next(
            word
            for line in lines
            if line.strip().startswith("counter (clerk)")
            for word in line.split()
            if word.startswith("http://127.0.0.1:")
        )
        page = httpx.get(counter)
        assert page.status_code == 200
        assert "窓口ブリッジ" in page.text
        assert httpx.get(f"{counter}applicant").status_code == 200
        assert httpx.get(f"{counter}api/state").json()["hub"]["online"] in (True, None)
        # Nothing the demo runs listens beyond this machine: the hub, the counter UI (and no vpcd card port,
        # which vsmartcard-vpcd would open on every interface).
        listening = listening_addresses(proc.pid)
        assert len(listening) >= 2, listening
        assert all(ipaddress.ip_address(address).is_loopback for address, _port in listening), listening
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        if proc.stdout is not None:
            proc.stdout.close()
    assert proc.returncode == 0
    # Everything the demo started is gone: nothing answers on its port any more.
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{base}/healthz", timeout=2)
