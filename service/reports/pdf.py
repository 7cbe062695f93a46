"""The monthly PDF reports with simple bar charts, in Japanese (docs/reports.md §Exports).

ReportLab with the Japanese CID font HeiseiKakuGo-W5, as the counter's receipt: a CID font needs no font file, so
the PDF renders the same on the hub and the reader's machine. Charts are drawn with plain rectangles and lines.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Final

from reportlab.lib.pagesizes import A4  # type: ignore[import-untyped]
from reportlab.lib.units import mm  # type: ignore[import-untyped]
from reportlab.pdfbase import pdfmetrics  # type: ignore[import-untyped]
from reportlab.pdfbase.cidfonts import UnicodeCIDFont  # type: ignore[import-untyped]
from reportlab.pdfgen import canvas  # type: ignore[import-untyped]

from service.wire.cases import PROCEDURE_LABELS
from service.wire.certificates import KIND_LABELS, CertificateKind
from service.wire.reports import (
    FIGURE_LABELS,
    NATIONAL_FIGURES,
    CertificateFigures,
    MunicipalReport,
    NationalReport,
    Quantiles,
)

FONT: Final = "HeiseiKakuGo-W5"
WIDTH, HEIGHT = A4
LEFT: Final = 18 * mm
# The bars' colours: received, then approved (muted, readable in greyscale print).
BAR: Final = (0.22, 0.42, 0.69)
BAR_2: Final = (0.85, 0.55, 0.20)
CLOSED_DAY: Final = (0.92, 0.92, 0.92)


class _Page:
    """A canvas with a cursor that moves down the page and opens a new one when full."""

    def __init__(self, title: str) -> None:
        pdfmetrics.registerFont(UnicodeCIDFont(FONT))
        self.out = io.BytesIO()
        self.canvas = canvas.Canvas(self.out, pagesize=A4)
        self.canvas.setTitle(title)
        self.y = HEIGHT - 20 * mm

    def need(self, height: float) -> None:
        if self.y - height < 15 * mm:
            self.canvas.showPage()
            self.y = HEIGHT - 20 * mm

    def heading(self, line: str, size: float = 12) -> None:
        """A section heading, with room above it and kept with at least a few lines below."""
        self.need(size * 6)
        self.y -= size * 0.6
        self.text(line, size, gap=1.5)

    def wrapped(self, text: str, size: float = 7) -> None:
        """A paragraph broken to the page's width (Japanese breaks between any two characters)."""
        limit = WIDTH - 2 * LEFT
        line = ""
        for char in text:
            if pdfmetrics.stringWidth(line + char, FONT, size) > limit:
                self.text(line, size, gap=1.4)
                line = ""
            line += char
        if line:
            self.text(line, size, gap=1.4)

    def text(self, line: str, size: float = 10, *, x: float = LEFT, gap: float = 1.5) -> None:
        self.need(size * gap)
        self.canvas.setFont(FONT, size)
        self.canvas.drawString(x, self.y, line)
        self.y -= size * gap

    def table(self, rows: Sequence[tuple[str, str]], size: float = 9) -> None:
        """Two columns: a label and a right-aligned value."""
        for label, value in rows:
            self.need(size * 1.5)
            self.canvas.setFont(FONT, size)
            self.canvas.drawString(LEFT, self.y, label)
            self.canvas.drawRightString(LEFT + 120 * mm, self.y, value)
            self.y -= size * 1.5

    def bars(
        self,
        title: str,
        labels: Sequence[str],
        series: Sequence[Sequence[int | None]],
        *,
        legend: Sequence[str],
        shaded: Sequence[bool] = (),
        height: float = 55 * mm,
    ) -> None:
        """A grouped vertical bar chart; a None value (withheld) is drawn as "<3" without a bar."""
        self.need(height + 24 * mm)
        self.y -= 4
        self.text(title, 11, gap=1.2)
        c = self.canvas
        width = WIDTH - 2 * LEFT
        top = max([v for s in series for v in s if v is not None] + [1])
        base = self.y - height
        slot = width / max(len(labels), 1)
        c.setStrokeColorRGB(0.6, 0.6, 0.6)
        c.line(LEFT, base, LEFT + width, base)
        c.setFont(FONT, 7)
        c.drawString(LEFT, self.y + 1 * mm, f"最大 max {top}")
        for i, label in enumerate(labels):
            x = LEFT + i * slot
            if i < len(shaded) and shaded[i]:
                c.setFillColorRGB(*CLOSED_DAY)
                c.rect(x, base, slot, height, stroke=0, fill=1)
            bar = slot * 0.8 / max(len(series), 1)
            for j, values in enumerate(series):
                value = values[i]
                left = x + slot * 0.1 + j * bar
                if value is None:
                    c.setFillColorRGB(0, 0, 0)
                    c.drawCentredString(left + bar / 2, base + 1 * mm, "<3")
                    continue
                c.setFillColorRGB(*(BAR if j == 0 else BAR_2))
                c.rect(left, base, bar, height * value / top, stroke=0, fill=1)
            c.setFillColorRGB(0, 0, 0)
            if len(labels) > 20:  # narrow slots: the label reads upwards under its bar
                c.saveState()
                c.translate(x + slot / 2 + 1, base - 1 * mm)
                c.rotate(90)
                c.drawRightString(0, 0, label)
                c.restoreState()
            else:
                c.drawCentredString(x + slot / 2, base - 3.5 * mm, label)
        under = 12 * mm if len(labels) > 20 else 6 * mm
        for j, name in enumerate(legend):
            c.setFillColorRGB(*(BAR if j == 0 else BAR_2))
            c.rect(LEFT + j * 45 * mm, base - under - 3 * mm, 3 * mm, 3 * mm, stroke=0, fill=1)
            c.setFillColorRGB(0, 0, 0)
            c.drawString(LEFT + j * 45 * mm + 4 * mm, base - under - 2.5 * mm, name)
        self.y = base - under - 8 * mm

    def finish(self) -> bytes:
        self.canvas.showPage()
        self.canvas.save()
        return self.out.getvalue()


def _q(q: Quantiles, unit: str) -> str:
    if q.count == 0:
        return "—"
    return f"p50 {q.p50:g} / p90 {q.p90:g} {unit}（{q.count}件）"


def municipal_pdf(report: MunicipalReport) -> bytes:
    """The municipality's month: totals, averages, timings, per-day and per-office charts."""
    page = _Page(f"月次報告 {report.municipality_name} {report.period.month}")
    page.text(f"月次報告 / Monthly report　{report.period.month}", 16, gap=1.6)
    page.text(f"{report.municipality_name}（団体コード {report.municipality_code}）", 12)
    page.text(
        f"開庁日数 {report.period.working_days}日 / {report.period.days}日　作成 {report.generated_at:%Y-%m-%d %H:%M} UTC",
        9,
    )
    totals = report.totals.model_dump()
    page.heading("月計 / Month totals")
    page.table([(f"{ja} / {en}", str(totals[code])) for code, (ja, en) in FIGURE_LABELS.items()])
    page.heading("平日平均 / Working-day averages")
    page.table(
        [
            (FIGURE_LABELS[code][0], "—" if value is None else f"{value:.2f}")
            for code, value in report.working_day_averages.averages.items()
        ]
    )
    t = report.timings
    page.heading("時間 / Timings")
    page.table(
        [
            ("職員待ち時間 / queue wait", _q(t.queue_wait_seconds, "秒")),
            ("対応時間 / handling", _q(t.handling_seconds, "秒")),
            ("接続時間 / call setup", _q(t.call_setup_ms, "ms")),
            ("通話数・切断 / calls, drops", f"{t.calls} / {t.drops}"),
            (
                "指定 / designations in force",
                f"{report.designations.in_force}（{report.designations.offices}局）",
            ),
        ]
    )
    page.bars(
        "日別の受付と承認 / Received and approved per day（灰色: 閉庁日）",
        [str(d.day.day) if d.day.day % 5 == 0 or d.day.day == 1 else "" for d in report.by_day],
        [[d.figures.received for d in report.by_day], [d.figures.approved for d in report.by_day]],
        legend=["受付 received", "承認 approved"],
        shaded=[not d.working_day for d in report.by_day],
    )
    offices = report.by_office[:20]
    page.bars(
        "郵便局別の受付と承認 / Per post office（局コード）",
        [o.office_code for o in offices],
        [[o.figures.received for o in offices], [o.figures.approved for o in offices]],
        legend=["受付 received", "承認 approved"],
    )
    certificates = report.certificates
    kinds = [k for k in certificates.kinds if k.figures != CertificateFigures()]
    page.heading("証明書交付（郵便局） / Certificates issued at post offices")
    page.table(
        [
            (
                KIND_LABELS[CertificateKind(k.kind)][0],
                f"交付 {k.figures.issued}通　引渡し {k.figures.handed_over}通　再印刷 {k.figures.reprints}"
                f"　無効 {k.figures.voided}　手数料 {k.figures.collected_yen:,}円　返金 {k.figures.refunded_yen:,}円",
            )
            for k in kinds
        ]
        or [("—", "証明書の交付はありません / none issued")]
    )
    page.bars(
        "証明書の種類別交付通数 / Copies issued per kind",
        [KIND_LABELS[CertificateKind(k.kind)][0][:6] for k in certificates.kinds],
        [[k.figures.issued for k in certificates.kinds], [k.figures.handed_over for k in certificates.kinds]],
        legend=["交付 issued", "引渡し handed over"],
    )
    page.heading("手続別 / Per procedure")
    page.table(
        [
            (
                PROCEDURE_LABELS[row.procedure][0],
                f"受付 {row.figures.received}　承認 {row.figures.approved}　完了 {row.figures.completed}",
            )
            for row in report.by_procedure
        ]
    )
    return page.finish()


def national_pdf(report: NationalReport) -> bytes:
    """The national view: programmes, totals, and per-prefecture charts (withheld counts drawn as "<3")."""
    page = _Page(f"全国集計 {report.period.month}")
    page.text(f"全国集計 / National view　{report.period.month}", 16, gap=1.6)
    page.text(f"指定の基準日 {report.as_of.isoformat()}　作成 {report.generated_at:%Y-%m-%d %H:%M} UTC", 9)
    page.table(
        [
            ("実施団体数 / municipalities", str(report.municipalities_in_force)),
            ("指定郵便局数 / offices", str(report.offices_in_force)),
            ("予定団体数 / planned municipalities", str(report.municipalities_planned)),
            ("予定郵便局数 / planned offices", str(report.offices_planned)),
        ]
    )
    page.heading("取扱事務別 / Per procedure（団体・局、予定）")
    page.table(
        [
            (
                PROCEDURE_LABELS[p.procedure][0],
                f"{p.municipalities_in_force}団体 {p.offices_in_force}局（予定 {p.municipalities_planned}団体 {p.offices_planned}局）",
            )
            for p in report.programmes
        ]
    )
    page.heading("全国の件数 / National activity")
    page.table(
        [
            (
                FIGURE_LABELS[n][0],
                "<3" if report.activity.values[n] is None else str(report.activity.values[n]),
            )
            for n in NATIONAL_FIGURES
        ]
    )
    prefectures = report.by_prefecture[:47]
    page.bars(
        "都道府県別の指定郵便局数 / Offices per prefecture",
        [p.prefecture_name for p in prefectures],
        [[p.offices_in_force for p in prefectures]],
        legend=["指定郵便局 offices"],
    )
    page.bars(
        "都道府県別の受付と承認 / Received and approved per prefecture",
        [p.prefecture_name for p in prefectures],
        [
            [p.activity.values["received"] for p in prefectures],
            [p.activity.values["approved"] for p in prefectures],
        ],
        legend=["受付 received", "承認 approved"],
    )
    page.wrapped(report.suppression.rule_ja)
    return page.finish()
