"""The Kubernetes ConfigMap and Secret, materialised as the pod sees them (environment plus files in
$CREDENTIALS_DIRECTORY), make a configuration `hub check-config` accepts — once the placeholders are filled in."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.deploy._files import manifest_documents

MOUNT = "/run/secrets/madoguchi"


def _named(kind: str, name: str) -> dict[str, Any]:
    (document,) = [d for _, d in manifest_documents() if d["kind"] == kind and d["metadata"]["name"] == name]
    return document


def _pod_view(tmp_path: Path, secret_values: dict[str, str]) -> dict[str, str]:
    """The hub container's environment, with the Secret volume written to a temporary directory."""
    credentials = tmp_path / "secrets"
    credentials.mkdir()
    for key, value in secret_values.items():
        (credentials / key).write_text(value)
    env = {
        key: value.replace(MOUNT, str(credentials))
        for key, value in _named("ConfigMap", "madoguchi-hub")["data"].items()
    }
    env["CREDENTIALS_DIRECTORY"] = str(credentials)
    return env


def _check_config(env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    base = {key: value for key, value in os.environ.items() if not key.startswith(("HUB_", "CREDENTIALS_"))}
    return subprocess.run(
        [str(Path(sys.executable).parent / "hub"), "check-config"],
        env={**base, **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_example_secret_unchanged_is_refused(tmp_path: Path) -> None:
    """Applying secret.example.yaml as it is fails the pod's check-config, naming HUB_SECRET_KEY.
    Fails on the old hub, which took REPLACE_WITH_A_RANDOM_SECRET for a real secret."""
    secret = dict(_named("Secret", "madoguchi-hub-secrets")["stringData"])
    result = _check_config(_pod_view(tmp_path, secret), tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "HUB_SECRET_KEY" in result.stderr


def test_filled_in_secret_with_the_configmap_passes(tmp_path: Path) -> None:
    """With real-looking values the ConfigMap's settings all parse (JSON lists, ICE servers) and production
    accepts them; no secret is printed."""
    secret = dict(_named("Secret", "madoguchi-hub-secrets")["stringData"])
    filled = {
        **secret,
        "HUB_SECRET_KEY": "synthetic-k8s-secret-4d1e9a7c2b",
        "HUB_TURN_SECRET": "synthetic-k8s-turn-6f0a3c",
        "HUB_DATABASE_URL": "postgresql+asyncpg://madoguchi:synthetic@postgres.madoguchi.svc:5432/madoguchi",
    }
    result = _check_config(_pod_view(tmp_path, filled), tmp_path)
    assert result.returncode == 0, result.stderr
    assert "environment production" in result.stdout
    assert "synthetic-k8s" not in result.stdout + result.stderr
