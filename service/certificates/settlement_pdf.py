"""The monthly settlement as a printable PDF (精算書): the CSV's rows on A4, with totals (docs/certificates.md §Fees).

ReportLab with the Japanese CID font the certificates use (HeiseiMin-W3, service/certificates/issuer.py): a CID
font needs no font file, so the page renders the same wherever it is opened.
"""

from __future__ import annotations

import io
from typing import Final

from reportlab.lib.pagesizes import A4  # type: ignore[import-untyped]
from reportlab.lib.units import mm  # type: ignore[import-untyped]
from reportlab.pdfbase import pdfmetrics  # type: ignore[import-untyped]
from reportlab.pdfbase.cidfonts import UnicodeCIDFont  # type: ignore[import-untyped]
from reportlab.pdfgen import canvas  # type: ignore[import-untyped]

from service.certificates.ledger import Settlement
from service.kit import clock
from service.wire.certificates import KIND_LABELS

FONT: Final = "HeiseiMin-W3"
WIDTH, HEIGHT = A4
LEFT: Final = 15 * mm
ROW: Final = 5.5 * mm
# Columns: text from its left edge, numbers right-aligned on their right edge (offsets from the margin).
COLUMNS: Final = (
    ("日付", 0 * mm, False),
    ("郵便局", 20 * mm, False),
    ("証明書", 62 * mm, False),
    ("件数", 118 * mm, True),
    ("通数", 131 * mm, True),
    ("手数料(円)", 151 * mm, True),
    ("返金(円)", 166 * mm, True),
    ("差引(円)", 180 * mm, True),
)


def _yen(n: int) -> str:
    return f"{n:,}"


def settlement_pdf(found: Settlement) -> bytes:
    """精算書: one line per day, office and kind, the month's totals, and a signature box for the checker."""
    pdfmetrics.registerFont(UnicodeCIDFont(FONT))
    out = io.BytesIO()
    c = canvas.Canvas(out, pagesize=A4)
    c.setTitle(f"証明書交付手数料 精算書 {found.municipality_code} {found.month}")
    page = 1

    def header() -> float:
        y = HEIGHT - 18 * mm
        c.setFont(FONT, 15)
        c.drawString(LEFT, y, f"証明書交付手数料 精算書 / Certificate fee settlement　{found.month}")
        y -= 8 * mm
        c.setFont(FONT, 10)
        c.drawString(LEFT, y, f"{found.municipality_name}（団体コード {found.municipality_code}）")
        c.drawRightString(WIDTH - LEFT, y, f"{page}頁")
        y -= 8 * mm
        c.setFont(FONT, 8)
        for title, x, right in COLUMNS:
            draw = c.drawRightString if right else c.drawString
            draw(LEFT + x, y, title)
        c.line(LEFT, y - 1.5 * mm, WIDTH - LEFT, y - 1.5 * mm)
        return float(y - ROW)

    def line(y: float, values: tuple[str, ...]) -> None:
        for (_, x, right), value in zip(COLUMNS, values, strict=True):
            if right:
                c.drawRightString(LEFT + x, y, value)
            else:
                c.drawString(LEFT + x, y, value)

    y = header()
    for r in found.rows:
        if y < 40 * mm:
            c.showPage()
            page += 1
            y = header()
        line(
            y,
            (
                r.day.isoformat(),
                f"{r.office_code} {r.office_name}"[:16],
                KIND_LABELS[r.kind][0],
                str(r.fees),
                str(r.certificates),
                _yen(r.collected_yen),
                _yen(r.refunded_yen),
                _yen(r.collected_yen - r.refunded_yen),
            ),
        )
        y -= ROW
    if not found.rows:
        c.drawString(LEFT, y, "この月の手数料の記録はありません / no fees recorded this month")
        y -= ROW
    c.line(LEFT, y + ROW - 1.5 * mm, WIDTH - LEFT, y + ROW - 1.5 * mm)
    c.setFont(FONT, 9)
    line(
        y - 1 * mm,
        (
            "合計",
            "",
            "",
            str(found.fees),
            str(found.certificates),
            _yen(found.collected_yen),
            _yen(found.refunded_yen),
            _yen(found.collected_yen - found.refunded_yen),
        ),
    )
    y -= 14 * mm
    c.setFont(FONT, 8)
    c.drawString(LEFT, y, f"作成 {clock.now():%Y-%m-%d %H:%M} UTC　金額は円、返金は差し引き済み。")
    c.rect(WIDTH - LEFT - 60 * mm, y - 22 * mm, 60 * mm, 18 * mm)
    c.drawString(WIDTH - LEFT - 58 * mm, y - 8 * mm, "確認印 / checked by")
    c.showPage()
    c.save()
    return out.getvalue()
