"""A network namespace joined to the test's own namespace by one veth pair, for headless Chromium.

Chromium gathers no loopback ICE candidates, so a browser ↔ aiortc call needs a non-loopback interface
(docs/live-link.md §5). The pair is private: 10.213.x.1 on the test's side (the hub and the counter's
aiortc peer), 10.213.x.2 inside the namespace (Chromium). The namespace has no default route, so nothing
in it can reach any other address, and Chromium's mDNS stays inside it.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests._services import missing_service

IP = shutil.which("ip") or "/usr/sbin/ip"


@dataclass(frozen=True)
class BrowserNet:
    """The namespace, the veth ends and their addresses."""

    namespace: str
    host_link: str
    host_address: str
    browser_address: str

    def set_browser_link(self, up: bool) -> None:
        """Cut or restore the browser's side of the link (a network drop as the browser sees it)."""
        _ip("-n", self.namespace, "link", "set", f"{self.host_link}n", "up" if up else "down")


def _ip(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([IP, *args], capture_output=True, text=True, check=True, timeout=10)


def _free_subnet() -> int:
    taken = subprocess.run([IP, "-br", "addr"], capture_output=True, text=True, check=False).stdout
    for _ in range(50):
        third = 1 + secrets.randbelow(250)
        if f"10.213.{third}." not in taken:
            return third
    raise RuntimeError("no free 10.213.x.0/30 subnet")


@contextmanager
def browser_namespace() -> Iterator[BrowserNet]:
    """Create the namespace and its veth pair (names unique per run); delete both afterwards."""
    if not Path(IP).exists():
        missing_service("network namespaces (no `ip` command)")
    tag = f"{os.getpid() % 10000:04d}{secrets.token_hex(2)}"
    namespace, host_link = f"mc{tag}", f"mcv{tag}"
    try:
        _ip("netns", "add", namespace)
    except (subprocess.CalledProcessError, OSError) as exc:
        missing_service(f"network namespaces ({exc})")
    try:
        third = _free_subnet()
        net = BrowserNet(namespace, host_link, f"10.213.{third}.1", f"10.213.{third}.2")
        _ip("-n", namespace, "link", "set", "lo", "up")
        _ip("link", "add", host_link, "type", "veth", "peer", "name", f"{host_link}n", "netns", namespace)
        _ip("addr", "add", f"{net.host_address}/30", "dev", host_link)
        _ip("link", "set", host_link, "up")
        _ip("-n", namespace, "addr", "add", f"{net.browser_address}/30", "dev", f"{host_link}n")
        _ip("-n", namespace, "link", "set", f"{host_link}n", "up")
        yield net
    finally:
        subprocess.run([IP, "link", "del", host_link], capture_output=True, check=False)
        subprocess.run([IP, "netns", "del", namespace], capture_output=True, check=False)


def chromium_in(namespace: str, directory: Path, chromium: str) -> Path:
    """A launcher that runs `chromium` inside the namespace (Playwright talks to it over inherited pipes)."""
    launcher = directory / "chromium-in-netns"
    launcher.write_text(f'#!/bin/sh\nexec {IP} netns exec {namespace} {chromium} "$@"\n')
    launcher.chmod(0o755)
    return launcher
