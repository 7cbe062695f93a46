"""Connects a VirtualMyNumberCard to vsmartcard's vpcd inside a real pcscd (docs/card.md §2.2).

Wire: TCP, every frame a 2-byte big-endian length then payload. A 1-byte payload is a control byte
(00 power off, 01 power on, 02 reset, 04 send ATR — only 04 gets an answer); anything else is a C-APDU
answered with one frame of data‖SW. Closing the connection is card removal.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import socket
import threading
import time
from pathlib import Path
from typing import Protocol


class VirtualChip(Protocol):
    """What vpcd needs of an emulated card: the Virtual My Number Card, or a virtual ID document's chip."""

    @property
    def atr(self) -> bytes: ...

    def process(self, apdu: bytes) -> bytes: ...

    def reset(self) -> None: ...

    def power_off(self) -> None: ...


log = logging.getLogger(__name__)

_POWER_OFF, _POWER_ON, _RESET, _GET_ATR = 0x00, 0x01, 0x02, 0x04
_MAX_FRAME = 0xFFFF
_CLONE_NEWNET = 0x40000000


def _setns(fd: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.setns(fd, _CLONE_NEWNET) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"setns: {os.strerror(errno)}")


def connect_to_vpcd(
    host: str, port: int, *, netns: Path | None = None, timeout: float = 2.0
) -> socket.socket:
    """A TCP connection to vpcd; with `netns`, opened inside that network namespace (docs/card.md §2.1).

    The test stack runs pcscd in a namespace of its own so that vpcd's card port, which the driver binds to every
    interface, is reachable from nowhere but that namespace's loopback. Only this thread enters the namespace, and
    only while the socket is created: a socket stays in the namespace it was made in.
    """
    if netns is None:
        return socket.create_connection((host, port), timeout=timeout)
    with netns.open("rb") as target, Path("/proc/thread-self/ns/net").open("rb") as home:
        _setns(target.fileno())
        try:
            return socket.create_connection((host, port), timeout=timeout)
        finally:
            _setns(home.fileno())


class ViccClient:
    """One virtual card in one vpcd slot. `run()` blocks; `start()` runs it in a daemon thread."""

    def __init__(
        self,
        card: VirtualChip,
        *,
        host: str = "127.0.0.1",
        port: int = 35963,
        reconnect: bool = True,
        connect_timeout: float = 10.0,
        netns: Path | None = None,
    ) -> None:
        self.card = card
        self.host = host
        self.port = port
        self.netns = netns
        self.reconnect = reconnect
        self.connect_timeout = connect_timeout
        self.connected = threading.Event()
        self._stop = threading.Event()
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    # --- lifecycle --------------------------------------------------------------------------------

    def start(self) -> ViccClient:
        """Run in a background thread (insert the card)."""
        self._stop.clear()
        self._thread = threading.Thread(target=self.run, name=f"vicc:{self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Close the link (remove the card) and wait for the thread."""
        self._stop.set()
        with self._lock:
            sock = self._sock
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def run(self) -> None:
        """Connect and serve until stopped; reconnect with backoff when vpcd goes away (pcscd restart)."""
        delay = 0.05
        deadline = time.monotonic() + self.connect_timeout
        while not self._stop.is_set():
            try:
                sock = connect_to_vpcd(self.host, self.port, netns=self.netns)
            except OSError:
                if not self.reconnect and time.monotonic() > deadline:
                    raise
                self._stop.wait(delay)
                delay = min(delay * 2, 1.0)
                continue
            delay = 0.05
            try:
                self._serve(sock)
            except OSError as exc:
                log.debug("vpcd link on port %d closed: %s", self.port, exc)
            finally:
                self.connected.clear()
                with self._lock:
                    self._sock = None
                sock.close()
                self.card.power_off()
            if not self.reconnect:
                return
            deadline = time.monotonic() + self.connect_timeout

    # --- protocol ---------------------------------------------------------------------------------

    def _recv_exact(self, sock: socket.socket, size: int) -> bytes | None:
        buf = bytearray()
        while len(buf) < size:
            # vpcd writes length and payload in two send()s without TCP_NODELAY; without an immediate ACK
            # Nagle and delayed ACK cost 40 ms per APDU. The flag is not sticky, so set it before each recv.
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
            chunk = sock.recv(size - len(buf))
            if not chunk:
                return None
            buf += chunk
        return bytes(buf)

    @staticmethod
    def _send_frame(sock: socket.socket, payload: bytes) -> None:
        if len(payload) > _MAX_FRAME:
            # The length field is 16 bits; a larger answer cannot be framed (pitfall 2).
            payload = b"\x67\x00"
        sock.sendall(len(payload).to_bytes(2, "big") + payload)

    def _serve(self, sock: socket.socket) -> None:
        sock.settimeout(None)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self._lock:
            self._sock = sock
        if self._stop.is_set():
            return
        self.connected.set()
        while True:
            header = self._recv_exact(sock, 2)
            if header is None:
                return
            payload = self._recv_exact(sock, int.from_bytes(header, "big"))
            if payload is None:
                return
            if len(payload) == 1:
                control = payload[0]
                if control == _GET_ATR:
                    self._send_frame(sock, self.card.atr)
                elif control in (_POWER_ON, _RESET):
                    # State resets on power-on and reset, as a VERIFY on the real card lasts until power-off.
                    self.card.reset()
                elif control == _POWER_OFF:
                    self.card.power_off()
                continue
            self._send_frame(sock, self.card.process(payload))
