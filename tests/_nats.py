"""A nats-server for tests: 127.0.0.1 on a free port, stopped by its PID, restartable on the same port."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time

from tests._procs import free_port, stop
from tests._services import missing_service


class NatsServer:
    """One nats-server on 127.0.0.1, stopped by its PID; restartable on the same port."""

    def __init__(self) -> None:
        binary = shutil.which("nats-server")
        if binary is None:
            missing_service("nats-server on PATH (Debian package nats-server)")
        self.binary = str(binary)
        self.port = free_port()
        self.url = f"nats://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start it and wait until it accepts connections."""
        self.proc = subprocess.Popen(
            [self.binary, "-a", "127.0.0.1", "-p", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise
                time.sleep(0.02)

    def stop(self) -> None:
        if self.proc is not None:
            stop(self.proc)
