"""The whole test suite, as the README's second command runs it.

Steps: ruff (lint + format check), mypy --strict, typos, the full pytest suite on the embedded SQLite database, then the
hub's database-backed tests again on PostgreSQL (127.0.0.1:5432). Prints one closing line with the totals.
Extra arguments go to every pytest run (e.g. `./madoguchi test -k audit`).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
REPORTS = ROOT / "var" / "test-reports"
# Tests that touch the hub's database run on both backends; the rest (card, RTC, browser) once.
# The PII sweep runs on both: a PostgreSQL dump is searched as well as a SQLite one.
PG_PATHS = ["tests/service", "tests/test_pii_sweep.py"]


@dataclass
class Totals:
    passed: int = 0
    failed: int = 0
    skipped: int = 0

    def add_junit(self, path: Path) -> None:
        if not path.exists():
            self.failed += 1
            return
        root = ET.parse(path).getroot()  # noqa: S314
        for suite in root.iter("testsuite"):
            tests, failures = int(suite.get("tests", 0)), int(suite.get("failures", 0))
            errors, skipped = int(suite.get("errors", 0)), int(suite.get("skipped", 0))
            self.failed += failures + errors
            self.skipped += skipped
            self.passed += tests - failures - errors - skipped


def run(step: str, argv: list[str], env: dict[str, str] | None = None) -> bool:
    print(f"\n=== {step} ===", flush=True)
    started = time.monotonic()
    code = subprocess.call(argv, cwd=ROOT, env={**os.environ, **(env or {})})
    print(
        f"--- {step}: {'ok' if code == 0 else f'FAILED (exit {code})'} in {time.monotonic() - started:.1f}s",
        flush=True,
    )
    return code == 0


def main(extra: list[str]) -> int:
    REPORTS.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    ok = True
    if not extra:
        ok &= run("ruff check", [str(BIN / "ruff"), "check", "."])
        ok &= run("ruff format --check", [str(BIN / "ruff"), "format", "--check", "."])
        ok &= run("mypy --strict", [str(BIN / "mypy"), "service", "clerk_agent", "tests", "bench"])
        ok &= run("typos", [str(BIN / "typos"), "--format", "brief"])
    totals = Totals()
    for label, env, paths in (
        ("pytest on SQLite (embedded default)", {"HUB_TEST_DB": "sqlite"}, []),
        ("pytest on PostgreSQL", {"HUB_TEST_DB": "postgresql"}, PG_PATHS),
    ):
        report = REPORTS / f"{env['HUB_TEST_DB']}.xml"
        report.unlink(missing_ok=True)
        ok &= run(label, [str(BIN / "python"), "-m", "pytest", *paths, f"--junitxml={report}", *extra], env)
        totals.add_junit(report)
        print(f"    {label}: {totals_line(Totals(**_one(report)))}")
    print(f"\nwall time {time.monotonic() - started:.0f}s; lint/types {'ok' if ok else 'see above'}")
    print(f"total: {totals.passed} passed, {totals.failed} failed, {totals.skipped} skipped")
    return 0 if ok and totals.failed == 0 else 1


def _one(path: Path) -> dict[str, int]:
    single = Totals()
    single.add_junit(path)
    return {"passed": single.passed, "failed": single.failed, "skipped": single.skipped}


def totals_line(t: Totals) -> str:
    return f"{t.passed} passed, {t.failed} failed, {t.skipped} skipped"


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
