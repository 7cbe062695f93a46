"""The receipt slip (受付レシート) the lobby terminal prints: receipt number, office, kind and count, fee, expiry, QR.

No name, no address, no number: the slip is handed across the counter and may be left lying about. The QR code
carries the receipt number only, which the clerk's print station scans (docs/certificate-printing.md §Slip).
"""

from __future__ import annotations

import io

from clerk_agent.ui.display import TOKYO
from service.wire.certificates import KIND_LABELS, Receipt

FONT = "HeiseiKakuGo-W5"
# 80 mm roll paper, as lobby terminals use; a PDF page of that width and a receipt's height.
WIDTH_MM, HEIGHT_MM = 80, 150


def slip_lines(receipt: Receipt, municipality_name: str = "") -> list[str]:
    """The slip's facts, one per line (Japanese first, with English)."""
    kind_ja, kind_en = KIND_LABELS[receipt.kind]
    issued = receipt.issued_at.astimezone(TOKYO)
    expires = receipt.expires_at.astimezone(TOKYO)
    lines = [
        f"郵便局 Office: {receipt.post_office_name or receipt.post_office_id}",
        f"市区町村 Municipality: {municipality_name or receipt.municipality_code}",
        f"証明書 {kind_ja}",
        f"  {kind_en}",
        f"通数 Copies: {receipt.count}",
        f"手数料 Fee: {receipt.fee_yen:,}円 (yen)",
        f"受付 Issued: {issued:%Y-%m-%d %H:%M}",
        f"有効期限 Valid until: {expires:%Y-%m-%d %H:%M}",
    ]
    return lines


def render_slip(receipt: Receipt, municipality_name: str = "") -> bytes:
    """The slip as a one-page PDF for the terminal's printer."""
    import qrcode  # type: ignore[import-untyped]
    from reportlab.lib.units import mm  # type: ignore[import-untyped]
    from reportlab.lib.utils import ImageReader  # type: ignore[import-untyped]
    from reportlab.pdfbase import pdfmetrics  # type: ignore[import-untyped]
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont  # type: ignore[import-untyped]
    from reportlab.pdfgen import canvas  # type: ignore[import-untyped]

    pdfmetrics.registerFont(UnicodeCIDFont(FONT))
    width, height = WIDTH_MM * mm, HEIGHT_MM * mm
    out = io.BytesIO()
    page = canvas.Canvas(out, pagesize=(width, height))
    page.setTitle("受付レシート / Receipt")
    page.setFont(FONT, 13)
    page.drawString(6 * mm, height - 12 * mm, "受付レシート / Receipt")
    page.setFont(FONT, 9)
    page.drawString(6 * mm, height - 19 * mm, "受付番号 Receipt number")
    page.setFont(FONT, 20)
    page.drawString(6 * mm, height - 28 * mm, receipt.receipt_number)
    page.setFont(FONT, 8.5)
    y = height - 36 * mm
    for line in slip_lines(receipt, municipality_name):
        page.drawString(6 * mm, y, line)
        y -= 5 * mm
    code = qrcode.make(receipt.receipt_number, border=2)
    image = io.BytesIO()
    code.save(image, format="PNG")
    image.seek(0)
    page.drawImage(ImageReader(image), (width - 36 * mm) / 2, y - 38 * mm, 36 * mm, 36 * mm)
    y -= 44 * mm
    for line in (
        "このレシートを郵便局の窓口にお出しください。",
        "Hand this receipt to the post-office counter.",
        "有効期限を過ぎると無効になります。",
        "It is void after the time above.",
    ):
        page.drawString(6 * mm, y, line)
        y -= 4.5 * mm
    page.showPage()
    page.save()
    return out.getvalue()
