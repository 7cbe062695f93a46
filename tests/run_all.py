"""The whole test suite, as the README's second command runs it.

Steps: ruff (lint + format check), mypy --strict, typos, the full pytest suite on the embedded SQLite database, and the
hub's database-backed tests again on PostgreSQL (127.0.0.1:5432). Prints one closing line with the totals.
Extra arguments go to every pytest run (e.g. `./madoguchi test -k audit`).

The steps run on two lanes at once (the machine has two cores and one pytest process keeps about one busy),
longest first, each step's output printed whole when it ends. Tests that must not share the machine run afterwards,
alone: the `pcsc` ones (pcscd has two vpcd slots for the whole machine, and the pcscd restart test needs to be its
only user) and the `browser` ones (headless Chromium decoding live video counts a starved frame as a drop).
tests/conftest.py marks every test that uses the pcscd stack or a browser fixture, so the split cannot miss one.
MADOGUCHI_TEST_LANES=1, or a `-m` among the extra arguments, runs the steps one after another as before.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
REPORTS = ROOT / "var" / "test-reports"
# Tests that touch the hub's database run on both backends; the rest (card, RTC, browser) once.
# The PII sweep runs on both: a PostgreSQL dump is searched as well as a SQLite one.
PG_PATHS = ["tests/service", "tests/test_pii_sweep.py"]
ALONE = "pcsc or browser"
# pytest's exit code when a selection is empty: a lane's share of `-k something` may well be.
NO_TESTS = 5


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


@dataclass
class Step:
    """One command; `name` names its log (and a pytest step's JUnit report) under var/test-reports."""

    label: str
    name: str
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)
    report: Path | None = None


_print_lock = threading.Lock()


def run(step: Step, *, buffered: bool) -> bool:
    """Run `step`; a buffered step's output is kept in its log and printed in one piece when it ends, so that two
    lanes never interleave their lines."""
    if step.report is not None:
        step.report.unlink(missing_ok=True)
    env = {**os.environ, **step.env}
    started = time.monotonic()
    if buffered:
        with _print_lock:
            print(f"... {step.label}: started (its output follows when it ends)", flush=True)
        log = REPORTS / f"{step.name}.log"
        with log.open("wb") as sink:
            code = subprocess.call(step.argv, cwd=ROOT, env=env, stdout=sink, stderr=subprocess.STDOUT)
        output = log.read_text(errors="replace").rstrip()
    else:
        print(f"\n=== {step.label} ===", flush=True)
        code = subprocess.call(step.argv, cwd=ROOT, env=env)
    ok = code == 0 or (step.report is not None and code == NO_TESTS)
    with _print_lock:
        if buffered:
            print(f"\n=== {step.label} ===\n{output}", flush=True)
        print(
            f"--- {step.label}: {'ok' if ok else f'FAILED (exit {code})'} in {time.monotonic() - started:.1f}s",
            flush=True,
        )
    return ok


def run_each(steps: list[Step], *, buffered: bool) -> bool:
    """Run every step (a failure does not stop the rest); whether all passed."""
    results = [run(step, buffered=buffered) for step in steps]
    return False not in results


def lint_steps() -> list[Step]:
    """ruff, ruff format, mypy --strict, typos."""
    return [
        Step("ruff check", "ruff", [str(BIN / "ruff"), "check", "."]),
        Step("ruff format --check", "ruff-format", [str(BIN / "ruff"), "format", "--check", "."]),
        Step("mypy --strict", "mypy", [str(BIN / "mypy"), "service", "clerk_agent", "tests", "bench"]),
        Step("typos", "typos", [str(BIN / "typos"), "--format", "brief"]),
    ]


def pytest_step(label: str, backend: str, name: str, args: list[str], extra: list[str]) -> Step:
    """pytest on `backend` with its own JUnit report var/test-reports/`name`.xml."""
    report = REPORTS / f"{name}.xml"
    argv = [str(BIN / "python"), "-m", "pytest", *args, f"--junitxml={report}", *extra]
    return Step(label, name, argv, {"HUB_TEST_DB": backend}, report)


def one_lane_plan(extra: list[str]) -> list[Step]:
    """The steps one after another: every test on SQLite, then PG_PATHS on PostgreSQL."""
    return [
        pytest_step("pytest on SQLite (embedded default)", "sqlite", "sqlite", [], extra),
        pytest_step("pytest on PostgreSQL", "postgresql", "postgresql", PG_PATHS, extra),
    ]


def two_lane_plan(extra: list[str]) -> tuple[list[Step], list[Step]]:
    """(steps shared by two lanes, longest first; steps run alone afterwards)."""
    shared = f"not ({ALONE})"
    rest = ["tests", *(f"--ignore={path}" for path in PG_PATHS)]
    lanes = [
        pytest_step(
            "pytest on PostgreSQL: the hub", "postgresql", "postgresql", [*PG_PATHS, "-m", shared], extra
        ),
        pytest_step("pytest on SQLite: the hub", "sqlite", "sqlite-hub", [*PG_PATHS, "-m", shared], extra),
        pytest_step(
            "pytest on SQLite: agent, console, deploy, docs",
            "sqlite",
            "sqlite-rest",
            [*rest, "-m", shared],
            extra,
        ),
    ]
    alone = [
        pytest_step(
            "pytest on SQLite: pcscd and browser tests, alone", "sqlite", "sqlite-alone", ["-m", ALONE], extra
        ),
        pytest_step(
            "pytest on PostgreSQL: pcscd and browser tests, alone",
            "postgresql",
            "postgresql-alone",
            [*PG_PATHS, "-m", ALONE],
            extra,
        ),
    ]
    return lanes, alone


def main(extra: list[str]) -> int:
    REPORTS.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    lint = [] if extra else lint_steps()
    one_lane = os.environ.get("MADOGUCHI_TEST_LANES") == "1" or any(arg.startswith("-m") for arg in extra)
    if one_lane:
        steps = [*lint, *one_lane_plan(extra)]
        ok = run_each(steps, buffered=False)
    else:
        lanes, alone = two_lane_plan(extra)

        with ThreadPoolExecutor(max_workers=2) as pool:
            # The lint steps are short: queued last, they fill the lane that finishes first.
            results = [pool.submit(run, step, buffered=True) for step in lanes]
            results.append(pool.submit(run_each, lint, buffered=True))
            ok = False not in [result.result() for result in results]
        ok &= run_each(alone, buffered=False)
        steps = [*lanes, *alone]
    totals = Totals()
    for step in steps:
        if step.report is None:
            continue
        totals.add_junit(step.report)
        print(f"    {step.label}: {totals_line(Totals(**_one(step.report)))}")
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
