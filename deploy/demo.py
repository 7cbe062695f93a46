"""The whole system on one machine, on embedded defaults: `./madoguchi demo`.

Starts, and stops by PID on Ctrl+C:
  1. the hub (SQLite in var/hub, the synthetic demo tenant, the officer console at /console/),
  2. the test PKI for the virtual card (var/dev-pki, generated once),
  3. the counter app (`clerk-agent run` as the demo device, UI on 127.0.0.1) with the in-process Virtual My
     Number Card and a synthetic camera showing the card's invented person (`--camera-person other`: someone
     else, to practise a face that does not match the chip photo) and the virtual ID documents on its document
     reader (a passport, an IC driving licence, a residence card, a special permanent resident certificate;
     `--document` chooses the first, the clerk screen's (デモ) row swaps it),
and prints the URLs, the logins and a numbered walk-through of a first case.

The demo starts no pcscd/vpcd card: vsmartcard-vpcd listens on every interface (its server mode binds
INADDR_ANY, and its reverse mode aborts pcscd here), and the counter reads the in-process card anyway. The
card layer's PC/SC tests run the pcscd stack themselves (clerk_agent/card/virtual/pcscd.py).
Synthetic data only; nothing here may face a real network.
"""

from __future__ import annotations

import argparse
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
# The document kinds `hub dev-pki` writes test issuers for (docs/id-documents.md; the special permanent resident
# certificate shares the residence card's).
CHIP_KINDS = ("passport", "driving_licence", "residence_card")
DEMO_PERSON = "yamada_hanako"  # clerk_agent/card/virtual/people.py
DEMO_PERSON_NAME = "山田 花子 (Yamada Hanako, invented)"
DEMO_CODE_B = "60041220344821"  # her card-face 照合番号B: era birth date, expiry year, security code
DEMO_AUTH_PIN = "4721"  # her 利用者証明用暗証番号 (synthetic test card)
PKI_VERSION = (
    3  # service.cardproof.devpki.MANIFEST_VERSION (this script runs before the venv's imports matter)
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


def _start_agent(
    children: list[subprocess.Popen[bytes]], base: str, camera_person: str, document: str = "passport"
) -> str:
    """`clerk-agent run` as the demo device; returns the counter UI's base URL once it answers."""
    creds = json.loads((DATA / "demo-credentials.json").read_text())
    port = _free_port(int(os.environ.get("CLERK_UI_PORT", "8400")))
    env = {
        **os.environ,
        "CLERK_HUB_URL": base,
        "CLERK_DEVICE_ID": creds["device_id"],
        "CLERK_KEY_FILE": str(DATA / "demo-device.key"),
        # The in-process card (no PC/SC reader), and its holder in front of the synthetic camera (or not).
        "CLERK_CARD_SOURCE": "virtual",
        "CLERK_VIRTUAL_PERSON": DEMO_PERSON,
        "CLERK_CAMERA": "synthetic",
        "CLERK_CAMERA_PERSON": camera_person,
        # The virtual ID document on the document reader first (clerk_agent/flows/idchips_jp.py VirtualDocuments).
        "CLERK_VIRTUAL_DOCUMENT": document,
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


def _camera_note(camera_person: str) -> str:
    return {
        "cardholder": "カードの本人（ICチップの顔写真と同じ人） / the cardholder, the same person as the chip photo",
        "other": "別の人（顔写真と一致しません） / someone else: the face does NOT match the chip photo",
        "nobody": "テストパターン / test bars, nobody in front of the camera",
    }[camera_person]


def _pki_is_current() -> bool:
    # A test PKI from before cards had their own card-face key is regenerated (it holds only test keys).
    # So is one from before the ID-document chips: without their test issuers the counter's document reader has
    # nothing to sign with and reports itself unavailable.
    manifest = PKI / "manifest.json"
    chips = all((PKI / "idchips" / kind / "issuer.pem").exists() for kind in CHIP_KINDS)
    return chips and manifest.exists() and json.loads(manifest.read_text()).get("version", 1) >= PKI_VERSION


def walkthrough(counter: str, console: str) -> str:
    """The numbered first case, in Japanese with English, as the demo prints it after the URLs."""
    steps = [
        (
            f"窓口画面を開き、別のウィンドウでお客さま画面も開く: {counter}/ と {counter}/applicant",
            "open the counter page and, in a second window, the applicant screen",
        ),
        (
            "申請書IDを入力する（例: 12345678901234567890123）か「（デモ）申請書をカメラにかざす」→「QRコードをカメラで読み取る」",
            "type the 23-digit 申請書ID, or hold the demo form up and scan its QR code",
        ),
        (
            "「カード更新」を押す（交付申請受付はカードを読まないため、顔写真の照合は更新・暗証番号・電子証明書の手続きで練習します）",
            "press カード更新 (card renewal); 交付申請受付 reads no card, so practise the photo check with a card procedure",
        ),
        (
            "確認事項に答え、同意（録画・本人確認書類の写し・暗証番号の入力）にチェックして送る",
            "answer the eligibility questions and tick the consents",
        ),
        (
            "「カードの状態を確認（暗証番号の残り回数）」→「市区町村の職員につなぐ」",
            "check the card (PIN tries left), then connect to the municipal officer",
        ),
        (
            f"職員コンソール {console} に上記の demo-officer でログインし、「受付可」にする",
            "on the console, log in as demo-officer with the password above and go available (受付可)",
        ),
        ("届いた依頼を「受諾する」（Alt+A）", "accept the offer (Alt+A)"),
        (
            f"窓口で照合番号B {DEMO_CODE_B} を入力し、お客さま画面で暗証番号 {DEMO_AUTH_PIN} を入力する（カードが読まれます）",
            "at the counter type code B, and the PIN on the applicant screen: the card is read",
        ),
        (
            "コンソールでカメラの顔と「ICチップの顔写真」を見比べ、「顔写真と本人が一致する」などの確認にチェックする",
            "compare the face on camera with the chip photo and tick the checks",
        ),
        ("「承認（本人確認済み）」で決定を送る", "approve (identity confirmed) and send the decision"),
        (
            "不一致の練習: 窓口の通話画面で「（デモ）カメラの前にいる人: 別の人」を押すか、--camera-person other で起動する",
            "to practise a mismatch, seat someone else from the counter's call screen, or start with --camera-person other",
        ),
    ]
    lines = [f"はじめての受付 / first case ({DEMO_PERSON_NAME}'s virtual card):"]
    for number, (ja, en) in enumerate(steps, start=1):
        lines.append(f"  {number:2d}. {ja}")
        lines.append(f"      {en}")
    return "\n".join(lines)


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="madoguchi demo", description="窓口ブリッジ on one machine")
    parser.add_argument(
        "--camera-person",
        choices=("cardholder", "other", "nobody"),
        default="cardholder",
        help="who sits in front of the synthetic camera: the card's person, someone else, or nobody (test bars)",
    )
    parser.add_argument(
        "--document",
        choices=("passport", "driving_licence", "residence_card", "special_permanent_resident"),
        default="passport",
        help="the virtual ID document first on the document reader (docs/id-documents.md §Virtual)",
    )
    return parser.parse_args()


def main() -> int:
    """Run the demo until Ctrl+C."""
    args = _arguments()
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
    log = (DATA / "hub.log").open("ab")
    hub = subprocess.Popen(
        [str(BIN / "hub"), "serve", "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT
    )
    children.append(hub)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(base, hub)
        counter = _start_agent(children, base, args.camera_person, args.document)
        _say(seeded.stdout.rstrip())
        _say(
            "\n".join(
                [
                    f"  officer console  {base}/console/   (log in as demo-officer / demo-supervisor)",
                    _video_note(),
                    f"  counter (clerk)  {counter}/",
                    f"  counter (applicant screen)  {counter}/applicant",
                    "  仮想カード / virtual card: in-process, no card reader (CLERK_CARD_SOURCE=virtual) — "
                    f"the invented {DEMO_PERSON} (clerk_agent/card/virtual/people.py)",
                    f"  カメラ / camera  synthetic: {_camera_note(args.camera_person)}",
                    f"  本人確認書類 / ID document on the reader: virtual {args.document} (the clerk screen's "
                    "（デモ） row swaps it; test PINs and card numbers: docs/id-documents.md §Virtual)",
                    "",
                    walkthrough(counter, f"{base}/console/"),
                    "",
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
        log.close()
    return 0


def _terminate(signum: int, frame: object) -> None:
    del signum, frame
    raise KeyboardInterrupt


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, _terminate)
    raise SystemExit(main())
