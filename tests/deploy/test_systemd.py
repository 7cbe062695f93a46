"""The systemd units in deploy/systemd: valid for systemd itself, and consistent with the hub's settings."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from service.config import Settings
from tests._services import missing_service
from tests.deploy._files import UNITS, VENV_BIN, program_command, unit_values

UNIT_FILES = sorted([*UNITS.glob("*.service"), *UNITS.glob("*.timer")])
HUB_UNITS = [UNITS / "madoguchi-hub.service", UNITS / "madoguchi-purge.service"]
# The directory of the `hub` and `clerk-agent` console scripts of the environment running the tests.
TEST_BIN = Path(sys.executable).parent


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        missing_service(f"{name} (Debian package systemd; deploy/system-deps.sh installs it)")
    assert found is not None
    return found


def test_every_unit_is_there() -> None:
    """The units docs/operations.md installs exist (a rename would silently drop one from the checks below)."""
    assert {path.name for path in UNIT_FILES} == {
        "madoguchi-hub.service",
        "madoguchi-purge.service",
        "madoguchi-purge.timer",
        "madoguchi-coturn.service",
        "madoguchi-clerk-agent.service",
    }


@pytest.mark.parametrize("unit", UNIT_FILES, ids=lambda path: path.name)
def test_unit_passes_systemd_analyze_verify(unit: Path, tmp_path: Path) -> None:
    """`systemd-analyze verify` accepts the unit with no warning (an unknown or misspelt key is only a warning).

    The venv paths are rewritten to this environment's, which has the same console scripts, because verify
    checks that every Exec*= binary exists.
    """
    analyze = _tool("systemd-analyze")
    for source in UNIT_FILES:
        text = source.read_text(encoding="utf-8").replace(VENV_BIN, f"{TEST_BIN}/")
        (tmp_path / source.name).write_text(text, encoding="utf-8")
    result = subprocess.run(
        [analyze, "verify", "--man=no", "--generators=no", str(tmp_path / unit.name)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == "", result.stderr


def test_a_misspelt_key_is_caught(tmp_path: Path) -> None:
    """The check above really fails: a typo in a hardening key (PrivatTmp=) makes verify complain."""
    analyze = _tool("systemd-analyze")
    unit = tmp_path / "madoguchi-hub.service"
    text = (UNITS / unit.name).read_text(encoding="utf-8").replace(VENV_BIN, f"{TEST_BIN}/")
    unit.write_text(text.replace("PrivateTmp=yes", "PrivatTmp=yes"), encoding="utf-8")
    result = subprocess.run(
        [analyze, "verify", "--man=no", "--generators=no", str(unit)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert "PrivatTmp" in result.stderr


def test_sysusers_creates_the_service_users(tmp_path: Path) -> None:
    """The dedicated users the units run as come from madoguchi.sysusers.conf."""
    sysusers = _tool("systemd-sysusers")
    (tmp_path / "etc").mkdir()
    subprocess.run(
        [sysusers, f"--root={tmp_path}", str(UNITS / "madoguchi.sysusers.conf")],
        capture_output=True,
        timeout=60,
        check=True,
    )
    users = {line.split(":")[0] for line in (tmp_path / "etc/passwd").read_text().splitlines()}
    wanted = {unit_values(path, "User")[0] for path in UNIT_FILES if unit_values(path, "User")}
    assert wanted == {"madoguchi", "madoguchi-agent"}
    assert wanted <= users


def test_hub_units_are_hardened_and_run_hub_commands() -> None:
    """The hub migrates before it serves, purges daily, and runs confined to its data directory."""
    hub = HUB_UNITS[0]
    assert [program_command(line) for line in unit_values(hub, "ExecStartPre")] == [
        ["hub", "check-config"],
        ["hub", "db", "upgrade"],
    ]
    assert [program_command(line) for line in unit_values(hub, "ExecStart")] == [["hub", "serve"]]
    purge = HUB_UNITS[1]
    assert [program_command(line) for line in unit_values(purge, "ExecStart")] == [
        ["hub", "evidence", "purge"]
    ]
    for unit in HUB_UNITS:
        assert unit_values(unit, "User") == ["madoguchi"]
        assert unit_values(unit, "NoNewPrivileges") == ["yes"]
        assert unit_values(unit, "ProtectSystem") == ["strict"]
        assert unit_values(unit, "PrivateTmp") == ["yes"]
        assert unit_values(unit, "ReadWritePaths") == ["/var/lib/madoguchi"]
        assert unit_values(unit, "CapabilityBoundingSet") == [""]


def _credentials(unit: Path) -> dict[str, str]:
    """LoadCredential= of a unit: credential name -> source file."""
    return dict(value.split(":", 1) for value in unit_values(unit, "LoadCredential"))


def test_secret_credentials_name_hub_settings() -> None:
    """Every HUB_* credential is a real setting, so the hub reads it from $CREDENTIALS_DIRECTORY."""
    fields = {f"HUB_{name.upper()}" for name in Settings.model_fields}
    for unit in HUB_UNITS:
        named = {name for name in _credentials(unit) if name.startswith("HUB_")}
        assert named == {"HUB_SECRET_KEY", "HUB_TURN_SECRET"}
        assert named <= fields
        # Both services see the same secrets and keys.
        assert _credentials(unit) == _credentials(HUB_UNITS[0])


def _unit_environment(unit: Path, credentials: Path) -> dict[str, str]:
    """Environment= of a unit, with the %d specifier (the credentials directory) expanded."""
    env: dict[str, str] = {}
    for line in unit_values(unit, "Environment"):
        for assignment in line.split():
            key, _, value = assignment.partition("=")
            env[key] = value.replace("%d", str(credentials))
    return env


def _env_file(path: Path) -> dict[str, str]:
    env: dict[str, str] = {}
    for raw in path.read_text(encoding="utf-8").splitlines():
        if raw.strip() and not raw.lstrip().startswith("#"):
            key, _, value = raw.partition("=")
            env[key.strip()] = value.strip()
    return env


def _check_config(env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    base = {key: value for key, value in os.environ.items() if not key.startswith(("HUB_", "CREDENTIALS_"))}
    return subprocess.run(
        [str(TEST_BIN / "hub"), "check-config"],
        env={**base, **env},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _credentials_dir(tmp_path: Path, secret: str) -> Path:
    """What systemd builds from the hub unit's LoadCredential= lines, with synthetic contents."""
    credentials = tmp_path / "credentials"
    credentials.mkdir()
    for name in _credentials(HUB_UNITS[0]):
        (credentials / name).write_text(f"{secret}-{name}\n" if name.startswith("HUB_") else "{}\n")
    return credentials


def test_example_settings_and_credentials_pass_check_config(tmp_path: Path) -> None:
    """hub.env.example plus the unit's credentials is a production configuration `hub check-config` accepts,
    and the secret is never printed. Fails without reading $CREDENTIALS_DIRECTORY: HUB_SECRET_KEY is then the
    development placeholder, which production refuses."""
    secret = "synthetic-credential-value-7c1f0b"
    credentials = _credentials_dir(tmp_path, secret)
    env = {
        **_env_file(UNITS / "hub.env.example"),
        **_unit_environment(HUB_UNITS[0], credentials),
        "CREDENTIALS_DIRECTORY": str(credentials),
    }
    result = _check_config(env, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "environment production" in result.stdout
    assert secret not in result.stdout + result.stderr


def test_missing_secret_credential_is_refused(tmp_path: Path) -> None:
    """Without the HUB_SECRET_KEY credential, production refuses to start and names the setting."""
    credentials = _credentials_dir(tmp_path, "synthetic-credential-value-7c1f0b")
    (credentials / "HUB_SECRET_KEY").unlink()
    env = {
        **_env_file(UNITS / "hub.env.example"),
        **_unit_environment(HUB_UNITS[0], credentials),
        "CREDENTIALS_DIRECTORY": str(credentials),
    }
    result = _check_config(env, tmp_path)
    assert result.returncode == 2
    assert "HUB_SECRET_KEY" in result.stderr


def test_environment_wins_over_a_credential_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An explicit HUB_* variable overrides the file (so an operator can test a value without editing files)."""
    from service.config import get_settings

    credentials = tmp_path / "credentials"
    credentials.mkdir()
    (credentials / "HUB_TURN_SECRET").write_text("from-file\n")
    (credentials / "HUB_SECRET_KEY").write_text("key-from-file\n")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(credentials))
    monkeypatch.setenv("HUB_TURN_SECRET", "from-environment")
    monkeypatch.delenv("HUB_SECRET_KEY", raising=False)
    get_settings.cache_clear()
    try:
        settings = get_settings()
        assert settings.turn_secret.get_secret_value() == "from-environment"
        assert settings.secret_key.get_secret_value() == "key-from-file"
    finally:
        get_settings.cache_clear()
