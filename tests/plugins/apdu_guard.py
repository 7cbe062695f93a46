"""Fails the whole test session if any virtual My Number Card saw an APDU touching the My Number.

The emulator reports every SELECT or READ BINARY of Kenhojo EF 0001 or Kenkaku EF 0005, and every VERIFY that
presents the My Number as 照合番号A, to an in-process list and to the file named by MADOGUCHI_APDU_VIOLATIONS_FILE.
This plugin creates that file before any test runs (so subprocesses such as `clerk-agent virtual-card` and
xdist workers inherit it) and checks both at the end: one violation anywhere fails the run (B5, B9 no. 4).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from clerk_agent.card.virtual.card import VIOLATIONS_ENV, recorded_violations

_owned_file = pytest.StashKey[Path]()


def pytest_configure(config: pytest.Config) -> None:
    """Name a violations file for this session unless a parent process already did."""
    if os.environ.get(VIOLATIONS_ENV):
        return
    handle, name = tempfile.mkstemp(prefix="madoguchi-apdu-violations-", suffix=".log")
    os.close(handle)
    os.environ[VIOLATIONS_ENV] = name
    config.stash[_owned_file] = Path(name)


def _file_violations(config: pytest.Config) -> list[str]:
    # Only the process that created the file reads it, so an xdist controller reports its workers' findings once.
    path = config.stash.get(_owned_file, None)
    if path is None or not path.exists():
        return []
    return [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Turn any recorded My Number access into a failed run."""
    del exitstatus  # the guard fails the run regardless of how the tests went
    violations = sorted(set(recorded_violations()) | set(_file_violations(session.config)))
    path = session.config.stash.get(_owned_file, None)
    if path is not None:
        path.unlink(missing_ok=True)
        os.environ.pop(VIOLATIONS_ENV, None)
    if not violations:
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    lines = ["APDU guard: the My Number was selected, read or presented during this run:", *violations]
    if reporter is not None:
        reporter.write_sep("=", "APDU guard", red=True)
        for line in lines:
            reporter.write_line(line, red=True)
    session.exitstatus = pytest.ExitCode.TESTS_FAILED
