"""The terminal's and the print station's shared fixtures: a private cupsd per module and the dev PKI."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests._cups import CupsServer, running_cups

ARTIFACTS = Path(__file__).resolve().parents[3] / "var" / "artifacts" / "kiosk"


@pytest.fixture(scope="module")
def cups() -> Iterator[CupsServer]:
    """One cupsd for the module."""
    yield from running_cups()


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A `hub dev-pki` directory: the virtual card's keys and the trust the stand-in hub verifies against."""
    from service.cardproof.devpki import main as devpki_main

    out = tmp_path_factory.mktemp("kiosk-pki")
    assert devpki_main(["--out", str(out), "--force"]) == 0
    return out


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """Where the screenshots go (var/ is git-ignored)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
