"""deploy/prometheus/alerts.yml is valid for Prometheus itself (`promtool check rules` parses every PromQL
expression). Which metrics and labels the rules may use is checked against a live /metrics in
tests/service/test_metrics.py."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from tests._services import missing_service
from tests.deploy._files import DEPLOY

RULES = DEPLOY / "prometheus" / "alerts.yml"


def _promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        missing_service("promtool (Debian package prometheus; deploy/system-deps.sh installs it)")
    assert found is not None
    return found


def _check(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [_promtool(), "check", "rules", str(path)], capture_output=True, text=True, timeout=60, check=False
    )


def test_alert_rules_pass_promtool() -> None:
    """Every rule parses and the file has the expected number of rules."""
    result = _check(RULES)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 9 rules found" in result.stdout


def test_promtool_refuses_a_broken_expression(tmp_path: Path) -> None:
    """The check above really checks: an unclosed parenthesis in one expression fails it."""
    broken = tmp_path / "alerts.yml"
    broken.write_text(
        RULES.read_text().replace("max(hub_outbox_lag_seconds) > 300", "max(hub_outbox_lag_seconds > 300")
    )
    result = _check(broken)
    assert result.returncode != 0
    assert "OutboxLagging" in result.stdout + result.stderr
