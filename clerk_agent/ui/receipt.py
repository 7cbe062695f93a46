"""The 受付票 (receipt) as a printable PDF: case number, QR code, procedure, next steps, expected mailing date.

No personal number and no name: the case id and the 申請書ID's last four digits are enough to ask about it.
"""

from __future__ import annotations

import datetime as dt
import io

from clerk_agent.errors import AgentError
from clerk_agent.flows.case import MAILED
from clerk_agent.flows.counter import CounterFlow
from clerk_agent.wording import texts
from service.wire.cases import CaseState

# J-LIS production and mailing take about a month; the receipt says "目安" (an estimate), never a promise.
MAILING_ESTIMATE = dt.timedelta(days=30)


class ReceiptUnavailable(AgentError):
    """There is no case with a hub id to print a receipt for."""

    code = "receipt_unavailable"


def receipt_pdf(flow: CounterFlow, hub_url: str = "") -> bytes:
    """Render the receipt of the current case."""
    import qrcode  # type: ignore[import-untyped]
    from reportlab.lib.pagesizes import A5  # type: ignore[import-untyped]
    from reportlab.lib.units import mm  # type: ignore[import-untyped]
    from reportlab.lib.utils import ImageReader  # type: ignore[import-untyped]
    from reportlab.pdfbase import pdfmetrics  # type: ignore[import-untyped]
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont  # type: ignore[import-untyped]
    from reportlab.pdfgen import canvas  # type: ignore[import-untyped]

    case = flow.case
    if case is None or case.case_id is None:
        raise ReceiptUnavailable("no case to print a receipt for")
    pdfmetrics.registerFont(UnicodeCIDFont("HeiseiKakuGo-W5"))
    out = io.BytesIO()
    page = canvas.Canvas(out, pagesize=A5)
    width, height = A5
    page.setTitle("受付票 / Receipt")
    page.setFont("HeiseiKakuGo-W5", 18)
    page.drawString(15 * mm, height - 20 * mm, "受付票 / Receipt")
    page.setFont("HeiseiKakuGo-W5", 10)
    ja, en = texts.PROCEDURES[case.procedure]
    lines = [
        f"受付番号 Case: {case.case_id}",
        f"手続き Procedure: {ja} / {en}",
        f"受付日 Date: {case.started_at[:10]}",
        f"状態 Status: {_status(case.hub_state)}",
    ]
    if case.shinseisho_id:
        lines.append(f"申請書ID（末尾4桁） Form ID (last 4): …{case.shinseisho_id[-4:]}")
    if case.procedure in MAILED:
        expected = dt.date.fromisoformat(case.started_at[:10]) + MAILING_ESTIMATE
        lines.append(f"郵送予定（目安） Expected mailing: {expected.isoformat()} 頃")
    y = height - 32 * mm
    for line in lines:
        page.drawString(15 * mm, y, line)
        y -= 6 * mm
    y -= 2 * mm
    page.drawString(15 * mm, y, "次の手続き / Next steps:")
    next_ja, next_en = texts.NEXT_STEPS[case.procedure]
    for chunk in (next_ja[i : i + 30] for i in range(0, len(next_ja), 30)):
        y -= 6 * mm
        page.drawString(18 * mm, y, chunk)
    for chunk in (next_en[i : i + 60] for i in range(0, len(next_en), 60)):
        y -= 5 * mm
        page.drawString(18 * mm, y, chunk)
    code = qrcode.make(f"{hub_url.rstrip('/')}/cases/{case.case_id}" if hub_url else case.case_id)
    image = io.BytesIO()
    code.save(image, format="PNG")
    image.seek(0)
    page.drawImage(ImageReader(image), width - 45 * mm, height - 50 * mm, 32 * mm, 32 * mm)
    page.showPage()
    page.save()
    return out.getvalue()


def _status(state: CaseState | None) -> str:
    """The state's Japanese wording, or its code when there is none."""
    decision = texts.DECISIONS.get(state) if state else None
    return decision[0] if decision else str(state)
