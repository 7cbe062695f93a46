"""Errors of the signaling domain.

A principal that is not a participant of the case gets the cases domain's own `CaseNotFound`, so "not your
call" and "no such case" stay indistinguishable (a foreign case is a 404 everywhere).
"""

from __future__ import annotations

from service.cases.exceptions import CaseNotFound

__all__ = ["CaseNotFound"]
