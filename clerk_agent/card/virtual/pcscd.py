"""A shared pcscd with vpcd reader slots for tests, the benchmark and demos (docs/card.md §2.1).

pcscd's socket path is fixed, so one pcscd serves the whole machine. Concurrent users (two test runs, xdist
workers) coordinate through flock files under /tmp/madoguchi-pcscd:
- `lifecycle.lock` (exclusive, briefly) around starting, stopping and restarting pcscd;
- `user-<pid>-<n>.lock` held exclusively by each user for as long as it uses pcscd (a lockable one is stale);
- `slot-<port>.lock` held exclusively by the user that owns that vpcd slot.
pcscd is stopped by PID when its last user leaves: by the user that started it, or, if that one left first,
by the last user, after checking through `pcscd.pid` and /proc that the PID is still the pcscd we started with
our private config (never a pcscd someone else started).

Run as root, pcscd starts inside a network namespace of its own (`madoguchi-pcscd`, loopback only): vpcd binds its
card ports to every interface, and there nobody but that namespace can reach them. Slots say which namespace to
connect in; the virtual card opens its socket there (docs/card.md §2.1).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Generator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

BASE = Path("/tmp/madoguchi-pcscd")  # noqa: S108 - a well-known rendezvous for concurrent runs is the point
CONFIG_DIR = BASE / "readerconf"
VPCD_DRIVER = Path("/usr/lib/pcsc/drivers/serial/libifdvpcd.so")
FIRST_PORT = 40400
FRIENDLY_NAME = "Madoguchi VPCD"
RUN_DIR = Path("/run/pcscd")
NETNS_NAME = "madoguchi-pcscd"
NETNS_PATH = Path("/run/netns") / NETNS_NAME


class StackUnavailable(RuntimeError):
    """pcscd or vpcd cannot be provided here (not installed, or a foreign pcscd owns the socket)."""


@dataclass(frozen=True)
class VpcdSlot:
    """A vpcd slot: the virtual card connects to `port`, applications use `reader` (exact name)."""

    port: int
    reader: str
    netns: Path | None = None  # the network namespace the card must connect in, when pcscd runs in one


def all_slots() -> list[VpcdSlot]:
    """The two slots of our single vpcd entry; pcscd names readers `<FRIENDLYNAME> <reader> <slot>`."""
    return [VpcdSlot(FIRST_PORT + slot, f"{FRIENDLY_NAME} 00 {slot:02X}") for slot in (0, 1)]


def _reader_config() -> str:
    # One entry only: libifdvpcd keeps its sockets per slot number, not per reader, so with two entries only
    # the last one's ports ever see a card (measured here). Two slots means two concurrent users at most.
    return (
        f'FRIENDLYNAME "{FRIENDLY_NAME}"\nDEVICENAME   /dev/null:0x{FIRST_PORT:04X}\nLIBPATH      {VPCD_DRIVER}\n'
        f"CHANNELID    0x{FIRST_PORT:04X}\n"
    )


def running_pcscd() -> int | None:
    """PID of a live pcscd on this machine, if any."""
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if (proc / "comm").read_text().strip() == "pcscd" and (proc / "stat").read_text().split()[
                2
            ] != "Z":
                return int(proc.name)
        except OSError:
            continue
    return None


def _can_confine() -> bool:
    return os.geteuid() == 0 and shutil.which("ip") is not None


def _ip(*args: str, check: bool = True) -> None:
    subprocess.run(["ip", *args], check=check, capture_output=True)  # noqa: S603,S607 - fixed argv, ip on PATH


def _ensure_netns() -> None:
    if not NETNS_PATH.exists():
        _ip("netns", "add", NETNS_NAME)
    _ip("-n", NETNS_NAME, "link", "set", "lo", "up")


def _drop_netns() -> None:
    if NETNS_PATH.exists():
        _ip("netns", "del", NETNS_NAME, check=False)


def pcscd_netns(pid: int | None = None) -> Path | None:
    """Our namespace if the running pcscd lives in it; None when it shares the machine's network."""
    pid = pid if pid is not None else running_pcscd()
    if pid is None or not NETNS_PATH.exists():
        return None
    try:
        inside = Path(f"/proc/{pid}/ns/net").stat().st_ino == NETNS_PATH.stat().st_ino
    except OSError:
        return None
    return NETNS_PATH if inside else None


def _cmdline(pid: int) -> str:
    try:
        return (Path("/proc") / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _readers() -> list[str] | None:
    from smartcard import scard  # only the stack's users need pyscard

    hresult, context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
    if hresult != scard.SCARD_S_SUCCESS:
        return None
    try:
        hresult, names = scard.SCardListReaders(context, [])
        if hresult == scard.SCARD_E_NO_READERS_AVAILABLE:
            return []
        return list(names) if hresult == scard.SCARD_S_SUCCESS else None
    finally:
        scard.SCardReleaseContext(context)


@contextlib.contextmanager
def _flock(path: Path, mode: int = fcntl.LOCK_EX, timeout: float = 60.0) -> Generator[IO[str]]:
    handle = path.open("a+")
    deadline = time.monotonic() + timeout
    try:
        while True:
            try:
                fcntl.flock(handle, mode | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise StackUnavailable(f"timed out waiting for {path}") from None
                time.sleep(0.05)
        yield handle
    finally:
        handle.close()


class PcscdStack:
    """Use (and if needed start) the shared pcscd; allocate vpcd slots; stop pcscd only if we started it."""

    _instances = 0

    def __init__(self, *, log_path: Path | None = None) -> None:
        self.log_path = log_path or BASE / f"pcscd-{os.getpid()}.log"
        self.started_pid: int | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._users: IO[str] | None = None
        self._user_path: Path | None = None
        self._slot_locks: list[IO[str]] = []

    @staticmethod
    def check_installed() -> None:
        """StackUnavailable unless pcscd, the vpcd driver and pyscard are present."""
        if shutil.which("pcscd") is None:
            raise StackUnavailable("pcscd is not installed")
        if not VPCD_DRIVER.exists():
            raise StackUnavailable("vsmartcard-vpcd is not installed")
        try:
            import smartcard  # noqa: F401
        except ImportError as exc:
            raise StackUnavailable("pyscard is not installed") from exc

    def acquire(self, *, timeout: float = 20.0) -> None:
        """Make sure our pcscd runs and register as a user of it."""
        self.check_installed()
        BASE.mkdir(parents=True, exist_ok=True)
        with _flock(BASE / "lifecycle.lock"):
            CONFIG_DIR.mkdir(exist_ok=True)
            config = CONFIG_DIR / "vpcd"
            if not config.exists() or config.read_text() != _reader_config():
                config.write_text(_reader_config())
            pid = running_pcscd()
            if pid is None:
                self._start(timeout)
            elif str(CONFIG_DIR) not in _cmdline(pid):
                raise StackUnavailable(f"a pcscd without the madoguchi test readers is running (pid {pid})")
            else:
                self._wait_for_readers(timeout)
            PcscdStack._instances += 1
            self._user_path = BASE / f"user-{os.getpid()}-{PcscdStack._instances}.lock"
            self._users = self._user_path.open("a+")
            fcntl.flock(self._users, fcntl.LOCK_EX)

    def _start(self, timeout: float) -> None:
        # A pcscd killed with SIGKILL leaves its socket behind and the next one refuses to start (pitfall 3).
        for stale in (RUN_DIR / "pcscd.comm", RUN_DIR / "pcscd.pid"):
            stale.unlink(missing_ok=True)
        prefix: list[str] = []
        if _can_confine():
            _ensure_netns()
            prefix = ["ip", "netns", "exec", NETNS_NAME]  # execs pcscd: the PID stays pcscd's
        log = self.log_path.open("ab")
        self._process = subprocess.Popen(  # noqa: S603 - fixed argv
            [*prefix, "pcscd", "--foreground", "--config", str(CONFIG_DIR)],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        log.close()
        self.started_pid = self._process.pid
        (BASE / "pcscd.pid").write_text(str(self.started_pid))
        self._wait_for_readers(timeout)

    def _wait_for_readers(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        wanted = {slot.reader for slot in all_slots()}
        while time.monotonic() < deadline:
            if self._process is not None and self._process.poll() is not None:
                raise StackUnavailable(f"pcscd exited with {self._process.returncode}; see {self.log_path}")
            names = _readers()
            if names is not None and wanted <= set(names):
                return
            time.sleep(0.05)
        raise StackUnavailable(f"pcscd did not list the vpcd readers within {timeout}s")

    def allocate_slot(self) -> VpcdSlot:
        """A vpcd slot no other user holds."""
        for slot in all_slots():
            handle = (BASE / f"slot-{slot.port}.lock").open("a+")
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.close()
                continue
            self._slot_locks.append(handle)
            return VpcdSlot(slot.port, slot.reader, pcscd_netns())
        raise StackUnavailable("every vpcd slot is in use")

    def _other_users(self) -> int:
        """Live users besides us; removes files left by dead ones. Call under the lifecycle lock."""
        count = 0
        for path in BASE.glob("user-*.lock"):
            if path == self._user_path:
                continue
            with path.open("a+") as handle:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    count += 1
                    continue
                path.unlink(missing_ok=True)
        return count

    def is_sole_user(self) -> bool:
        """Whether no other process uses pcscd right now (a restart would not disturb anyone)."""
        with _flock(BASE / "lifecycle.lock"):
            return self._users is not None and self._other_users() == 0

    def stop_pcscd(self) -> None:
        """Stop the pcscd this object started (SIGTERM by PID, so it removes its socket)."""
        if self._process is None:
            raise StackUnavailable("this process did not start pcscd")
        if self._process.poll() is None:
            os.kill(self._process.pid, signal.SIGTERM)
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                os.kill(self._process.pid, signal.SIGKILL)
                self._process.wait(5)
        (BASE / "pcscd.pid").unlink(missing_ok=True)
        _drop_netns()
        if self._process.returncode == 0:
            # A clean exit leaves nothing worth reading; keep the log of a crash.
            self.log_path.unlink(missing_ok=True)

    def restart(self, *, down_for: float = 0.0, timeout: float = 20.0) -> None:
        """Stop and start our pcscd (only allowed when we started it and are its sole user)."""
        with _flock(BASE / "lifecycle.lock"):
            if self._process is None or self._other_users():
                raise StackUnavailable("pcscd is shared with another run or was not started here")
            self.stop_pcscd()
            time.sleep(down_for)
            self._start(timeout)

    def release(self) -> None:
        """Give back slots and our registration; the last user stops a pcscd that this stack started."""
        for handle in self._slot_locks:
            handle.close()
        self._slot_locks.clear()
        with _flock(BASE / "lifecycle.lock"):
            alone = self._other_users() == 0
            if self._users is not None:
                self._users.close()
                self._users = None
            if self._user_path is not None:
                self._user_path.unlink(missing_ok=True)
                self._user_path = None
            if alone:
                if self._process is not None:
                    self.stop_pcscd()
                else:
                    self._stop_handed_over()
            self._process = None

    def _stop_handed_over(self) -> None:
        # A concurrent run started pcscd and left while we still used it; its pid file hands the daemon over
        # to the last user. Stop it only if that PID is still a pcscd running our private config.
        pid_file = BASE / "pcscd.pid"
        try:
            pid = int(pid_file.read_text())
        except (OSError, ValueError):
            return
        cmdline = _cmdline(pid)
        if cmdline.startswith("pcscd") and str(CONFIG_DIR) in cmdline:
            os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + 10
            while running_pcscd() == pid and time.monotonic() < deadline:
                time.sleep(0.05)
            _drop_netns()
        pid_file.unlink(missing_ok=True)
