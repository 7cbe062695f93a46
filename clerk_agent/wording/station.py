"""What the clerk's print station says: Japanese first, with English; what happened and what to do now."""

from __future__ import annotations

from typing import Final

from clerk_agent.wording.printing import PRINTER_PROBLEMS

Text = tuple[str, str]

STATION_NOTICES: Final[dict[str, Text]] = {
    "receipt_not_found": (
        "この受付番号は見つかりません。番号を確認してください（他の郵便局のレシートは使えません）。",
        "This receipt number is not known. Check it (a receipt from another post office cannot be used).",
    ),
    "receipt_expired": (
        "このレシートは有効期限が切れています。証明書は破棄されました。端末でもう一度申請していただいてください。",
        "This receipt has expired and its certificate was destroyed. Ask the resident to request it again.",
    ),
    "receipt_closed": (
        "このレシートは処理済み（交付済み・無効）です。",
        "This receipt is already closed (handed over or voided).",
    ),
    "duplicate_scan": (
        "このレシートは読み取り済みです。画面の状態から続けてください。",
        "This receipt was already scanned. Carry on from the state shown.",
    ),
    "binding_mismatch": (
        "受け取った証明書がこのレシートのものと一致しないため、印刷を中止しました。市区町村に連絡してください。",
        "The certificate received does not match this receipt, so it was not printed. Call the municipality.",
    ),
    "qr_not_found": (
        "QRコードを読み取れませんでした。レシートをカメラに向けるか、受付番号を入力してください。",
        "No QR code was read. Hold the receipt to the camera, or type the receipt number.",
    ),
    "fee_mismatch": ("手数料の金額が違います。", "The fee amount is not right."),
    "hub_unavailable": (
        "証明書システムに接続できません。何も変更されていません。しばらくしてからもう一度操作してください。",
        "The certificate system cannot be reached. Nothing was changed. Try again in a moment.",
    ),
    "hub_refused": (
        "この操作は受け付けられませんでした。画面の状態を確認してください。",
        "The step was not accepted. Check the state shown.",
    ),
}


def station_notice(code: str | None) -> Text | None:
    """The words for a station notice (a printer problem's words when it is one)."""
    if code is None:
        return None
    return STATION_NOTICES.get(code) or PRINTER_PROBLEMS.get(code) or STATION_NOTICES["hub_refused"]
