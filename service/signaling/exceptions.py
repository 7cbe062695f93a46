"""Errors of the signaling domain.

A principal that is not a participant of the case gets the cases domain's own `CaseNotFound`, so "not your
call" and "no such case" stay indistinguishable (a foreign case is a 404 everywhere).
"""

from __future__ import annotations

from service.cases.exceptions import CaseNotFound
from service.errors import Conflict


class MetricsLimitReached(Conflict):
    """The case already holds as many connection-metric reports as one case may (a flood, not calls)."""

    code = "connection_metrics_limit"
    title = "Too many connection metric reports for this case"


__all__ = ["CaseNotFound", "MetricsLimitReached"]
