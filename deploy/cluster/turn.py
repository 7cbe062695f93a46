"""The cluster's TURN relay: coturn started from the shipped deploy/coturn/turnserver.conf, on 127.0.0.1.

The shipped policy is kept (shared-secret authentication, quotas, the denied peer ranges, no multicast); only what
names this machine is replaced: addresses and ports, the secret, the realm, the pid and database files. Loopback
peers are allowed, because here the counter, the console and the relay all live on 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import secrets
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

SHIPPED_CONFIG = Path(__file__).resolve().parents[1] / "coturn" / "turnserver.conf"
REALM = "madoguchi-cluster.invalid"
# Options of the shipped file that name the production machine; the cluster writes its own values.
MACHINE_OPTIONS = frozenset(
    {
        "listening-ip",
        "listening-port",
        "relay-ip",
        "min-port",
        "max-port",
        "static-auth-secret",
        "realm",
        "pidfile",
        "userdb",
        "log-file",
    }
)


class TurnError(RuntimeError):
    """turnserver did not start (the message holds its log's tail)."""


def _free_port() -> int:
    """A port free for both TCP and UDP on 127.0.0.1 (coturn listens on both)."""
    while True:
        with socket.socket() as tcp:
            tcp.bind(("127.0.0.1", 0))
            port = int(tcp.getsockname()[1])
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                try:
                    udp.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return port


def cluster_config(*, port: int, relay_ports: tuple[int, int], secret: str, directory: Path) -> str:
    """The shipped turnserver.conf with this machine's addresses, ports, secret and files."""
    kept = []
    for raw in SHIPPED_CONFIG.read_text(encoding="utf-8").splitlines():
        option = raw.strip().partition("=")[0].strip()
        if option in MACHINE_OPTIONS:
            continue
        kept.append(raw)
    low, high = relay_ports
    return "\n".join(
        [
            *kept,
            "",
            "# deploy/cluster: this machine (everything on 127.0.0.1)",
            "listening-ip=127.0.0.1",
            f"listening-port={port}",
            "relay-ip=127.0.0.1",
            f"min-port={low}",
            f"max-port={high}",
            f"static-auth-secret={secret}",
            f"realm={REALM}",
            # The counters, the consoles and the relay share loopback here; allowed-peer-ip wins over the denied
            # 127.0.0.0/8 above, and coturn refuses loopback peers unless told otherwise.
            "allow-loopback-peers",
            "allowed-peer-ip=127.0.0.1",
            f"pidfile={directory / 'turnserver.pid'}",
            f"userdb={directory / 'turndb'}",
            "log-file=stdout",
            "",
        ]
    )


class LocalCoturn:
    """A turnserver for the cluster: UDP and TCP on 127.0.0.1, shared-secret (TURN REST) credentials."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.port = _free_port()
        self.secret = secrets.token_urlsafe(32)
        # A hundred relay ports somewhere in the upper range, so two clusters on one machine rarely collide.
        low = 50_000 + secrets.randbelow(150) * 100
        self.relay_ports = (low, low + 99)
        self.config = directory / "turnserver.conf"
        self.log = directory / "turnserver.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def urls(self) -> list[str]:
        """The ICE server URLs clients are given (UDP first, TCP for networks that block UDP)."""
        return [f"turn:127.0.0.1:{self.port}?transport=udp", f"turn:127.0.0.1:{self.port}?transport=tcp"]

    def start(self) -> None:
        """Write the configuration (0600: it holds the secret), start turnserver, wait until it listens."""
        binary = shutil.which("turnserver") or "/usr/bin/turnserver"
        self.directory.mkdir(parents=True, exist_ok=True)
        self.config.touch(mode=0o600)
        self.config.write_text(
            cluster_config(
                port=self.port, relay_ports=self.relay_ports, secret=self.secret, directory=self.directory
            )
        )
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [binary, "-c", str(self.config)],
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # a terminal's Ctrl+C reaches the launcher, which stops parts in order
            )
        deadline = time.monotonic() + 10
        while not self._listening():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise TurnError(f"turnserver did not start:\n{self.log.read_text(errors='replace')[-3000:]}")
            time.sleep(0.05)

    def _listening(self) -> bool:
        with socket.socket() as probe:
            return probe.connect_ex(("127.0.0.1", self.port)) == 0

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after 5 s."""
        proc, self.proc = self.proc, None
        if proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
