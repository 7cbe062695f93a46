"""Processes and ports of tests and benches: a free port to start a server on, stopping what was started by PID."""

from __future__ import annotations

import os
import signal
import socket
import subprocess


def stop(proc: subprocess.Popen[bytes], grace_s: float = 10.0) -> None:
    """SIGTERM `proc` if it still runs, SIGKILL if it has not exited after `grace_s`."""
    if proc.poll() is not None:
        return
    os.kill(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5)


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port the kernel says is free on `host` right now (loopback unless a test's namespace says otherwise)."""
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])
