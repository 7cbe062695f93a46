"""The agent's signaling client is tested against the real hub: reuse the hub tests' world and server fixtures."""

from tests.service.conftest import driver, world
from tests.service.signaling.conftest import hub_url, officer_http, settings

__all__ = ["driver", "hub_url", "officer_http", "settings", "world"]
