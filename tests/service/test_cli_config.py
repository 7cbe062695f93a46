"""`hub check-config` and a refused production start: one clear list of every bad setting, exit 2, no traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

HUB = str(Path(sys.executable).parent / "hub")


def _hub(args: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    clean = {key: value for key, value in os.environ.items() if not key.startswith("HUB_")}
    return subprocess.run(
        [HUB, *args], env={**clean, **env}, capture_output=True, text=True, timeout=120, check=False
    )


@pytest.mark.parametrize("command", [["check-config"], ["serve"]])
def test_production_placeholders_are_listed_at_once_with_exit_2(command: list[str], tmp_path: Path) -> None:
    """Before, `hub serve` in production died with pydantic's ValidationError traceback naming one problem."""
    result = _hub(command, HUB_ENVIRONMENT="production", HUB_DATA_DIR=str(tmp_path))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    for variable in ("HUB_SECRET_KEY", "HUB_DATABASE_URL", "HUB_KEK_FILE", "HUB_AUDIT_SIGNING_KEY_FILE"):
        assert variable in result.stderr
    assert "4 problem(s)" in result.stderr


def test_field_errors_and_missing_key_files_are_named(tmp_path: Path) -> None:
    """A malformed value and a key file that is not there are each named by their variable."""
    result = _hub(
        ["check-config"],
        HUB_ENVIRONMENT="production",
        HUB_PORT="not-a-port",
        HUB_DATA_DIR=str(tmp_path),
    )
    assert result.returncode == 2
    assert "HUB_PORT:" in result.stderr
    assert "Traceback" not in result.stderr
    result = _hub(
        ["check-config"],
        HUB_ENVIRONMENT="production",
        HUB_SECRET_KEY="a-real-secret-that-is-long-enough-for-production-use",
        HUB_DATABASE_URL="postgresql+asyncpg://hub@127.0.0.1/hub",
        HUB_KEK_FILE=str(tmp_path / "missing-kek.json"),
        HUB_AUDIT_SIGNING_KEY_FILE=str(tmp_path / "missing-audit.key"),
        HUB_DATA_DIR=str(tmp_path),
    )
    assert result.returncode == 2
    assert "1 problem" not in result.stderr
    assert "missing-kek.json does not exist" in result.stderr
    assert "missing-audit.key does not exist" in result.stderr
    assert "HUB_SECRET_KEY" not in result.stderr


def test_check_config_accepts_a_usable_production_setup(tmp_path: Path) -> None:
    """With every production setting present, check-config says so and exits 0 without starting anything."""
    kek, audit_key = tmp_path / "kek.json", tmp_path / "audit.key"
    kek.write_text("{}")
    audit_key.write_text("placeholder-not-read-by-check-config")
    result = _hub(
        ["check-config"],
        HUB_ENVIRONMENT="production",
        HUB_SECRET_KEY="a-real-secret-that-is-long-enough-for-production-use",
        HUB_DATABASE_URL="postgresql+asyncpg://hub@127.0.0.1/hub",
        HUB_KEK_FILE=str(kek),
        HUB_AUDIT_SIGNING_KEY_FILE=str(audit_key),
        HUB_DATA_DIR=str(tmp_path),
    )
    assert result.returncode == 0, result.stderr
    assert "configuration ok" in result.stdout
    assert "production" in result.stdout
    assert "a-real-secret" not in result.stdout + result.stderr
