"""Processes and ports of tests and benches: a free port to start a server on, stopping what was started by PID."""

from __future__ import annotations

import os
import random
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


# Below Linux's ephemeral range (32768-60999): the kernel never hands these to an outgoing connection, so a port
# picked here stays free until the server binds it unless another test picks the very same one. Asking the kernel
# for port 0 instead returns an ephemeral port, which any client connection on the machine may take meanwhile (seen
# as "address already in use" with a second suite running beside).
_PICK_FROM, _PICK_TO = 20000, 32000


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that is free on `host` right now (loopback unless a test's namespace says otherwise)."""
    for _ in range(200):
        port = random.randrange(_PICK_FROM, _PICK_TO)
        with socket.socket() as probe:
            try:
                probe.bind((host, port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {_PICK_FROM}-{_PICK_TO} on {host}")
