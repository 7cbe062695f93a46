"""The municipality's certificate system (simulator): renders a certificate as an A4 PDF from a record extract.

Every page carries the issue number, the date, the municipality's seal, a QR code of the verification URL and the
short verification code, so anyone can check the paper later (docs/certificates.md §Verification). The text uses
the Adobe-Japan1 CID font (a PDF reader or the printer's rasteriser supplies the glyphs: Noto CJK from
fonts-noto-cjk on our machines); the seal is drawn with Noto Serif CJK. Rendering is CPU work: callers run it in a
thread.
"""

from __future__ import annotations

import datetime as dt
import functools
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw, ImageFont

from service.integrations.resident import CertificateRecord
from service.wire.certificates import KIND_LABELS, SCOPE_LABELS, CertificateKind, CertificateOption, Scope

_SEAL_FONTS = (
    Path("/usr/share/fonts/opentype/noto/NotoSerifCJK-Bold.ttc"),
    Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc"),
    Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"),
)
_FONT = "HeiseiMin-W3"
_FONT_BOLD = "HeiseiKakuGo-W5"

_CERTIFY = {
    CertificateKind.juminhyo: "この写しは、住民票の原本と相違ないことを証明する。",
    CertificateKind.juminhyo_kisai: "上記の事項は、住民票に記載されていることを証明する。",
    CertificateKind.inkan: "この写しは、登録されている印影と相違ないことを証明する。",
    CertificateKind.koseki_zenbu: "これは、戸籍に記録されている事項の全部を証明した書面である。",
    CertificateKind.koseki_kojin: "これは、戸籍中の記録されている事項の一部を証明した書面である。",
    CertificateKind.koseki_fuhyo: "この写しは、戸籍の附票の原本と相違ないことを証明する。",
    CertificateKind.shotoku_kazei: "上記のとおり相違ないことを証明する。",
}


@dataclass(frozen=True)
class IssueInput:
    """Everything one copy is made from; `holder` and `household` are the record extract (personal data)."""

    municipality_code: str
    municipality_name: str
    kind: CertificateKind
    scope: Scope | None
    options: tuple[CertificateOption, ...]
    count: int
    holder: CertificateRecord
    household: tuple[CertificateRecord, ...]

    def to_json(self) -> dict[str, Any]:
        """The extract as sealed until hand-over (needed for a reprint)."""
        return {
            "municipality_code": self.municipality_code,
            "municipality_name": self.municipality_name,
            "kind": self.kind.value,
            "scope": self.scope.value if self.scope else None,
            "options": [o.value for o in self.options],
            "count": self.count,
            "holder": self.holder.to_json(),
            "household": [m.to_json() for m in self.household],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> IssueInput:
        """The inverse of to_json."""
        return cls(
            municipality_code=data["municipality_code"],
            municipality_name=data["municipality_name"],
            kind=CertificateKind(data["kind"]),
            scope=Scope(data["scope"]) if data["scope"] else None,
            options=tuple(CertificateOption(o) for o in data["options"]),
            count=int(data["count"]),
            holder=CertificateRecord.from_json(data["holder"]),
            household=tuple(CertificateRecord.from_json(m) for m in data["household"]),
        )


@dataclass(frozen=True)
class IssueStamp:
    """What the hub assigns to one copy: numbers people read, the date, the verification URL."""

    issue_number: str
    verification_code: str
    verify_url: str
    issued_at: dt.datetime  # local time of the municipality


def _wareki(day: dt.date) -> str:
    # 令和 from 2019-05-01: certificates are dated in the Japanese era.
    return f"令和{day.year - 2018}年{day.month}月{day.day}日"


@functools.cache
def seal_png(name: str) -> bytes:
    """A square red seal (公印) reading「{name}長之印」, drawn with a Noto CJK font (a generated image, not a real seal)."""
    size = 240
    image = Image.new("RGBA", (size, size), (255, 255, 255, 0))
    draw = ImageDraw.Draw(image)
    red = (200, 30, 30, 235)
    draw.rectangle((6, 6, size - 7, size - 7), outline=red, width=10)
    text = f"{name}長之印"
    font_path = next((p for p in _SEAL_FONTS if p.exists()), None)
    # Vertical columns right to left, as seals are cut; two or three characters a column.
    per_column = 3 if len(text) > 4 else 2
    columns = [text[i : i + per_column] for i in range(0, len(text), per_column)]
    cell = (size - 40) // max(per_column, len(columns))
    font = ImageFont.truetype(str(font_path), cell - 4) if font_path else ImageFont.load_default()
    for c, column in enumerate(columns):
        x = size - 20 - (c + 1) * cell
        for r, char in enumerate(column):
            draw.text((x + 2, 20 + r * cell), char, fill=red, font=font)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def _rows(source: IssueInput) -> list[tuple[str, str]]:
    """The entries the certificate shows (label, value), by kind and options."""
    h = source.holder
    people = list(source.household) if source.scope is Scope.household else [h]
    rows: list[tuple[str, str]] = []
    if source.kind in (CertificateKind.juminhyo, CertificateKind.juminhyo_kisai):
        rows.append(("住所", h.address))
        if CertificateOption.setainushi in source.options:
            rows.append(("世帯主", h.head_of_household))
        if CertificateOption.honseki in source.options and h.honseki:
            rows.append(("本籍", h.honseki))
            rows.append(("筆頭者", h.hittousha or ""))
        for person in people:
            rows.append(("氏名", f"{person.name}（{person.name_kana}）"))
            rows.append(("生年月日・性別", f"{person.birth_date:%Y年%m月%d日}　{person.sex}"))
            if CertificateOption.setainushi in source.options:
                rows.append(("続柄", person.relationship))
            rows.append(("住民となった日", f"{person.moved_in_on:%Y年%m月%d日}"))
    elif source.kind is CertificateKind.inkan:
        rows += [("氏名", h.name), ("生年月日", f"{h.birth_date:%Y年%m月%d日}"), ("住所", h.address)]
        rows.append(("登録印影", "（印影）"))
    elif source.kind in (CertificateKind.koseki_zenbu, CertificateKind.koseki_kojin):
        rows += [("本籍", h.honseki or ""), ("筆頭者", h.hittousha or ""), ("氏名", h.name)]
        rows.append(("生年月日", f"{h.birth_date:%Y年%m月%d日}"))
    elif source.kind is CertificateKind.koseki_fuhyo:
        rows += [("本籍", h.honseki or ""), ("氏名", h.name), ("住所", h.address)]
        rows.append(("住所を定めた日", f"{h.moved_in_on:%Y年%m月%d日}"))
    else:
        rows += [("住所", h.address), ("氏名", h.name), ("所得金額", f"{h.taxable_income_yen:,}円")]
    return rows


def render_pdf(source: IssueInput, stamp: IssueStamp) -> tuple[bytes, int]:
    """The unsigned PDF and its page count: `count` copies, one A4 page each."""
    from reportlab.graphics import renderPDF  # type: ignore[import-untyped]
    from reportlab.graphics.barcode.qr import QrCodeWidget  # type: ignore[import-untyped]
    from reportlab.graphics.shapes import Drawing  # type: ignore[import-untyped]
    from reportlab.lib.pagesizes import A4  # type: ignore[import-untyped]
    from reportlab.lib.units import mm  # type: ignore[import-untyped]
    from reportlab.lib.utils import ImageReader  # type: ignore[import-untyped]
    from reportlab.pdfbase import pdfmetrics  # type: ignore[import-untyped]
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont  # type: ignore[import-untyped]
    from reportlab.pdfgen import canvas  # type: ignore[import-untyped]

    for font in (_FONT, _FONT_BOLD):
        pdfmetrics.registerFont(UnicodeCIDFont(font))
    out = io.BytesIO()
    # invariant=1: no random document id or creation time beyond what we set, so a copy's bytes depend only on
    # its inputs (the digest in the register is then the digest of exactly what was printed).
    pdf = canvas.Canvas(out, pagesize=A4, invariant=1)
    title = KIND_LABELS[source.kind][0]
    pdf.setTitle(f"{title} {stamp.issue_number}")
    pdf.setAuthor(source.municipality_name)
    pdf.setCreator("madoguchi-bridge certificate simulator")
    width, height = A4
    seal = ImageReader(io.BytesIO(seal_png(source.municipality_name)))
    rows = _rows(source)
    for copy in range(1, source.count + 1):
        # A faint background of the issuer's name, standing in for the real paper's 地紋 (tint block).
        pdf.saveState()
        pdf.setFillColorRGB(0.94, 0.94, 0.97)
        pdf.setFont(_FONT_BOLD, 28)
        pdf.translate(width / 2, height / 2)
        pdf.rotate(35)
        for row in range(-6, 7):
            pdf.drawCentredString(0, row * 26 * mm, f"{source.municipality_name}　" * 4)
        pdf.restoreState()
        pdf.setFont(_FONT_BOLD, 20)
        pdf.drawCentredString(width / 2, height - 30 * mm, title)
        if source.scope is not None:
            pdf.setFont(_FONT, 11)
            pdf.drawCentredString(width / 2, height - 37 * mm, f"（{SCOPE_LABELS[source.scope][0]}）")
        pdf.setFont(_FONT, 10)
        pdf.drawRightString(width - 20 * mm, height - 18 * mm, f"発行番号 {stamp.issue_number}")
        y = height - 50 * mm
        for label, value in rows:
            pdf.setFont(_FONT_BOLD, 10)
            pdf.drawString(22 * mm, y, label)
            pdf.setFont(_FONT, 11)
            pdf.drawString(62 * mm, y, value)
            pdf.line(20 * mm, y - 2.5 * mm, width - 20 * mm, y - 2.5 * mm)
            y -= 9 * mm
        y -= 6 * mm
        pdf.setFont(_FONT, 11)
        pdf.drawString(22 * mm, y, _CERTIFY[source.kind])
        pdf.drawString(22 * mm, y - 9 * mm, _wareki(stamp.issued_at.date()))
        pdf.setFont(_FONT_BOLD, 13)
        pdf.drawString(80 * mm, y - 22 * mm, f"{source.municipality_name}長")
        pdf.drawImage(seal, 135 * mm, y - 32 * mm, 30 * mm, 30 * mm, mask="auto")
        # Every page: QR of the verification URL and the short code, so the paper can be checked later.
        widget = QrCodeWidget(stamp.verify_url)
        x0, y0, x1, y1 = widget.getBounds()
        side = 28 * mm
        drawing = Drawing(side, side, transform=[side / (x1 - x0), 0, 0, side / (y1 - y0), 0, 0])
        drawing.add(widget)
        renderPDF.draw(drawing, pdf, 20 * mm, 16 * mm)
        pdf.setFont(_FONT, 9)
        pdf.drawString(52 * mm, 38 * mm, f"確認コード Verification code: {stamp.verification_code}")
        pdf.drawString(52 * mm, 32 * mm, stamp.verify_url)
        pdf.drawString(
            52 * mm, 26 * mm, f"発行日時 {stamp.issued_at:%Y-%m-%d %H:%M}　発行番号 {stamp.issue_number}"
        )
        pdf.drawString(
            52 * mm,
            20 * mm,
            f"{copy} / {source.count} 通　{source.municipality_name}（{source.municipality_code}）",
        )
        pdf.showPage()
    pdf.save()
    return out.getvalue(), source.count
