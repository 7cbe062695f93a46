"""The monthly PDF reports with simple charts, in Japanese (reportlab; a CID font, as the counter's receipt)."""

from __future__ import annotations

from service.wire.reports import MunicipalReport, NationalReport


def municipal_pdf(report: MunicipalReport) -> bytes:
    raise NotImplementedError


def national_pdf(report: NationalReport) -> bytes:
    raise NotImplementedError
