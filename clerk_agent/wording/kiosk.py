"""What the lobby terminal says to the resident: short, Japanese first, with English; never why a record refuses."""

from __future__ import annotations

from typing import Final

from clerk_agent.wording.printing import PRINTER_PROBLEMS

Text = tuple[str, str]

STEPS: Final[dict[str, Text]] = {
    "insert": ("マイナンバーカードを置いてください", "Place your My Number Card on the reader"),
    "choose": ("証明書を選んでください", "Choose the certificate"),
    "pin": ("暗証番号（数字4桁）を入力してください", "Enter your 4-digit PIN"),
    "working": ("確認しています。カードを置いたままお待ちください", "Checking. Keep the card on the reader"),
    "receipt": (
        "レシートをお取りになり、郵便局の窓口にお出しください",
        "Take the receipt and hand it to the post-office counter",
    ),
    "refused": ("この端末ではお取り扱いできません", "This terminal cannot issue it"),
    "take_card": ("カードをお取りください", "Please take your card"),
}

PROGRESS_LABELS: Final[list[Text]] = [
    ("カード", "Card"),
    ("証明書の選択", "Certificate"),
    ("暗証番号", "PIN"),
    ("確認", "Check"),
    ("レシート", "Receipt"),
]

NOTICES: Final[dict[str, Text]] = {
    "card_removed": (
        "カードが取り外されたため、最初からやり直してください。何も申請されていません。",
        "The card was removed: please start again. Nothing was requested.",
    ),
    "idle_timeout": (
        "一定時間操作がなかったため、終了しました。入力内容は消去しました。",
        "No touch for a while: the session ended and what you entered was erased.",
    ),
    "cancelled": ("中止しました。入力内容は消去しました。", "Cancelled. What you entered was erased."),
    "pin_incorrect": (
        "暗証番号が違います。もう一度入力してください。",
        "The PIN is not correct. Please enter it again.",
    ),
    "pin_format": ("暗証番号は数字4桁です。", "The PIN is 4 digits."),
    "pin_last_try": (
        "暗証番号の残り回数が1回です。ロックを防ぐため、この端末では入力できません。"
        "暗証番号がわからない場合は、市区町村の窓口で初期化の手続きをしてください。",
        "Only one PIN try is left. To keep the card from locking, this terminal does not ask for it. "
        "If you do not remember the PIN, have it reset at the municipal counter.",
    ),
    "pin_blocked": (
        "暗証番号がロックされています。市区町村の窓口で初期化の手続きをしてください。",
        "The PIN is locked. Have it reset at the municipal counter.",
    ),
    "hub_unavailable": (
        "ただいま証明書システムに接続できません。何も申請されていません。しばらくしてからご利用ください。",
        "The certificate system cannot be reached. Nothing was requested. Please try again later.",
    ),
    "hub_refused": (
        "この申請は受け付けられませんでした。郵便局の窓口でお尋ねください。",
        "The request was not accepted. Please ask at the post-office counter.",
    ),
    "service_closed": ("ただいまサービス時間外です。", "The service is closed at this time."),
    "slip_not_printed": (
        "レシートを印刷できませんでした。画面の受付番号を窓口にお伝えください。",
        "The receipt could not be printed. Tell the counter the receipt number shown.",
    ),
    "not_my_number_card": (
        "マイナンバーカードを読み取れません。カードの向きを確認してください。",
        "This card cannot be read as a My Number Card. Check how it is placed.",
    ),
    "card_error": (
        "カードを読み取れませんでした。郵便局の窓口でお尋ねください。",
        "The card could not be read. Please ask at the post-office counter.",
    ),
    "reader_unavailable": (
        "カードリーダーが使えません。郵便局の窓口でお尋ねください。",
        "The card reader is not working. Please ask at the post-office counter.",
    ),
}


def kiosk_notice(code: str | None) -> Text | None:
    """The words for a notice code (a printer's or the card's general words when not listed)."""
    if code is None:
        return None
    return NOTICES.get(code) or PRINTER_PROBLEMS.get(code) or NOTICES["card_error"]
