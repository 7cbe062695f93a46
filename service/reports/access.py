"""Who reads which report (docs/reports.md §Access): plain rules on the principal, no I/O."""

from __future__ import annotations

from typing import Final

from service.accounts.roles import Principal, PrincipalKind, Role, Scope
from service.reports.exceptions import ReportNotFound, ReportsNotAllowed

# People who read their own municipality's monthly report.
MUNICIPAL_REPORT_ROLES: Final = frozenset({Role.supervisor, Role.manager})


def may_read_municipal(principal: Principal) -> bool:
    """Whether the caller reads some municipality's report (its own): supervisor, manager, a reports:read key."""
    if principal.kind is PrincipalKind.account:
        return principal.role in MUNICIPAL_REPORT_ROLES and principal.municipality_code is not None
    if principal.kind is PrincipalKind.integration:
        return Scope.reports_read in principal.scopes and principal.municipality_code is not None
    return False


def may_read_national(principal: Principal) -> bool:
    """Only the ministry's accounts read the national aggregate."""
    return principal.kind is PrincipalKind.account and principal.role is Role.ministry


def require_municipal(principal: Principal, municipality_code: str) -> None:
    """403 for roles that read no municipal report; 404 for another municipality's (as for cases)."""
    if not may_read_municipal(principal):
        raise ReportsNotAllowed("municipal reports are read by the municipality's supervisors and managers")
    if principal.municipality_code != municipality_code:
        raise ReportNotFound()


def require_national(principal: Principal) -> None:
    if not may_read_national(principal):
        raise ReportsNotAllowed("the national view is read by the ministry's accounts")
