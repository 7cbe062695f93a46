"""`Cluster`: PostgreSQL, N `hub serve` replicas, HAProxy and optionally coturn on one machine, started and stopped
by PID.

Every replica is the unit an operator runs (`hub serve` with HUB_* settings, migrations applied once before by
`hub demo --no-serve`, i.e. `hub db upgrade` plus the synthetic demo tenant). They share the database, the secret
key (a signaling ticket or resume token of one is valid on another), the key files (evidence KEK, audit signing
key) and the public origin, which is the load balancer's; with `turn=True` also the TURN relay (HUB_ICE_SERVERS)
and its secret (HUB_TURN_SECRET), so every replica mints credentials the relay accepts. See docs/operations.md
§Cluster.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

from deploy.cluster import loadbalancer
from deploy.cluster.postgres import LocalPostgres
from deploy.cluster.turn import LocalCoturn
from service.kit.envelope import Keyring

HUB = Path(sys.executable).with_name("hub")
# The checkout this launcher belongs to: replicas run its code even when the virtualenv was installed from another.
CHECKOUT = Path(__file__).resolve().parents[2]
# Longer than HAProxy needs to see a failing readiness check (CHECK_FALL × CHECK_INTER_MS), so a draining replica
# gets no new request by the time it stops listening.
DRAIN_SECONDS = 2.0


class ClusterError(RuntimeError):
    """A part of the cluster did not start or stop in time (the message names it and holds its log's tail)."""


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait(what: str, check: Callable[[], bool], within_s: float, log: Path | None = None) -> None:
    deadline = time.monotonic() + within_s
    while not check():
        if time.monotonic() > deadline:
            tail = log.read_text(errors="replace")[-3000:] if log is not None and log.exists() else ""
            raise ClusterError(f"{what} not within {within_s:.0f} s\n{tail}")
        time.sleep(0.05)


@dataclass
class Replica:
    """One `hub serve` process behind the load balancer (named like its HAProxy server line)."""

    name: str
    port: int
    log: Path
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """Its own address, bypassing the load balancer (plain HTTP on loopback)."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        """Whether its process is alive."""
        return self.proc is not None and self.proc.poll() is None

    def ready(self) -> bool:
        """Whether /readyz answers 200 (database reachable and migrated, not draining)."""
        try:
            return httpx.get(f"{self.url}/readyz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False


@dataclass
class Cluster:
    """PostgreSQL + `replicas` × `hub serve` + HAProxy (TLS) [+ coturn] on 127.0.0.1; a context manager or start/stop.

    `url` is the one address clients use (HTTPS through HAProxy; trust `ca_file`). Fault injection:
    `kill_replica` (SIGKILL), `stop_replica` (SIGTERM: drain, finish, close sockets with a resumable code),
    `start_replica`, `restart_replica`, `rolling_restart`, `stop_postgres`/`start_postgres`/`restart_postgres`.
    """

    replicas: int = 2
    workdir: Path | None = None
    environment: str = "development"
    seed_demo: bool = True
    dev_pki_dir: Path | None = None
    extra_env: Mapping[str, str] = field(default_factory=dict)
    drain_seconds: float = DRAIN_SECONDS
    lb_port: int = 0
    turn: bool = False

    def __post_init__(self) -> None:
        self._owns_workdir = self.workdir is None
        self.dir = Path(self.workdir or tempfile.mkdtemp(prefix="madoguchi-cluster-"))
        self.data_dir = self.dir / "hub"
        self.lb_port = self.lb_port or _free_port()
        self.postgres = LocalPostgres(Path(tempfile.mkdtemp(prefix="madoguchi-cluster-pg-")))
        self.secret_key = secrets.token_urlsafe(48)
        self.nodes = [
            Replica(f"hub{i + 1}", _free_port(), self.dir / f"hub{i + 1}.log") for i in range(self.replicas)
        ]
        self.stats_socket = self.dir / "haproxy.sock"
        self._haproxy: subprocess.Popen[bytes] | None = None
        self.ca_file = self.dir / "tls" / "ca.pem"
        # coturn, when asked for: every replica hands out its address with credentials minted from its secret.
        self.coturn = LocalCoturn(self.dir / "coturn") if self.turn else None

    # -- addresses -------------------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The public origin: HTTPS through the load balancer."""
        return f"https://127.0.0.1:{self.lb_port}"

    @property
    def ws_url(self) -> str:
        """The public origin for WebSockets."""
        return f"wss://127.0.0.1:{self.lb_port}"

    @property
    def database_url(self) -> str:
        """The hub's database (SQLAlchemy asyncpg URL)."""
        return self.postgres.url

    @property
    def credentials(self) -> dict[str, object]:
        """The demo tenant's logins, device id and key path (demo-credentials.json), when seeded."""
        loaded: dict[str, object] = json.loads((self.data_dir / "demo-credentials.json").read_text())
        return loaded

    @property
    def device_key_file(self) -> Path:
        """The demo counter device's private key."""
        return self.data_dir / "demo-device.key"

    def tls(self) -> ssl.SSLContext:
        """A client TLS context that trusts the cluster's test CA (httpx `verify=`, websockets `ssl=`)."""
        return ssl.create_default_context(cafile=str(self.ca_file))

    def client(self, **kwargs: object) -> httpx.AsyncClient:
        """An async HTTP client on the load balancer that trusts the cluster's CA."""
        return httpx.AsyncClient(base_url=self.url, verify=self.tls(), **kwargs)  # type: ignore[arg-type]

    def env(self, replica: Replica | None = None) -> dict[str, str]:
        """The HUB_* environment of a replica (or of a one-off `hub` command such as `hub db upgrade`)."""
        env = {
            **os.environ,
            "HUB_ENVIRONMENT": self.environment,
            "HUB_DATABASE_URL": self.database_url,
            "HUB_DATA_DIR": str(self.data_dir),
            "HUB_SECRET_KEY": self.secret_key,
            "HUB_KEK_FILE": str(self.dir / "keys" / "kek.json"),
            "HUB_AUDIT_SIGNING_KEY_FILE": str(self.dir / "keys" / "audit-signing.key"),
            "HUB_PUBLIC_ORIGIN": self.url,
            "HUB_HOST": "127.0.0.1",
            "HUB_SIGNALING_BUS": "postgres",
            "HUB_OUTBOX_WORKER": "on",
            "HUB_SHUTDOWN_DRAIN_SECONDS": str(self.drain_seconds),
            # The load balancer's address: its X-Forwarded-For names the client (login throttling per address).
            "HUB_FORWARDED_ALLOW_IPS": '["127.0.0.1"]',
            "PYTHONPATH": os.pathsep.join(filter(None, [str(CHECKOUT), os.environ.get("PYTHONPATH", "")])),
        }
        if self.dev_pki_dir is not None:
            env["HUB_DEV_PKI_DIR"] = str(self.dev_pki_dir)
        if self.coturn is not None:
            env["HUB_ICE_SERVERS"] = json.dumps([{"urls": self.coturn.urls}])
            env["HUB_TURN_SECRET"] = self.coturn.secret
        if replica is not None:
            env["HUB_PORT"] = str(replica.port)
        env.update(self.extra_env)
        return env

    # -- lifecycle -------------------------------------------------------------------------------------------

    def __enter__(self) -> Cluster:
        self.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def start(self) -> None:
        """PostgreSQL, keys, migrations (+ demo tenant), HAProxy, then every replica; returns once all serve."""
        try:
            self.postgres.init()
            self._make_keys()
            cert = loadbalancer.make_certificate(self.dir / "tls")
            self._prepare_database()
            if self.coturn is not None:
                self.coturn.start()
            self._start_haproxy(cert.haproxy_pem)
            for replica in self.nodes:
                self._spawn(replica)
            for replica in self.nodes:
                self._await_serving(replica)
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Stop the replicas (SIGTERM, then SIGKILL), HAProxy and PostgreSQL; remove a temporary workdir."""
        for replica in self.nodes:
            if replica.proc is not None and replica.proc.poll() is None:
                replica.proc.send_signal(signal.SIGTERM)
        for replica in self.nodes:
            self._reap(replica, grace_s=self.drain_seconds + 10)
        if self._haproxy is not None:
            _stop(self._haproxy)
            self._haproxy = None
        if self.coturn is not None:
            self.coturn.stop()
        try:
            self.postgres.stop("immediate")
        except Exception:
            self.postgres.kill()
        shutil.rmtree(self.postgres.directory, ignore_errors=True)
        if self._owns_workdir:
            shutil.rmtree(self.dir, ignore_errors=True)

    def _make_keys(self) -> None:
        keys = self.dir / "keys"
        keys.mkdir(parents=True, exist_ok=True)
        Keyring.generate().save(keys / "kek.json")
        audit_key = keys / "audit-signing.key"
        fd = os.open(audit_key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(
                Ed25519PrivateKey.generate().private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
            )

    def _prepare_database(self) -> None:
        """Migrations run once, before any replica starts (replicas refuse an un-migrated database)."""
        argv = [str(HUB), "demo", "--no-serve"] if self.seed_demo else [str(HUB), "db", "upgrade"]
        done = subprocess.run(argv, env=self.env(), capture_output=True, text=True, check=False, timeout=120)
        if done.returncode != 0:
            raise ClusterError(f"{' '.join(argv[1:])} failed: {done.stdout[-2000:]}{done.stderr[-2000:]}")

    def _start_haproxy(self, pem: Path) -> None:
        config = self.dir / "haproxy.cfg"
        config.write_text(
            loadbalancer.haproxy_config(
                port=self.lb_port,
                pem=pem,
                stats_socket=self.stats_socket,
                replicas=[(r.name, r.port) for r in self.nodes],
            )
        )
        binary = shutil.which("haproxy") or "/usr/sbin/haproxy"
        log = self.dir / "haproxy.log"
        with log.open("wb") as out:
            self._haproxy = subprocess.Popen(
                [binary, "-db", "-f", str(config)],
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # a terminal's Ctrl+C reaches the launcher, which stops parts in order
            )
        haproxy = self._haproxy
        _wait(
            "HAProxy's runtime socket",
            lambda: haproxy.poll() is None and self.stats_socket.exists(),
            10,
            log,
        )

    def _spawn(self, replica: Replica) -> None:
        with replica.log.open("ab") as out:
            replica.proc = subprocess.Popen(
                [str(HUB), "serve"],
                env=self.env(replica),
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def _await_serving(self, replica: Replica, within_s: float = 60) -> None:
        def up() -> bool:
            if not replica.running:
                raise ClusterError(
                    f"{replica.name} exited:\n{replica.log.read_text(errors='replace')[-3000:]}"
                )
            return replica.ready()

        _wait(f"{replica.name} ready", up, within_s, replica.log)
        self.await_lb_state(replica, "UP", within_s=10)

    def _reap(self, replica: Replica, grace_s: float) -> int | None:
        if replica.proc is None:
            return None
        try:
            code = replica.proc.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            replica.proc.kill()
            code = replica.proc.wait(timeout=5)
        replica.proc = None
        return code

    # -- state as the load balancer sees it -----------------------------------------------------------------

    def lb_states(self) -> dict[str, str]:
        """Each replica's state in HAProxy (UP, DOWN, MAINT, or a transition such as `UP 1/2`)."""
        return loadbalancer.server_states(self.stats_socket)

    def await_lb_state(self, replica: Replica, state: str, within_s: float = 10) -> None:
        """Wait until HAProxy reports `replica` in `state` (UP or DOWN)."""
        _wait(
            f"HAProxy marking {replica.name} {state}",
            lambda: self.lb_states().get(replica.name) == state,
            within_s,
            self.dir / "haproxy.log",
        )

    # -- faults ----------------------------------------------------------------------------------------------

    def replica(self, which: int | str) -> Replica:
        """A replica by index or name."""
        if isinstance(which, int):
            return self.nodes[which]
        return next(r for r in self.nodes if r.name == which)

    def kill_replica(self, which: int | str) -> None:
        """SIGKILL: the process dies with its requests and sockets, as in a crash or an OOM kill."""
        replica = self.replica(which)
        if replica.proc is not None and replica.proc.poll() is None:
            replica.proc.send_signal(signal.SIGKILL)
        self._reap(replica, grace_s=10)

    def stop_replica(self, which: int | str) -> int | None:
        """SIGTERM and wait: readiness turns 503, HAProxy drains it, in-flight requests finish, sockets close 1012."""
        replica = self.replica(which)
        if replica.proc is not None and replica.proc.poll() is None:
            replica.proc.send_signal(signal.SIGTERM)
        return self._reap(replica, grace_s=self.drain_seconds + 30)

    def start_replica(self, which: int | str) -> None:
        """Start a stopped replica and wait until it is ready and HAProxy has it UP again."""
        replica = self.replica(which)
        if replica.running:
            return
        self._spawn(replica)
        self._await_serving(replica)

    def restart_replica(self, which: int | str) -> None:
        """Graceful stop, then start."""
        self.stop_replica(which)
        self.start_replica(which)

    def rolling_restart(self) -> None:
        """Restart every replica in turn, each back in service before the next goes (what a deploy does)."""
        for replica in self.nodes:
            self.restart_replica(replica.name)

    def stop_postgres(self, mode: str = "fast") -> None:
        """Stop the database server (`immediate` is a crash)."""
        self.postgres.stop(mode)

    def start_postgres(self) -> None:
        """Start the database server again on the same port."""
        self.postgres.start()

    def restart_postgres(self, mode: str = "fast") -> None:
        """Stop and start the database server."""
        self.postgres.restart(mode)

    def summary(self) -> str:
        """What an operator needs to try the cluster: URLs, logins, files."""
        lines = [
            "",
            "窓口ブリッジ クラスター / madoguchi-bridge cluster (synthetic data only)",
            f"  hub (HAProxy, TLS)  {self.url}   CA: {self.ca_file}",
            f"  console             {self.url}/console/",
            *[f"  replica {r.name:<11} {r.url}   log: {r.log}" for r in self.nodes],
            f"  PostgreSQL          {self.postgres.dsn}",
            f"  HAProxy             {self.dir / 'haproxy.cfg'}   runtime API: {self.stats_socket}",
        ]
        if self.coturn is not None:
            lines.append(f"  coturn (TURN)       {' '.join(self.coturn.urls)}   config: {self.coturn.config}")
        if self.seed_demo:
            logins = self.credentials.get("logins")
            if isinstance(logins, dict):
                lines.append("  logins (username / password):")
                lines.extend(f"    {u:<16} {p}" for u, p in logins.items())
        lines += ["  Ctrl+C で停止 / Ctrl+C to stop", ""]
        return "\n".join(lines)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)
