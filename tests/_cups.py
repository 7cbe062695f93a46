"""A private CUPS server for tests and benches: its own cupsd on a free loopback port, config and spool in a temp dir.

Each queue prints to a file (CUPS `FileDevice`) through a PPD whose only filter passes the PDF through unchanged
(gziptoany), as a printer that takes PDF directly would, so a test reads back exactly what the printer received.
Printer problems are made the way CUPS itself shows them: `cupsdisable` stops a queue (offline), an IPP
CUPS-Add-Modify-Printer sets printer-state-reasons (paper out, as a backend would report it), and a queue whose
device file is missing aborts its jobs.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Final

from tests._procs import free_port, stop
from tests._services import missing_service

CUPSD: Final = Path("/usr/sbin/cupsd")
PASSTHROUGH_PPD: Final = """*PPD-Adobe: "4.3"
*FormatVersion: "4.3"
*FileVersion: "1.0"
*LanguageVersion: English
*LanguageEncoding: ISOLatin1
*PCFileName: "MADOCERT.PPD"
*Manufacturer: "Madoguchi"
*Product: "(Certificate printer)"
*ModelName: "Madoguchi certificate printer"
*ShortNickName: "Madoguchi certificate printer"
*NickName: "Madoguchi certificate printer, PDF as is"
*PSVersion: "(3010.000) 0"
*LanguageLevel: "3"
*ColorDevice: False
*DefaultColorSpace: Gray
*FileSystem: False
*Throughput: "1"
*LandscapeOrientation: Plus90
*TTRasterizer: Type42
*cupsFilter2: "application/pdf application/vnd.cups-pdf 0 gziptoany"
*OpenUI *PageSize/Media Size: PickOne
*OrderDependency: 10 AnySetup *PageSize
*DefaultPageSize: A4
*PageSize A4/A4: "<</PageSize[595 842]>>setpagedevice"
*CloseUI: *PageSize
*OpenUI *PageRegion/Media Size: PickOne
*OrderDependency: 10 AnySetup *PageRegion
*DefaultPageRegion: A4
*PageRegion A4/A4: "<</PageSize[595 842]>>setpagedevice"
*CloseUI: *PageRegion
*DefaultImageableArea: A4
*ImageableArea A4/A4: "0 0 595 842"
*DefaultPaperDimension: A4
*PaperDimension A4/A4: "595 842"
"""
_REASONS_TEST: Final = """{
  NAME "Set printer-state-reasons"
  OPERATION CUPS-Add-Modify-Printer
  GROUP operation-attributes-tag
  ATTR charset attributes-charset utf-8
  ATTR naturalLanguage attributes-natural-language en
  ATTR uri printer-uri $uri
  ATTR name requesting-user-name $user
  GROUP printer-attributes-tag
  ATTR keyword printer-state-reasons $reasons
  STATUS successful-ok
}
"""


class CupsServer:
    """One cupsd, started by `start` and stopped by PID with `stop`."""

    def __init__(self) -> None:
        # Not under pytest's 0700 tmp dir: when the tests run as root, cupsd runs its filters as `lp`, which must
        # reach the spool and the PPD.
        self.root = Path(tempfile.mkdtemp(prefix="madoguchi-cups-"))
        self.root.chmod(0o755)
        self.port = free_port()
        self.host = f"127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def _conf(self) -> tuple[Path, Path]:
        for sub in ("etc", "spool", "cache", "state", "log", "tmp", "out"):
            (self.root / sub).mkdir(mode=0o755, exist_ok=True)
        (self.root / "out").chmod(0o777)
        cupsd_conf = self.root / "etc" / "cupsd.conf"
        cupsd_conf.write_text(
            f"Listen {self.host}\nLogLevel warn\nBrowsing No\nWebInterface No\nDefaultAuthType None\n"
            "<Location />\n  Order allow,deny\n  Allow from 127.0.0.1\n</Location>\n"
            "<Policy default>\n  JobPrivateAccess all\n  JobPrivateValues none\n"
            "  SubscriptionPrivateAccess all\n  SubscriptionPrivateValues none\n"
            "  <Limit All>\n    Order deny,allow\n  </Limit>\n</Policy>\n"
        )
        files_conf = self.root / "etc" / "cups-files.conf"
        files_conf.write_text(  # every path is under this server's own mkdtemp directory
            f"ServerRoot {self.root}/etc\nRequestRoot {self.root}/spool\nCacheDir {self.root}/cache\n"
            f"StateDir {self.root}/state\nTempDir {self.root}/tmp\nErrorLog {self.root}/log/error_log\n"  # noqa: S108
            f"AccessLog {self.root}/log/access_log\nPageLog {self.root}/log/page_log\nFileDevice Yes\n"
        )
        (self.root / "etc" / "passthrough.ppd").write_text(PASSTHROUGH_PPD)
        (self.root / "etc" / "reasons.test").write_text(_REASONS_TEST)
        return cupsd_conf, files_conf

    def start(self, timeout_s: float = 20.0) -> CupsServer:
        """Start cupsd in the foreground and wait until it answers on its port."""
        cupsd_conf, files_conf = self._conf()
        log = (self.root / "log" / "cupsd.out").open("wb")
        self.proc = subprocess.Popen(
            [str(CUPSD), "-f", "-c", str(cupsd_conf), "-s", str(files_conf)],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        deadline = time.monotonic() + timeout_s
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"cupsd exited: {self.log_tail()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return self
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"cupsd did not listen: {self.log_tail()}") from None
                time.sleep(0.05)

    def log_tail(self) -> str:
        """The end of cupsd's own logs (for a failing test's message)."""
        parts = []
        for name in ("cupsd.out", "error_log"):
            path = self.root / "log" / name
            if path.exists():
                parts.append(path.read_text(errors="replace")[-2000:])
        return "\n".join(parts)

    def _run(self, *argv: str) -> None:
        env = {**os.environ, "CUPS_SERVER": self.host}
        subprocess.run(argv, check=True, capture_output=True, env=env, timeout=30)

    def add_queue(self, name: str, *, device_file: bool = True) -> str:
        """A queue that prints to `out/<name>.pdf` (no device file: every job aborts); returns its IPP URI."""
        output = self.output(name)
        if device_file:
            output.touch()
            output.chmod(0o666)
        self._run(
            "lpadmin",
            "-h",
            self.host,
            "-p",
            name,
            "-E",
            "-v",
            f"file://{output}",
            "-P",
            str(self.root / "etc" / "passthrough.ppd"),
            "-o",
            "printer-error-policy=abort-job",
        )
        return self.uri(name)

    def uri(self, name: str) -> str:
        """The queue's IPP URI."""
        return f"ipp://{self.host}/printers/{name}"

    def output(self, name: str) -> Path:
        """Where the queue's device writes."""
        return self.root / "out" / f"{name}.pdf"

    def printed(self, name: str) -> bytes:
        """What the queue's printer received last."""
        return self.output(name).read_bytes()

    def clear(self, name: str) -> None:
        """Empty the device file: CUPS opens it without truncating, so a shorter job would leave a tail."""
        self.output(name).write_bytes(b"")

    def disable(self, name: str) -> None:
        """Stop the queue, as an operator pausing the printer (printer-state stopped, reason paused)."""
        self._run("cupsdisable", "-h", self.host, name)

    def enable(self, name: str) -> None:
        """Resume the queue."""
        self._run("cupsenable", "-h", self.host, name)

    def set_reasons(self, name: str, reasons: str) -> None:
        """Set printer-state-reasons (e.g. media-empty-error), as a backend reports a printer's condition."""
        self._run(
            "ipptool",
            "-d",
            f"reasons={reasons}",
            "-d",
            "user=madoguchi",
            self.uri(name),
            str(self.root / "etc" / "reasons.test"),
        )

    def stop(self) -> None:
        """Stop cupsd by PID and remove its directory."""
        if self.proc is not None:
            stop(self.proc)
        shutil.rmtree(self.root, ignore_errors=True)


def running_cups() -> Iterator[CupsServer]:
    """A started CupsServer for a module-scoped fixture (missing CUPS: skip, or fail under CI); stopped after."""
    if not CUPSD.exists() or shutil.which("lpadmin") is None or shutil.which("ipptool") is None:
        missing_service(
            "cupsd, lpadmin, ipptool (deploy/system-deps.sh: cups-daemon cups-client cups-ipp-utils)"
        )
    server = CupsServer().start()
    try:
        yield server
    finally:
        server.stop()
