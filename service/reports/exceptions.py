"""Errors of the reports domain."""

from __future__ import annotations

from service.errors import NotFound, PermissionDenied


class ReportNotFound(NotFound):
    """Another municipality's report is "not found", as a foreign case is (docs/reports.md §Access)."""

    code = "report_not_found"
    title = "Report not found"


class ReportsNotAllowed(PermissionDenied):
    code = "reports_not_allowed"
    title = "Your role does not read this report"
