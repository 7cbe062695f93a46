"""The reports as files: xlsx (openpyxl), CSV in UTF-8 with BOM, and a PDF with charts (docs/reports.md §Exports)."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from typing import Final

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font

from service.reports.pdf import municipal_pdf, national_pdf
from service.wire.cases import PROCEDURE_LABELS
from service.wire.certificates import KIND_LABELS, CertificateKind
from service.wire.reports import (
    CERTIFICATE_FIGURE_LABELS,
    FIGURE_LABELS,
    NATIONAL_FIGURES,
    CertificateFigures,
    Figures,
    MunicipalReport,
    NationalReport,
    SuppressedFigures,
)

XLSX: Final = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV: Final = "text/csv; charset=utf-8"
PDF: Final = "application/pdf"
# Excel in Japan opens a CSV as Shift_JIS unless it starts with the UTF-8 byte order mark.
BOM: Final = "\ufeff"
WITHHELD: Final = "<3"
# The columns of the per-slice tables: every count of Figures, in the contract's order.
COUNT_FIELDS: Final = tuple(FIGURE_LABELS)

__all__ = [
    "CSV",
    "PDF",
    "XLSX",
    "municipal_csv",
    "municipal_pdf",
    "municipal_xlsx",
    "national_csv",
    "national_pdf",
    "national_xlsx",
]


def _heading(name: str) -> str:
    ja, en = FIGURE_LABELS[name]
    return f"{ja} / {en}"


def _counts(figures: Figures) -> list[int]:
    values = figures.model_dump()
    return [int(values[name]) for name in COUNT_FIELDS]


def _shown(activity: SuppressedFigures, name: str) -> int | str:
    value = activity.values.get(name)
    return WITHHELD if value is None else value


def municipal_rows(report: MunicipalReport) -> list[Sequence[object]]:
    """The CSV's table: one row per day, then per office, per procedure, and the month's total."""
    rows: list[Sequence[object]] = [
        [
            "団体コード",
            "区分 / slice",
            "日付・局・手続 / key",
            "名称 / name",
            *(_heading(n) for n in COUNT_FIELDS),
        ]
    ]
    code = report.municipality_code
    for day in report.by_day:
        rows.append(
            [
                code,
                "日別 / day",
                day.day.isoformat(),
                "平日" if day.working_day else "休日",
                *_counts(day.figures),
            ]
        )
    for office in report.by_office:
        rows.append([code, "局別 / office", office.office_code, office.office_name, *_counts(office.figures)])
    for row in report.by_procedure:
        rows.append(
            [
                code,
                "手続別 / procedure",
                row.procedure.value,
                PROCEDURE_LABELS[row.procedure][0],
                *_counts(row.figures),
            ]
        )
    rows.append(
        [code, "月計 / month", report.period.month, report.municipality_name, *_counts(report.totals)]
    )
    return rows


def _certificate_heading(name: str) -> str:
    ja, en = CERTIFICATE_FIGURE_LABELS[name]
    return f"{ja} / {en}"


def certificate_rows(report: MunicipalReport) -> list[Sequence[object]]:
    """Certificates issued at post offices: per kind, per day, per office and kind, and the month's total."""
    code = report.municipality_code
    series = report.certificates

    def counts(figures: CertificateFigures) -> list[int]:
        values = figures.model_dump()
        return [int(values[n]) for n in CERTIFICATE_FIGURE_LABELS]

    def label(kind: str) -> str:
        return KIND_LABELS[CertificateKind(kind)][0]

    rows: list[Sequence[object]] = [
        [
            "団体コード",
            "区分 / slice",
            "日付・局 / key",
            "証明書 / kind",
            *(_certificate_heading(n) for n in CERTIFICATE_FIGURE_LABELS),
        ]
    ]
    for k in series.kinds:
        rows.append([code, "種類別 / kind", report.period.month, label(k.kind), *counts(k.figures)])
    for day in series.by_day:
        rows.append([code, "日別 / day", day.day.isoformat(), "", *counts(day.figures)])
    for office in series.by_office:
        for k in office.kinds:
            rows.append([code, "局別 / office", office.office_code, label(k.kind), *counts(k.figures)])
    rows.append([code, "月計 / month", report.period.month, "", *counts(series.totals)])
    return rows


def _csv(rows: list[Sequence[object]]) -> bytes:
    out = io.StringIO()
    out.write(BOM)
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")


def municipal_csv(report: MunicipalReport) -> bytes:
    """The activity table, a blank line, then the certificates' table (証明書交付)."""
    return _csv([*municipal_rows(report), [], *certificate_rows(report)])


def national_rows(report: NationalReport) -> list[Sequence[object]]:
    """The national CSV: one row per municipality, withheld counts as "<3"."""
    rows: list[Sequence[object]] = [
        ["団体コード", "都道府県名", "市区町村名", "指定郵便局数", *(_heading(n) for n in NATIONAL_FIGURES)]
    ]
    for m in report.by_municipality:
        rows.append(
            [
                m.municipality_code,
                m.prefecture_name,
                m.municipality_name,
                m.offices_in_force,
                *(_shown(m.activity, n) for n in NATIONAL_FIGURES),
            ]
        )
    return rows


def national_csv(report: NationalReport) -> bytes:
    return _csv(national_rows(report))


def _workbook_bytes(sheets: list[tuple[str, list[Sequence[object]]]]) -> bytes:
    """A workbook of plain sheets, the first row of each a bold header kept in view."""
    book = Workbook(write_only=True)
    for title, rows in sheets:
        sheet = book.create_sheet(title)
        sheet.freeze_panes = "A2"
        head, *body = rows
        header = []
        for value in head:
            cell = WriteOnlyCell(sheet, value=str(value))
            cell.font = Font(bold=True)
            header.append(cell)
        sheet.append(header)
        for row in body:
            sheet.append(list(row))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def municipal_xlsx(report: MunicipalReport) -> bytes:
    """Sheets 集計 (the month), 日別, 局別, 手続別, 指定 (designations in force) and 証明書 (certificates)."""
    table = municipal_rows(report)
    head, body = table[0], table[1:]

    def part(slice_name: str) -> list[Sequence[object]]:
        return [head, *(r for r in body if r[1] == slice_name)]

    t = report.timings
    summary: list[Sequence[object]] = [
        ["項目 / item", "値 / value"],
        ["団体コード", report.municipality_code],
        ["市区町村名", report.municipality_name],
        ["対象月 / month", report.period.month],
        ["開庁日数 / working days", report.period.working_days],
        *([_heading(n), v] for n, v in zip(COUNT_FIELDS, _counts(report.totals), strict=True)),
        *(
            [f"平日平均 / working-day average: {_heading(n)}", v]
            for n, v in report.working_day_averages.averages.items()
        ),
        ["待ち時間 p50 (秒) / queue wait p50 s", t.queue_wait_seconds.p50],
        ["待ち時間 p90 (秒) / queue wait p90 s", t.queue_wait_seconds.p90],
        ["対応時間 p50 (秒) / handling p50 s", t.handling_seconds.p50],
        ["対応時間 p90 (秒) / handling p90 s", t.handling_seconds.p90],
        ["接続時間 p50 (ms) / call setup p50 ms", t.call_setup_ms.p50],
        ["接続時間 p90 (ms) / call setup p90 ms", t.call_setup_ms.p90],
        ["通話数 / calls", t.calls],
        ["切断 / drops", t.drops],
        ["指定数 / designations in force", report.designations.in_force],
        *(
            [f"証明書 / certificates: {_certificate_heading(n)}", v]
            for n, v in report.certificates.totals.model_dump().items()
        ),
    ]
    designations: list[Sequence[object]] = [
        ["局コード", "郵便局名", "取扱事務", "指定開始", "指定終了"],
        *(
            [
                d.office_code,
                d.office_name,
                "、".join(PROCEDURE_LABELS[p][0] for p in d.procedures),
                d.valid_from.isoformat(),
                d.valid_until.isoformat(),
            ]
            for d in report.designations.items
        ),
    ]
    return _workbook_bytes(
        [
            ("集計", summary),
            ("日別", part("日別 / day")),
            ("局別", part("局別 / office")),
            ("手続別", part("手続別 / procedure")),
            ("指定", designations),
            ("証明書", certificate_rows(report)),
        ]
    )


def national_xlsx(report: NationalReport) -> bytes:
    """Sheets 公表用 (laid out like the ministry's, plus the 団体コード), 都道府県別 and 取扱事務別."""
    public: list[Sequence[object]] = [
        [
            "都道府県名",
            "市区町村名",
            "団体コード",
            "指定郵便局数",
            *(FIGURE_LABELS[n][0] for n in NATIONAL_FIGURES),
        ],
        *(
            [
                m.prefecture_name,
                m.municipality_name,
                m.municipality_code,
                m.offices_in_force,
                *(_shown(m.activity, n) for n in NATIONAL_FIGURES),
            ]
            for m in report.by_municipality
        ),
    ]
    prefectures: list[Sequence[object]] = [
        [
            "都道府県コード",
            "都道府県名",
            "実施団体数",
            "指定郵便局数",
            "予定団体数",
            "予定郵便局数",
            *(FIGURE_LABELS[n][0] for n in NATIONAL_FIGURES),
        ],
        *(
            [
                p.prefecture_code,
                p.prefecture_name,
                p.municipalities_in_force,
                p.offices_in_force,
                p.municipalities_planned,
                p.offices_planned,
                *(_shown(p.activity, n) for n in NATIONAL_FIGURES),
            ]
            for p in report.by_prefecture
        ),
        [
            "",
            "全国",
            report.municipalities_in_force,
            report.offices_in_force,
            report.municipalities_planned,
            report.offices_planned,
            *(_shown(report.activity, n) for n in NATIONAL_FIGURES),
        ],
    ]
    programmes: list[Sequence[object]] = [
        ["取扱事務", "procedure", "実施団体数", "指定郵便局数", "予定団体数", "予定郵便局数"],
        *(
            [
                PROCEDURE_LABELS[p.procedure][0],
                p.procedure.value,
                p.municipalities_in_force,
                p.offices_in_force,
                p.municipalities_planned,
                p.offices_planned,
            ]
            for p in report.programmes
        ),
    ]
    notes: list[Sequence[object]] = [
        ["秘匿のルール / suppression"],
        [report.suppression.rule_ja],
        [report.suppression.rule_en],
    ]
    return _workbook_bytes(
        [("公表用", public), ("都道府県別", prefectures), ("取扱事務別", programmes), ("注記", notes)]
    )
