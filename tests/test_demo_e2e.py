"""The README's first command: the whole demo comes up, answers, and stops everything it started."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.e2e


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
        assert "virtual card" in text
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
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        if proc.stdout is not None:
            proc.stdout.close()
    assert proc.returncode == 0
    # Everything the demo started is gone: nothing answers on its port any more.
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{base}/healthz", timeout=2)
