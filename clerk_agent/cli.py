"""`clerk-agent` command line: `run` (the counter app), `kiosk` (the lobby certificate terminal), `booth` (the
outreach booth on an officer's laptop, docs/booths.md) and `virtual-card` (plug the Virtual My Number Card into vpcd)."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

from clerk_agent.card.virtual.build import MissingPki, build_virtual_card, load_card_material, person
from clerk_agent.card.virtual.nextgen import printed_card_face_code
from clerk_agent.card.virtual.people import PEOPLE, VirtualPerson
from clerk_agent.card.virtual.vicc import ViccClient
from service.wire.card_profiles import CardGeneration

if TYPE_CHECKING:
    from clerk_agent.config import AgentSettings


def _test_card_banner(
    holder: VirtualPerson, host: str, port: int, generation: CardGeneration = CardGeneration.GEN2016
) -> str:
    # This card is synthetic and its secrets are meant to be typed in a demo; no real PIN ever passes here.
    if generation is CardGeneration.GEN2028:
        # Two PINs and the 照合番号 printed on the card (docs/card.md §3).
        return "\n".join(
            [
                f"Virtual next-generation My Number Card (TEST CARD, P-384) on vpcd {host}:{port}",
                f"  person: {holder.key} ({holder.name}, born {holder.birth_date.isoformat()})",
                f"  利用者証明用暗証番号 (auth PIN): {holder.auth_pin}",
                f"  署名用パスワード (signing password): {holder.sign_password}",
                "  generation: gen2028 (two applications, two PINs)",
                f"  照合番号 (printed card-face code): {printed_card_face_code(holder)}",
                "Ctrl-C removes the card.",
            ]
        )
    return "\n".join(
        [
            f"Virtual My Number Card (TEST CARD) on vpcd {host}:{port}",
            f"  person: {holder.key} ({holder.name}, born {holder.birth_date.isoformat()})",
            f"  利用者証明用暗証番号 (auth PIN): {holder.auth_pin}",
            f"  署名用パスワード (signing password): {holder.sign_password}",
            f"  券面事項入力補助用暗証番号: {holder.kenhojo_pin}",
            f"  照合番号B (card-face code B): {holder.code_b}",
            "Ctrl-C removes the card.",
        ]
    )


def _virtual_card(args: argparse.Namespace) -> int:
    try:
        holder = person(args.person)
        material = load_card_material(args.pki_dir, args.person, CardGeneration(args.generation))
    except (KeyError, MissingPki) as exc:
        sys.stderr.write(f"clerk-agent virtual-card: {exc.args[0] if exc.args else exc}\n")
        return 2
    card = build_virtual_card(holder, material)
    client = ViccClient(card, host=args.vpcd_host, port=args.vpcd_port, reconnect=True, netns=args.vpcd_netns)
    stop = threading.Event()

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        del signum, frame
        stop.set()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    banner = _test_card_banner(holder, args.vpcd_host, args.vpcd_port, material.generation)
    print(banner, flush=True)
    client.start()
    stop.wait()
    client.stop()
    return 0


def _settings(args: argparse.Namespace, command: str, extra: dict[str, object]) -> AgentSettings | None:
    """The agent's settings from CLERK_* with the command line's overrides; None (after saying why) without a device."""
    from clerk_agent.config import AgentSettings

    given = {
        "hub_url": args.hub_url,
        "device_id": args.device_id,
        "key_file": args.key_file,
        "card_source": args.card,
        "pki_dir": args.pki_dir_run,
        **extra,
    }
    settings = AgentSettings(**{key: value for key, value in given.items() if value is not None})
    if not settings.device_id:
        sys.stderr.write(f"clerk-agent {command}: set CLERK_DEVICE_ID or --device-id\n")
        return None
    logging.getLogger("clerk_agent").setLevel(logging.INFO)
    return settings


def _run(args: argparse.Namespace) -> int:
    import asyncio

    from clerk_agent.app import run
    from clerk_agent.media import MediaSettingsError

    settings = _settings(args, "run", {"data_dir": args.data_dir, "ui_port": args.ui_port})
    if settings is None:
        return 2
    try:
        asyncio.run(run(settings))
    except MediaSettingsError as exc:
        sys.stderr.write(f"clerk-agent run: カメラ / camera: {exc}\n")
        return 2
    return 0


def _kiosk(args: argparse.Namespace) -> int:
    import asyncio

    from clerk_agent.kiosk.app import run_kiosk

    settings = _settings(
        args,
        "kiosk",
        {
            "kiosk_printer_uri": args.printer,
            "kiosk_municipality_code": args.municipality,
            "kiosk_ui_port": args.ui_port,
        },
    )
    if settings is None:
        return 2
    asyncio.run(run_kiosk(settings))
    return 0


def _booth(args: argparse.Namespace) -> int:
    import asyncio

    from clerk_agent.booth.app import run_booth

    settings = _settings(args, "booth", {})
    if settings is None:
        return 2
    store = args.store or settings.data_dir / "booth.sqlite3"
    asyncio.run(run_booth(settings, booth_id=args.booth or "", store_path=store, port=args.ui_port))
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `clerk-agent` console script."""
    parser = argparse.ArgumentParser(prog="clerk-agent", description="窓口ブリッジ clerk agent")
    sub = parser.add_subparsers(dest="command", required=True)
    virtual = sub.add_parser("virtual-card", help="connect the Virtual My Number Card to vpcd (pcscd)")
    virtual.add_argument("--vpcd-host", default="127.0.0.1", help="where vpcd listens (default 127.0.0.1)")
    virtual.add_argument(
        "--vpcd-port",
        type=int,
        default=35963,
        help="vpcd slot port (default 35963, Debian's reader.conf.d/vpcd)",
    )
    virtual.add_argument(
        "--vpcd-netns",
        type=Path,
        default=None,
        help="network namespace pcscd runs in (e.g. /run/netns/madoguchi-pcscd); connect inside it",
    )
    virtual.add_argument(
        "--person", default="yamada_hanako", choices=sorted(PEOPLE), help="which invented person"
    )
    virtual.add_argument(
        "--generation",
        default=CardGeneration.GEN2016.value,
        choices=[g.value for g in CardGeneration],
        help="gen2016: the current card (default); gen2028: the next-generation card (docs/card.md §3)",
    )
    virtual.add_argument(
        "--pki-dir",
        type=Path,
        default=Path("var/dev-pki"),
        help="test PKI from `hub dev-pki` (default var/dev-pki)",
    )
    runner = sub.add_parser("run", help="run the counter app (local UI on 127.0.0.1)")
    runner.add_argument("--hub-url", help="the hub's base URL (CLERK_HUB_URL)")
    runner.add_argument("--device-id", help="this device's id (CLERK_DEVICE_ID)")
    runner.add_argument("--key-file", type=Path, help="the device's Ed25519 key (CLERK_KEY_FILE)")
    runner.add_argument("--card", help="'virtual' or a PC/SC reader's exact name (CLERK_CARD_SOURCE)")
    runner.add_argument(
        "--pki-dir", dest="pki_dir_run", type=Path, help="virtual card's test PKI (CLERK_PKI_DIR)"
    )
    runner.add_argument("--data-dir", type=Path, help="local record directory (CLERK_DATA_DIR)")
    runner.add_argument("--ui-port", type=int, help="local UI port on 127.0.0.1 (CLERK_UI_PORT)")
    kiosk = sub.add_parser("kiosk", help="run the lobby certificate terminal (touch UI on 127.0.0.1)")
    kiosk.add_argument("--hub-url", help="the hub's base URL (CLERK_HUB_URL)")
    kiosk.add_argument("--device-id", help="this terminal's device id (CLERK_DEVICE_ID)")
    kiosk.add_argument("--key-file", type=Path, help="the device's Ed25519 key (CLERK_KEY_FILE)")
    kiosk.add_argument("--card", help="'virtual' or a PC/SC reader's exact name (CLERK_CARD_SOURCE)")
    kiosk.add_argument(
        "--pki-dir", dest="pki_dir_run", type=Path, help="virtual card's test PKI (CLERK_PKI_DIR)"
    )
    kiosk.add_argument("--printer", help="receipt-slip printer IPP URI (CLERK_KIOSK_PRINTER_URI)")
    kiosk.add_argument("--municipality", help="municipality code served (CLERK_KIOSK_MUNICIPALITY_CODE)")
    kiosk.add_argument("--ui-port", type=int, help="touch UI port on 127.0.0.1 (CLERK_KIOSK_UI_PORT)")
    booth = sub.add_parser(
        "booth", help="run the outreach booth (出張申請受付) on the officer's laptop, offline first"
    )
    booth.add_argument("--hub-url", help="the hub's base URL (CLERK_HUB_URL)")
    booth.add_argument("--device-id", help="this laptop's device id (CLERK_DEVICE_ID)")
    booth.add_argument("--key-file", type=Path, help="the laptop's Ed25519 key (CLERK_KEY_FILE)")
    booth.add_argument("--booth", help="the booth id the supervisor scheduled")
    booth.add_argument(
        "--store", type=Path, help="the encrypted local store (default <data dir>/booth.sqlite3)"
    )
    booth.add_argument("--ui-port", type=int, default=8410, help="booth UI port on 127.0.0.1 (default 8410)")
    booth.set_defaults(card=None, pki_dir_run=None)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    if args.command == "virtual-card":
        return _virtual_card(args)
    if args.command == "run":
        return _run(args)
    if args.command == "kiosk":
        return _kiosk(args)
    if args.command == "booth":
        return _booth(args)
    parser.error(f"unknown command {args.command}")
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
