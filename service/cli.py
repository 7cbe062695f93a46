"""The `hub` command: serve, db upgrade, demo, account create, designation add, device enroll-code, audit verify."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import gc
import getpass
import logging
import socket
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

import uvicorn
from fastapi import FastAPI
from pydantic import ValidationError

from service import logging as hub_logging
from service import maintenance, migrate
from service.accounts import mtls
from service.accounts import service as accounts_service
from service.accounts.models import Device
from service.accounts.roles import SYSTEM, Role
from service.app import NotMigrated, create_app, ensure_migrated
from service.config import Settings, get_settings, settings_problems
from service.db import create_sessionmaker, unit_of_work
from service.errors import HubError
from service.signaling.ws_server import uvicorn_ws_options
from service.tenancy import service as tenancy_service
from service.tenancy.codes import Procedure
from service.tenancy.hours import ALWAYS_OPEN
from service.tenancy.schemas import DesignationCreate

logger = logging.getLogger(__name__)


async def _db_upgrade(settings: Settings) -> None:
    engine = maintenance.engine_for(settings)
    try:
        before = await migrate.current_revision(engine)
        await migrate.upgrade(engine)
        after = await migrate.current_revision(engine)
    finally:
        await engine.dispose()
    print(f"database migrated: {before or '(empty)'} → {after}  [{_safe_url(settings)}]")


def _safe_url(settings: Settings) -> str:
    url = settings.effective_database_url
    if "@" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://…@{rest.split('@', 1)[1]}"
    return url


def _free_port(host: str, preferred: int) -> int:
    with socket.socket() as probe:
        try:
            probe.bind((host, preferred))
            return preferred
        except OSError:
            probe.bind((host, 0))
            return int(probe.getsockname()[1])


KEEP_ALIVE_SECONDS = 30


class DrainingServer(uvicorn.Server):
    """uvicorn, with a drain before the graceful shutdown (docs/operations.md §Cluster).

    On the first SIGTERM/SIGINT /readyz turns 503 while the hub keeps serving for `drain_seconds`, so a load
    balancer's health check takes it out of rotation first; then uvicorn's own shutdown: stop listening, finish
    in-flight requests, close WebSockets with 1012 (service restart, which clients resume on another replica).
    A second signal stops at once.
    """

    def __init__(self, config: uvicorn.Config, *, app: FastAPI, drain_seconds: float) -> None:
        super().__init__(config)
        self.app = app
        self.drain_seconds = drain_seconds
        self._drain_until: float | None = None

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        """uvicorn's startup (the app's lifespan, the listening sockets), then the heap it built frozen.

        A full (generation 2) collection walks every tracked object; after startup that is ~250,000 of them
        (modules, routes, schemas, the ORM's mappers), none of which ever become garbage. Walking them cost
        150 ms of CPU per collection, and each such pause stalled every request in flight: the queue bench's
        tail (#18, docs/capacity.md). `gc.freeze` moves them out of the collector's sight; the garbage the
        startup left is collected first so that none of it is frozen for good.
        """
        await super().startup(sockets)
        gc.collect()
        gc.freeze()

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        """Start draining on the first signal; the second (or no drain configured) exits as uvicorn does."""
        if self.drain_seconds <= 0 or self._drain_until is not None:
            super().handle_exit(sig, frame)
            return
        self.app.state.draining = True
        self._drain_until = time.monotonic() + self.drain_seconds
        logger.warning("shutdown requested: draining for %.1f s before stopping", self.drain_seconds)

    async def on_tick(self, counter: int) -> bool:
        """uvicorn's tick (every 0.1 s); True ends the main loop, once the drain is over."""
        if self._drain_until is not None and time.monotonic() >= self._drain_until:
            return True
        return await super().on_tick(counter)


def _serve(settings: Settings) -> None:
    tls = mtls.uvicorn_tls_options(settings)
    app = create_app(settings)
    proxies = settings.forwarded_allow_ips
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_config=hub_logging.configure(),
        # Only a configured reverse proxy's X-Forwarded-For is believed (it names the client to throttle).
        proxy_headers=bool(proxies),
        forwarded_allow_ips=proxies or None,
        # Longer than the clients' own idle expiry (httpx 5 s): the client drops an idle connection first, so no
        # request goes down a connection the hub is closing at that moment (an httpx.ReadError in the bench).
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
        **uvicorn_ws_options(),
        **tls,
    )
    DrainingServer(config, app=app, drain_seconds=settings.shutdown_drain_seconds).run()


def _tls_overrides(args: argparse.Namespace) -> dict[str, object]:
    """`serve`/`demo` TLS options that override the HUB_TLS_* / HUB_DEVICE_MTLS settings."""
    out: dict[str, object] = {}
    for option, setting in (
        ("tls_cert", "tls_cert_file"),
        ("tls_key", "tls_key_file"),
        ("client_ca", "tls_client_ca_file"),
    ):
        if getattr(args, option, None):
            out[setting] = Path(getattr(args, option))
    if getattr(args, "device_mtls", None):
        out["device_mtls"] = args.device_mtls
    return out


def _add_tls_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--tls-cert", help="serve HTTPS with this certificate (PEM; HUB_TLS_CERT_FILE)")
    parser.add_argument("--tls-key", help="its private key (PEM; HUB_TLS_KEY_FILE)")
    parser.add_argument(
        "--client-ca",
        help="CA of device client certificates (default: the hub's device CA; HUB_TLS_CLIENT_CA_FILE)",
    )
    parser.add_argument(
        "--device-mtls",
        choices=["off", "optional", "required"],
        help="device client certificates: checked when presented, or required (HUB_DEVICE_MTLS)",
    )


async def _active_device(settings: Settings, device_id: str) -> Device | None:
    engine = maintenance.engine_for(settings)
    try:
        async with unit_of_work(create_sessionmaker(engine)) as session:
            device = await session.get(Device, device_id)
    finally:
        await engine.dispose()
    return device if device is not None and device.revoked_at is None else None


def _device_certificate(settings: Settings, args: argparse.Namespace) -> int:
    device = asyncio.run(_active_device(settings, args.device_id))
    if device is None:
        print(f"hub: no active device {args.device_id}", file=sys.stderr)
        return 1
    ca = mtls.load_ca(settings)
    key_pem, cert_pem = mtls.issue_device_certificate(ca, device.id)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    key_file, cert_file = out / f"{device.id}.key", out / f"{device.id}.crt"
    key_file.touch(mode=0o600, exist_ok=True)
    key_file.write_bytes(key_pem)
    cert_file.write_bytes(cert_pem)
    print(f"device certificate for {device.id}: {cert_file} (key {key_file}); device CA {ca.cert_file}")
    return 0


async def _demo(settings: Settings) -> Settings:
    from service.demo import seed

    await _db_upgrade(settings)
    engine = maintenance.engine_for(settings)
    try:
        demo = await seed(create_sessionmaker(engine), settings)
    finally:
        await engine.dispose()
    port = _free_port(settings.host, settings.port)
    settings = settings.model_copy(update={"port": port})
    base = f"http://{settings.host}:{port}"
    lines = [
        "",
        "窓口ブリッジ デモ / madoguchi-bridge demo (synthetic data only)",
        f"  hub          {base}",
        f"  API docs     {base}/docs",
        f"  health       {base}/healthz",
        f"  municipality {demo.municipality_code} 窓口市 (invented)   post office {demo.post_office_id}",
        f"  demo device  {demo.device_id} (key {demo.device_key_path})",
        "  logins (username / password):",
        *[f"    {u:<16} {p}" for u, p in demo.logins.items()],
        "  Ctrl+C で停止 / Ctrl+C to stop",
        "",
    ]
    print("\n".join(lines), flush=True)
    return settings


async def _account_create(settings: Settings, args: argparse.Namespace) -> None:
    password = args.password or getpass.getpass("password (12+ characters): ")
    engine = maintenance.engine_for(settings)
    try:
        async with unit_of_work(create_sessionmaker(engine)) as session:
            # SYSTEM: the operator's console on the server is trusted, so the account starts active (bootstrap).
            account = await accounts_service.create_account(
                session,
                actor=SYSTEM,
                username=args.username,
                display_name=args.display_name or args.username,
                role=Role(args.role),
                password=password,
                municipality_code=args.municipality,
                post_office_id=args.post_office,
            )
    finally:
        await engine.dispose()
    print(f"account {account.username} ({account.role}) created: {account.id}")


async def _designation_add(settings: Settings, args: argparse.Namespace) -> None:
    data = DesignationCreate(
        municipality_code=args.municipality,
        post_office_id=args.post_office,
        procedures=[Procedure(p) for p in args.procedure],
        valid_from=dt.date.fromisoformat(args.valid_from),
        valid_until=dt.date.fromisoformat(args.valid_until),
        council_resolution_ref=args.council_resolution,
        contract_id=args.contract,
        opening_hours=ALWAYS_OPEN
        if args.always_open
        else {d: [["09:00", "17:00"]] for d in ("mon", "tue", "wed", "thu", "fri")},
    )
    engine = maintenance.engine_for(settings)
    try:
        async with unit_of_work(create_sessionmaker(engine)) as session:
            designation = await tenancy_service.create_designation(session, actor=SYSTEM, data=data)
    finally:
        await engine.dispose()
    print(f"designation {designation.id} created")


async def _enroll_code(settings: Settings, args: argparse.Namespace) -> None:
    engine = maintenance.engine_for(settings)
    try:
        async with unit_of_work(create_sessionmaker(engine)) as session:
            code, record = await accounts_service.issue_enrolment_code(
                session,
                actor=SYSTEM,
                post_office_id=args.post_office,
                device_name=args.name,
                settings=settings,
            )
    finally:
        await engine.dispose()
    print(f"enrolment code (one-time, until {record.expires_at.isoformat()}): {code}")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of `hub`."""
    parser = argparse.ArgumentParser(prog="hub", description="窓口ブリッジ hub")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the hub (refuses an un-migrated database)")
    sub.add_parser(
        "check-config", help="check the HUB_* settings without starting; exit 2 naming every problem"
    )
    serve.add_argument("--port", type=int)
    _add_tls_options(serve)
    db = sub.add_parser("db", help="database commands")
    db.add_subparsers(dest="db_command", required=True).add_parser("upgrade", help="apply migrations")
    demo = sub.add_parser(
        "demo", help="migrate, create the synthetic demo tenant, print logins and URLs, serve"
    )
    demo.add_argument("--port", type=int)
    demo.add_argument("--no-serve", action="store_true", help="seed and print, then exit")
    _add_tls_options(demo)
    account = sub.add_parser("account", help="accounts").add_subparsers(dest="account_command", required=True)
    create = account.add_parser(
        "create",
        help="create an account, active at once: the operator on the hub's server is trusted "
        "(an admin's officer, supervisor or auditor made over the API waits for a second person)",
    )
    create.add_argument("username")
    create.add_argument("--role", required=True, choices=[r.value for r in Role])
    create.add_argument("--display-name")
    create.add_argument("--municipality")
    create.add_argument("--post-office")
    create.add_argument("--password", help="prompted for when omitted")
    designation = sub.add_parser("designation", help="designations").add_subparsers(
        dest="designation_command", required=True
    )
    add = designation.add_parser("add", help="add a designation")
    add.add_argument("--municipality", required=True)
    add.add_argument("--post-office", required=True)
    add.add_argument("--procedure", action="append", required=True, choices=[p.value for p in Procedure])
    add.add_argument("--valid-from", required=True)
    add.add_argument("--valid-until", required=True)
    add.add_argument("--council-resolution", required=True)
    add.add_argument("--contract", required=True)
    add.add_argument(
        "--always-open", action="store_true", help="no opening-hours limit (default: weekdays 9–17)"
    )
    device = sub.add_parser("device", help="devices").add_subparsers(dest="device_command", required=True)
    code = device.add_parser("enroll-code", help="issue a one-time enrolment code")
    code.add_argument("--post-office", required=True)
    code.add_argument("--name", required=True)
    cert = device.add_parser("cert", help="issue a client certificate (mTLS) from the hub's device CA")
    cert.add_argument("device_id")
    cert.add_argument("--out", required=True, help="directory for DEVICE.key and DEVICE.crt")
    evidence = sub.add_parser("evidence", help="evidence at rest").add_subparsers(
        dest="evidence_command", required=True
    )
    evidence.add_parser(
        "purge",
        help="crypto-shred evidence past its municipality's retention (legal holds excepted); run daily",
    )
    keys = sub.add_parser("keys", help="key-encryption keys").add_subparsers(
        dest="keys_command", required=True
    )
    keys.add_parser("rotate", help="add a key-encryption key, make it active and re-wrap every data key")
    audit = sub.add_parser("audit", help="audit trail").add_subparsers(dest="audit_command", required=True)
    audit.add_parser(
        "verify", help="walk every hash chain and signed checkpoint; exit 1 at the first broken link"
    )
    audit.add_parser(
        "checkpoint", help="sign every chain's current head now (the hub also does it at an interval)"
    )
    pki = sub.add_parser(
        "dev-pki", help="generate the test PKI for the virtual card (development only)", add_help=False
    )
    pki.add_argument("rest", nargs=argparse.REMAINDER)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `hub`."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["dev-pki"]:
        # The test PKI generator has its own options; hand them over untouched.
        from service.cardproof.devpki import main as devpki_main

        return devpki_main(argv[1:])
    args = build_parser().parse_args(argv)
    try:
        settings = get_settings()
    except ValidationError as exc:
        # An operator gets every invalid setting at once and how to fix it, not a traceback.
        problems = settings_problems(exc)
        print(f"hub: the configuration cannot be used ({len(problems)} problem(s)):", file=sys.stderr)
        for line in problems:
            print(f"  - {line}", file=sys.stderr)
        print(
            "Fix the HUB_* environment variables above (see the README's configuration table).",
            file=sys.stderr,
        )
        return 2
    if args.command == "check-config":
        print(
            f"hub: configuration ok — environment {settings.environment.value}, "
            f"database {'PostgreSQL' if settings.database_url.startswith('postgresql') else 'SQLite'}, "
            f"origin {settings.origin}, signaling bus {settings.effective_signaling_bus}"
        )
        return 0
    if getattr(args, "port", None):
        settings = settings.model_copy(update={"port": args.port})
    if tls := _tls_overrides(args):
        settings = settings.model_copy(update=tls)
    try:
        if args.command == "serve":
            asyncio.run(ensure_migrated(settings))
            _serve(settings)
        elif args.command == "db":
            asyncio.run(_db_upgrade(settings))
        elif args.command == "demo":
            settings = asyncio.run(_demo(settings))
            if not args.no_serve:
                _serve(settings)
        elif args.command == "account":
            asyncio.run(_account_create(settings, args))
        elif args.command == "designation":
            asyncio.run(_designation_add(settings, args))
        elif args.command == "device":
            if args.device_command == "cert":
                return _device_certificate(settings, args)
            asyncio.run(_enroll_code(settings, args))
        elif args.command == "evidence":
            return asyncio.run(maintenance.evidence_purge(settings))
        elif args.command == "keys":
            return asyncio.run(maintenance.keys_rotate(settings))
        elif args.command == "audit":
            if args.audit_command == "checkpoint":
                return asyncio.run(maintenance.audit_checkpoint(settings))
            return asyncio.run(maintenance.audit_verify(settings))
    except NotMigrated as exc:
        print(f"hub: {exc}", file=sys.stderr)
        return 2
    except HubError as exc:
        print(f"hub: {exc.detail} ({exc.code})", file=sys.stderr)
        return 1
    except ValueError as exc:
        print(f"hub: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
