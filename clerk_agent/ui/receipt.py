"""The 受付票 (receipt) as a printable PDF: 受付番号, QR code, procedure, next steps, expected mailing date.

No personal number and no name: the 受付番号 and the 申請書ID's last four digits are enough to ask about it. The case
id stays in the QR code's URL only; people read the 受付番号 and Tokyo dates in Japanese (docs/domain.md §B4.1).
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Callable

from clerk_agent.errors import AgentError
from clerk_agent.flows.case import CARD_WORK_PROCEDURES, MAILED, RECEIPT_STATES, CounterCase
from clerk_agent.flows.counter import CounterFlow
from clerk_agent.ui.display import ja_date, ja_datetime, local_time, wrap
from clerk_agent.wording import texts
from service.wire.cases import CaseState
from service.wire.labels import STATE_LABELS

# J-LIS production and mailing take about a month; the receipt says "目安" (an estimate), never a promise.
MAILING_ESTIMATE = dt.timedelta(days=30)


class ReceiptUnavailable(AgentError):
    """There is no case with a hub id to print a receipt for."""

    code = "receipt_unavailable"


FONT = "HeiseiKakuGo-W5"


def receipt_lines(case: CounterCase) -> list[str]:
    """The receipt's facts, one per line, before wrapping."""
    ja, en = texts.PROCEDURES[case.procedure]
    started = local_time(case.started_at)
    lines = [
        f"受付番号 Reference: {case.reference or '（登録中 / pending）'}",
        f"手続き Procedure: {ja} / {en}",
        f"受付日時 Date: {ja_datetime(case.started_at)}",
        f"状態 Status: {_status(case.hub_state)}",
    ]
    if case.shinseisho_id:
        lines.append(f"申請書ID（末尾4桁） Form ID (last 4): …{case.shinseisho_id[-4:]}")
    if case.procedure in MAILED and started is not None:
        lines.append(f"郵送予定（目安） Expected mailing: {ja_date(started.date() + MAILING_ESTIMATE)}頃")
    if case.procedure in CARD_WORK_PROCEDURES:
        # What was done on the card, by name: never a PIN, a certificate's serial or any number of the holder.
        lines.append("実施内容 Done:" + ("" if case.card_work_done else " なし / none"))
        for code in case.card_work_done:
            if code in texts.DONE:
                lines += [f"・{texts.DONE[code][0]}", f"　{texts.DONE[code][1]}"]
    return lines


def receipt_pdf(flow: CounterFlow, hub_url: str = "") -> bytes:
    """Render the receipt of the current case."""
    case = flow.case
    if case is None or case.case_id is None:
        raise ReceiptUnavailable("no case to print a receipt for")
    return render_receipt(case, hub_url)


def render_receipt(case: CounterCase, hub_url: str = "") -> bytes:
    """The receipt of a case the hub has registered (it has a case id)."""
    import qrcode  # type: ignore[import-untyped]
    from reportlab.lib.pagesizes import A5  # type: ignore[import-untyped]
    from reportlab.lib.units import mm  # type: ignore[import-untyped]
    from reportlab.lib.utils import ImageReader  # type: ignore[import-untyped]
    from reportlab.pdfbase import pdfmetrics  # type: ignore[import-untyped]
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont  # type: ignore[import-untyped]
    from reportlab.pdfgen import canvas  # type: ignore[import-untyped]

    pdfmetrics.registerFont(UnicodeCIDFont(FONT))
    out = io.BytesIO()
    page = canvas.Canvas(out, pagesize=A5)
    width, height = A5

    def fits(limit: float) -> Callable[[str], bool]:
        return lambda line: bool(pdfmetrics.stringWidth(line, FONT, 10) <= limit)

    # The card work's receipt is also its 交付通知: it states what was done at the counter.
    title = "交付通知・受付票 / Notice" if case.procedure in CARD_WORK_PROCEDURES else "受付票 / Receipt"
    page.setTitle(title)
    page.setFont(FONT, 18)
    page.drawString(15 * mm, height - 20 * mm, title)
    page.setFont(FONT, 10)
    y = height - 32 * mm
    # Beside the QR code the facts keep left of it; below it they use the page's width.
    for fact in receipt_lines(case):
        beside_code = y > height - 54 * mm
        for line in wrap(fact, fits(width - (65 if beside_code else 30) * mm)):
            page.drawString(15 * mm, y, line)
            y -= 6 * mm
    y = min(y, height - 56 * mm) - 2 * mm
    page.drawString(15 * mm, y, "次の手続き / Next steps:")
    next_ja, next_en = texts.next_steps_after(
        case.procedure, case.card_work_done, closed=case.hub_state in RECEIPT_STATES
    )
    for text, step in ((next_ja, 6 * mm), (next_en, 5 * mm)):
        for line in wrap(text, fits(width - 33 * mm)):
            y -= step
            page.drawString(18 * mm, y, line)
    # The QR code carries the hub's link (with the case id) for staff; people read the 受付番号 above.
    code = qrcode.make(f"{hub_url.rstrip('/')}/cases/{case.case_id}" if hub_url else str(case.case_id))
    image = io.BytesIO()
    code.save(image, format="PNG")
    image.seek(0)
    page.drawImage(ImageReader(image), width - 45 * mm, height - 50 * mm, 32 * mm, 32 * mm)
    page.showPage()
    page.save()
    return out.getvalue()


def _status(state: CaseState | None) -> str:
    """The state's Japanese wording: the counter's own for a decision, else the contract's label."""
    if state is None:
        return "登録中"
    decision = texts.DECISIONS.get(state)
    return decision[0] if decision else STATE_LABELS[state][0]
