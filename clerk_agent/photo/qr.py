"""Reading the 申請書ID (23 digits) from the QR code printed on the 交付申請書, with the counter camera.

cv2.QRCodeDetector on full-resolution frames. The code may hold the bare 23 digits or a text (e.g. an
address) containing them; exactly one 23-digit run must be found, anything else is not a form ID.
"""

from __future__ import annotations

import asyncio
import re
import time
from typing import Final

import numpy as np
from numpy.typing import NDArray

from clerk_agent.photo.camera import CounterCamera

_FORM_ID: Final = re.compile(r"(?<![0-9])[0-9]{23}(?![0-9])")


def form_id_in(text: str) -> str | None:
    """The one 23-digit 申請書ID inside a decoded QR text, or None."""
    found = _FORM_ID.findall(text)
    return found[0] if len(found) == 1 else None


def read_form_id(image: NDArray[np.uint8]) -> str | None:
    """Decode a QR code in a BGR frame and return its 申請書ID (blocking: run it in a worker thread)."""
    import cv2

    text, _points, _ = cv2.QRCodeDetector().detectAndDecode(image)
    return form_id_in(text) if text else None


_RECEIPT: Final = re.compile(r"^[0-9A-Za-z-]{4,32}$")


def receipt_number_in(text: str) -> str | None:
    """A receipt slip's QR holds the receipt number alone (clerk_agent/kiosk/slip.py)."""
    text = text.strip()
    return text if _RECEIPT.match(text) else None


def read_receipt_number(image: NDArray[np.uint8]) -> str | None:
    """Decode a receipt slip's QR code in a BGR frame (blocking: run it in a worker thread)."""
    import cv2

    text, _points, _ = cv2.QRCodeDetector().detectAndDecode(image)
    return receipt_number_in(text) if text else None


async def scan_receipt_number(
    camera: CounterCamera, *, timeout_s: float = 5.0, interval_s: float = 0.2
) -> str | None:
    """Read frames until one shows a receipt slip's QR code, or `timeout_s` passes (None)."""
    deadline = time.monotonic() + timeout_s
    while True:
        found = await asyncio.to_thread(read_receipt_number, await camera.frame())
        if found is not None or time.monotonic() >= deadline:
            return found
        await asyncio.sleep(interval_s)


async def scan_form_id(
    camera: CounterCamera, *, timeout_s: float = 5.0, interval_s: float = 0.2
) -> str | None:
    """Read frames until one shows a form ID's QR code, or `timeout_s` passes (None)."""
    deadline = time.monotonic() + timeout_s
    while True:
        frame = await camera.frame()
        found = await asyncio.to_thread(read_form_id, frame)
        if found is not None or time.monotonic() >= deadline:
            return found
        await asyncio.sleep(interval_s)
