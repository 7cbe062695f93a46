"""`hub keys rotate` and `hub evidence purge` are reachable from the command line (the parser once lacked them)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from service import cli
from service.config import Settings, get_settings


@pytest.fixture
def hub_env(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The CLI reads its settings from the environment: point it at the test database and data directory."""
    monkeypatch.setenv("HUB_ENVIRONMENT", "test")
    monkeypatch.setenv("HUB_DATABASE_URL", settings.effective_database_url)
    monkeypatch.setenv("HUB_DATA_DIR", str(settings.data_dir))
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    get_settings.cache_clear()
    yield settings.data_dir
    get_settings.cache_clear()


def test_keys_rotate_and_evidence_purge_run(hub_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["keys", "rotate"]) == 0
    first = json.loads((hub_env / "kek.json").read_text())
    assert cli.main(["keys", "rotate"]) == 0
    second = json.loads((hub_env / "kek.json").read_text())
    assert second != first
    assert cli.main(["evidence", "purge"]) == 0
    out = capsys.readouterr().out
    assert "re-wrapped" in out
    assert "shredded past retention" in out
