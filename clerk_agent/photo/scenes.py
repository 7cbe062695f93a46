"""Synthetic pictures to hold up to the synthetic camera (demo and tests): a form with its QR code, an ID card.

Everything here is invented: the "ID card" is a grey test card with SAMPLE printed on it, not any real
document's design, and the form carries only the 申請書ID.
"""

from __future__ import annotations

import io

import numpy as np
from numpy.typing import NDArray

Image = NDArray[np.uint8]


def qr_code(text: str, *, box_px: int = 8) -> Image:
    """A QR code of `text` as a BGR image (qrcode → PNG → OpenCV)."""
    import cv2
    import qrcode  # type: ignore[import-untyped]

    code = qrcode.QRCode(box_size=box_px, border=4, error_correction=qrcode.constants.ERROR_CORRECT_M)
    code.add_data(text)
    code.make(fit=True)
    out = io.BytesIO()
    code.make_image().save(out, format="PNG")
    decoded = cv2.imdecode(np.frombuffer(out.getvalue(), dtype=np.uint8), cv2.IMREAD_COLOR)
    picture: Image = decoded  # type: ignore[assignment]
    return picture


def application_form(shinseisho_id: str, *, width: int = 900, height: int = 640) -> Image:
    """A sheet of paper with lines of "text" and the 申請書ID's QR code in its upper right corner."""
    import cv2

    sheet = np.full((height, width, 3), 245, dtype=np.uint8)
    for row in range(60, height - 40, 36):
        cv2.line(sheet, (40, row), (width // 2, row), (60, 60, 60), 3)
    cv2.putText(sheet, "FORM (SAMPLE)", (40, 40), cv2.FONT_HERSHEY_SIMPLEX, 1.0, (30, 30, 30), 2)
    code = qr_code(shinseisho_id, box_px=6)
    x, y = width - code.shape[1] - 40, 40
    sheet[y : y + code.shape[0], x : x + code.shape[1]] = code
    return sheet


def id_card(*, tilted: bool = False, width: int = 860, height: int = 540) -> Image:
    """An invented photo-ID test card; `tilted` shows it turned in perspective with a glare band (hologram view)."""
    import cv2

    card = np.full((height, width, 3), (200, 210, 215), dtype=np.uint8)
    cv2.rectangle(card, (30, 30), (width - 30, height - 30), (90, 90, 90), 4)
    cv2.putText(card, "SAMPLE ID - TEST ONLY", (60, 100), cv2.FONT_HERSHEY_SIMPLEX, 1.4, (40, 40, 40), 3)
    cv2.rectangle(card, (60, 150), (300, 450), (150, 150, 150), -1)  # where a photo would be
    for row in range(180, 440, 50):
        cv2.line(card, (340, row), (width - 80, row), (70, 70, 70), 4)
    if not tilted:
        return card
    # Rainbow-ish glare where a hologram would catch the light, then a perspective turn.
    overlay = card.copy()
    for i, colour in enumerate(((255, 120, 120), (120, 255, 120), (120, 120, 255))):
        cv2.circle(overlay, (width - 200 + 30 * i, height - 160), 70, colour, -1)
    blended: Image = cv2.addWeighted(overlay, 0.5, card, 0.5, 0)  # type: ignore[assignment]
    src = np.array([[0, 0], [width, 0], [width, height], [0, height]], dtype=np.float32)
    dst = np.array(
        [[width * 0.08, height * 0.1], [width * 0.95, 0], [width, height], [0, height * 0.9]],
        dtype=np.float32,
    )
    warped: Image = cv2.warpPerspective(  # type: ignore[assignment]
        blended, cv2.getPerspectiveTransform(src, dst), (width, height), borderValue=(96, 96, 96)
    )
    return warped


# A monospace face stands in for OCR-B on the invented documents below (fonts-dejavu-core ships it).
MONO_FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf"
CJK_FONT = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"  # fonts-noto-cjk (deploy/system-deps.sh)


def _bgr(grey: object) -> Image:
    import cv2

    picture: Image = cv2.cvtColor(np.asarray(grey, dtype=np.uint8), cv2.COLOR_GRAY2BGR)  # type: ignore[assignment]
    return picture


def passport_page(mrz: str, *, angle: float = 0.0) -> Image:
    """An invented passport data page with `mrz` (88 characters) in its machine-readable zone, turned by `angle`°.

    Only the MRZ is meant to be read (OCR at the counter, docs/id-documents.md §OCR); the rest is SAMPLE print.
    """
    from PIL import Image as Pil
    from PIL import ImageDraw, ImageFont

    page = Pil.new("L", (1000, 700), 236)
    draw = ImageDraw.Draw(page)
    draw.rectangle((40, 60, 300, 400), outline=120, width=3)  # where the portrait is
    small = ImageFont.truetype(MONO_FONT, 24)
    for row, text in enumerate(("PASSPORT  SAMPLE - TEST ONLY", "SURNAME  INVENTED", "GIVEN NAMES  TEST")):
        draw.text((340, 80 + 60 * row), text, font=small, fill=70)
    big = ImageFont.truetype(MONO_FONT, 36)
    draw.text((30, 560), mrz[:44], font=big, fill=20)
    draw.text((30, 620), mrz[44:], font=big, fill=20)
    if angle:
        page = page.rotate(angle, resample=Pil.Resampling.BICUBIC, expand=True, fillcolor=150)
    return _bgr(page)


def residence_card_face(number: str) -> Image:
    """An invented residence card face (SAMPLE headings) with the 12-character card number top right."""
    from PIL import Image as Pil
    from PIL import ImageDraw, ImageFont

    card = Pil.new("L", (860, 540), 228)
    draw = ImageDraw.Draw(card)
    cjk = ImageFont.truetype(CJK_FONT, 26)
    draw.text((30, 24), "在留カード SAMPLE", font=ImageFont.truetype(CJK_FONT, 40), fill=40)
    draw.text((470, 30), "番号", font=ImageFont.truetype(CJK_FONT, 24), fill=60)
    draw.text((540, 26), number, font=ImageFont.truetype(MONO_FONT, 34), fill=20)
    draw.text((30, 110), "氏名 NAME  TEST INVENTED", font=cjk, fill=50)
    draw.text((30, 170), "生年月日 1990年01月01日", font=cjk, fill=50)
    draw.rectangle((610, 150, 830, 430), outline=110, width=3)
    return _bgr(card)
