"""Skip-or-fail for tests that need a real service: outside CI a missing service skips, under CI=true it fails."""

from __future__ import annotations

import os

import pytest


def in_ci() -> bool:
    """Whether this run is CI, where nothing may be skipped."""
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def missing_service(what: str) -> None:
    """Report a missing service: fail under CI, skip elsewhere. Never returns."""
    if in_ci():
        pytest.fail(f"required service missing under CI=true: {what}", pytrace=False)
    pytest.skip(f"service not available: {what}")
