"""The whole system on one machine, on embedded defaults: `./madoguchi demo`.

Starts, and stops by PID on Ctrl+C:
  1. the hub (SQLite in var/hub, the synthetic demo tenant, the officer console at /console/),
  2. the test PKI for the virtual card (var/dev-pki, generated once),
  3. the Virtual My Number Card inside a real pcscd through vsmartcard-vpcd, where they are installed;
     otherwise a notice that the counter uses the in-process virtual card,
  4. the counter app (`clerk-agent run` as the demo device, in-process virtual card, UI on 127.0.0.1).
Synthetic data only; nothing here may face a real network.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
# MADOGUCHI_DEMO_DIR moves the demo's state elsewhere (the end-to-end test runs it in a temporary directory).
VAR = Path(os.environ.get("MADOGUCHI_DEMO_DIR", ROOT / "var"))
DATA = VAR / "hub"
PKI = VAR / "dev-pki"
PKI_VERSION = (
    2  # service.cardproof.devpki.MANIFEST_VERSION (this script runs before the venv's imports matter)
)


def _free_port(preferred: int) -> int:
    """`preferred` if free, else (or for 0) a port the kernel picks."""
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", preferred))
        except OSError:
            probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _say(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def _wait_healthy(base: str, hub: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if hub.poll() is not None:
            raise SystemExit(f"the hub exited with {hub.returncode}; see {DATA / 'hub.log'}")
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"the hub did not answer {base}/healthz within {timeout:.0f}s")


def _lan_address() -> str | None:
    """This machine's non-loopback IPv4 source address, if any (no packet is sent)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # TEST-NET-1: the kernel only picks a route
        except OSError:
            return None
        address = str(probe.getsockname()[0])
    return None if address.startswith("127.") else address


def _video_note() -> str:
    """Whether a browser on this machine can receive the counter's video (browsers never use loopback for it)."""
    if _lan_address():
        return (
            "  映像 / video     the console receives the counter's synthetic camera in the browser; what the clerk\n"
            "                   holds up to it (the demo form, the ID card) is in the officer's picture too"
        )
    return (
        "  映像 / video     この端末にはループバック以外のネットワークがないため、ブラウザは映像をつなぎません\n"
        "                   no network interface besides loopback: browsers never carry WebRTC video over 127.0.0.1\n"
        "                   alone, so the console will say the picture is missing (everything else works)"
    )


def _start_virtual_card(children: list[subprocess.Popen[bytes]], exits: contextlib.ExitStack) -> str:
    """The virtual card in a real pcscd, or a notice why not; returns a status line."""
    try:
        from clerk_agent.card.virtual.pcscd import PcscdStack, StackUnavailable
    except ImportError as exc:  # pyscard missing
        return f"仮想カード: プロセス内で動作 / virtual card: in-process only ({exc})"
    stack = PcscdStack(log_path=DATA / "pcscd.log")
    try:
        stack.acquire()
        slot = stack.allocate_slot()
    except StackUnavailable as exc:
        return f"仮想カード: プロセス内で動作 / virtual card: in-process only — {exc} (install with deploy/system-deps.sh)"
    card = subprocess.Popen(
        [str(BIN / "clerk-agent"), "virtual-card", "--vpcd-port", str(slot.port), "--pki-dir", str(PKI)],
        stdin=subprocess.DEVNULL,
    )
    children.append(card)
    exits.callback(stack.release)
    return f"仮想カード / virtual card: reader “{slot.reader}” (pcscd + vpcd)"


def _start_agent(children: list[subprocess.Popen[bytes]], base: str) -> str:
    """`clerk-agent run` as the demo device; returns the counter UI's base URL once it answers."""
    creds = json.loads((DATA / "demo-credentials.json").read_text())
    port = _free_port(int(os.environ.get("CLERK_UI_PORT", "8400")))
    env = {
        **os.environ,
        "CLERK_HUB_URL": base,
        "CLERK_DEVICE_ID": creds["device_id"],
        "CLERK_KEY_FILE": str(DATA / "demo-device.key"),
        # The in-process card: the pcscd card above is for the card layer's own tools and tests.
        "CLERK_CARD_SOURCE": "virtual",
        "CLERK_PKI_DIR": str(PKI),
        "CLERK_DATA_DIR": str(VAR / "agent"),
        "CLERK_UI_PORT": str(port),
    }
    log = (VAR / "agent.log").open("ab")
    agent = subprocess.Popen(
        [str(BIN / "clerk-agent"), "run"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    log.close()
    children.append(agent)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and agent.poll() is None:
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(f"{url}/api/state", timeout=1).status_code == 200:
                return url
        time.sleep(0.2)
    raise SystemExit(f"the counter app did not start; see {VAR / 'agent.log'}")


def _pki_is_current() -> bool:
    # A test PKI from before cards had their own card-face key is regenerated (it holds only test keys).
    manifest = PKI / "manifest.json"
    return manifest.exists() and json.loads(manifest.read_text()).get("version", 1) >= PKI_VERSION


def main() -> int:
    """Run the demo until Ctrl+C."""
    DATA.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "HUB_DATA_DIR": str(DATA), "HUB_DEV_PKI_DIR": str(PKI)}
    if not _pki_is_current():
        _say("テスト用PKIを生成しています… / generating the test PKI for the virtual card…")
        subprocess.run([str(BIN / "hub"), "dev-pki", "--out", str(PKI), "--force"], check=True, env=env)
    port = _free_port(int(os.environ.get("HUB_PORT", "8300")))
    _say("ハブを準備しています… / preparing the hub (migrations, demo tenant)…")
    seeded = subprocess.run(
        [str(BIN / "hub"), "demo", "--no-serve", "--port", str(port)],
        check=True,
        env=env,
        capture_output=True,
        text=True,
    )
    children: list[subprocess.Popen[bytes]] = []
    exits = contextlib.ExitStack()
    log = (DATA / "hub.log").open("ab")
    hub = subprocess.Popen(
        [str(BIN / "hub"), "serve", "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT
    )
    children.append(hub)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(base, hub)
        card_status = _start_virtual_card(children, exits)
        counter = _start_agent(children, base)
        _say(seeded.stdout.rstrip())
        _say(
            "\n".join(
                [
                    f"  officer console  {base}/console/   (log in as demo-officer / demo-supervisor)",
                    _video_note(),
                    f"  {card_status}",
                    f"  counter (clerk)  {counter}/",
                    f"  counter (applicant screen)  {counter}/applicant",
                    "  counter card     in-process virtual card of the invented yamada_hanako (clerk_agent/card/virtual/people.py)",
                    "  walkthrough      counter: start a renewal (更新) → answer → consents → card check →",
                    "                   「市区町村の職員につなぐ」; console: 受付可 → 受諾する (Alt+A) → evidence → decide",
                    f"  agent log        {VAR / 'agent.log'}",
                    f"  hub log          {DATA / 'hub.log'}",
                    "",
                ]
            )
        )
        while hub.poll() is None:
            time.sleep(0.5)
        _say(f"ハブが停止しました / the hub stopped (exit {hub.returncode}); see {DATA / 'hub.log'}")
    except KeyboardInterrupt:
        pass
    finally:
        _say("停止しています… / stopping…")
        for child in reversed(children):
            child.terminate()
        for child in children:
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()
        exits.close()
        log.close()
    return 0


def _terminate(signum: int, frame: object) -> None:
    del signum, frame
    raise KeyboardInterrupt


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, _terminate)
    raise SystemExit(main())
