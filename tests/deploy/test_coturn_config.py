"""deploy/coturn/turnserver.conf: real coturn accepts every line and runs with it as the hub expects."""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import time
from pathlib import Path

from tests._procs import free_port, stop
from tests._services import missing_service
from tests.deploy._files import DEPLOY, UNITS, unit_values

CONF = DEPLOY / "coturn" / "turnserver.conf"


def _options(text: str) -> dict[str, list[str]]:
    options: dict[str, list[str]] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            options.setdefault(key, []).append(value)
    return options


def test_config_uses_the_rest_api_secret_and_refuses_internal_peers() -> None:
    """The hub mints TURN credentials from HUB_TURN_SECRET: coturn must use that scheme, and no real secret ships."""
    options = _options(CONF.read_text(encoding="utf-8"))
    assert "use-auth-secret" in options
    assert options["static-auth-secret"] == ["REPLACE_WITH_HUB_TURN_SECRET"]
    for internal in ("10.0.0.0-10.255.255.255", "127.0.0.0-127.255.255.255", "192.168.0.0-192.168.255.255"):
        assert internal in options["denied-peer-ip"]
    assert {"no-cli", "fingerprint", "no-multicast-peers"} <= options.keys()
    # The unit hands exactly this file over and points turnserver at it.
    unit = UNITS / "madoguchi-coturn.service"
    assert unit_values(unit, "LoadCredential") == ["turnserver.conf:/etc/madoguchi/turnserver.conf"]
    assert "-c ${CREDENTIALS_DIRECTORY}/turnserver.conf" in unit_values(unit, "ExecStart")[0]


def test_turnserver_starts_with_the_config_without_complaint(tmp_path: Path) -> None:
    """coturn logs "Bad configuration format" for an option it does not know and runs on regardless: the file is
    run for real (only addresses, ports and paths moved to this machine) and its log must hold no such line."""
    binary = shutil.which("turnserver") or (
        "/usr/bin/turnserver" if Path("/usr/bin/turnserver").exists() else None
    )
    if binary is None:
        missing_service("turnserver (Debian package coturn)")
    assert binary is not None
    port = free_port()
    overrides = {
        "listening-ip": "127.0.0.1",
        "listening-port": str(port),
        "relay-ip": "127.0.0.1",
        "min-port": "51200",
        "max-port": "51299",
        "static-auth-secret": "synthetic-test-secret",
        "pidfile": f'"{tmp_path / "turnserver.pid"}"',
        "userdb": str(tmp_path / "turndb"),
    }
    lines = []
    for raw in CONF.read_text(encoding="utf-8").splitlines():
        key = raw.partition("=")[0].strip()
        lines.append(f"{key}={overrides[key]}" if key in overrides and "=" in raw else raw)
    conf = tmp_path / "turnserver.conf"
    conf.write_text("\n".join(lines) + "\n")
    log = tmp_path / "turnserver.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([binary, "-c", str(conf)], stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 10
        while True:
            assert proc.poll() is None, log.read_text(errors="replace")[-2000:]
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            assert time.monotonic() < deadline, "turnserver did not listen within 10 s"
            time.sleep(0.05)
    finally:
        stop(proc, grace_s=5)
    text = log.read_text(errors="replace")
    assert not re.search(r"Bad configuration format|CONFIG ERROR|CONFIGURATION ALERT", text), text[-2000:]
    assert "Black listing: 10.0.0.0-10.255.255.255" in text
