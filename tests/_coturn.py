"""A coturn turnserver for tests and benches: REST-API secret, loopback peers allowed, stopped by PID."""

from __future__ import annotations

import contextlib
import secrets
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests._procs import free_port, stop


@dataclass(frozen=True)
class Coturn:
    """A running turnserver on one address."""

    host: str
    port: int
    secret: str


@contextlib.contextmanager
def run_coturn(binary: str, host: str, log: Path, realm: str) -> Iterator[Coturn]:
    """Start `binary` on `host` and wait until it listens (RuntimeError with the log's tail if it does not)."""
    port, secret = free_port(host), secrets.token_urlsafe(24)
    relay_from = 50_000 + secrets.randbelow(100) * 100
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                binary,
                "-n",
                f"--listening-ip={host}",
                f"--listening-port={port}",
                f"--relay-ip={host}",
                f"--min-port={relay_from}",
                f"--max-port={relay_from + 99}",
                f"--realm={realm}",
                "--use-auth-secret",
                f"--static-auth-secret={secret}",
                "--fingerprint",
                # Relay and peers share loopback addresses here; without this coturn answers 403 Forbidden IP.
                "--allow-loopback-peers",
                "--no-cli",
                "--no-tls",
                "--no-dtls",
                "--no-multicast-peers",
                "--log-file=stdout",
                "--simple-log",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 10
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"turnserver exited: {log.read_text(errors='replace')[-2000:]}")
            with socket.socket() as probe:
                if probe.connect_ex((host, port)) == 0:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError("turnserver did not listen within 10 s")
            time.sleep(0.05)
        yield Coturn(host, port, secret)
    finally:
        stop(proc, grace_s=5)
