"""What the counter screens say about an ID-document chip read, in Japanese and English (docs/id-documents.md).

A read ends either at the hub (verified, or refused with a `ChipRefusal`) or at the counter before anything was
sent (a wrong PIN or card number, a blocked PIN, another document on the reader, no reader). The same refusal
reads differently per document: a residence card is opened with its number, a licence with the holder's PINs
(blocked ones are reset by the police, not the municipality), a passport with its MRZ. So the words are chosen
here by kind and reason, and a code the counter does not know still reads as a plain sentence, never as the code.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from service.wire.idchips import CHIP_REFUSAL_LABELS, ChipKind, ChipRefusal

Text = tuple[str, str]

# The documents the clerk can say the applicant brought, in the order of the clerk screen's buttons.
DOCUMENTS: Final[dict[ChipKind, Text]] = {
    ChipKind.residence_card: ("在留カード", "Residence card"),
    ChipKind.special_permanent_resident: ("特別永住者証明書", "Special permanent resident certificate"),
    ChipKind.driving_licence: ("運転免許証（IC）", "IC driving licence"),
    ChipKind.passport: ("旅券（パスポート）", "Passport"),
}

# The applicant is told only about the licence they opened with their PINs.
_VERIFIED_FOR_APPLICANT: Final[Text] = (
    "運転免許証のICチップを確認しました。係員の案内をお待ちください。",
    "The driving licence's chip was verified. Please wait for the clerk.",
)
_VERIFIED_DEFAULT: Final[Text] = (
    "ICチップの署名を確認しました（職員の画面に表示されます）。",
    "Chip signature verified (shown to the officer).",
)

# Refusals at the counter, by (kind, reason); `None` as kind: any document.
_AT_THE_COUNTER: Final[dict[tuple[ChipKind | None, str], Text]] = {
    (ChipKind.residence_card, "access_denied"): (
        "在留カード等の番号が違うため、ICチップを開けませんでした。カードに印字された番号を確かめて、もう一度入力してください。",
        "The card number did not open the chip. Check the number printed on the card and type it again.",
    ),
    (ChipKind.special_permanent_resident, "access_denied"): (
        "証明書の番号が違うため、ICチップを開けませんでした。印字された番号を確かめて、もう一度入力してください。",
        "The certificate number did not open the chip. Check the number printed on it and type it again.",
    ),
    (ChipKind.passport, "access_denied"): (
        "ICチップを開けませんでした。旅券番号・生年月日・有効期間満了日を確かめて、もう一度入力してください。",
        "The chip did not open. Check the document number, birth date and expiry, and type them again.",
    ),
    (ChipKind.driving_licence, "pin_blocked"): (
        "運転免許証の暗証番号がロックされています。解除は警察（運転免許センター等）で行います。"
        "ICチップは読めないため、免許証をカメラで職員に確認してもらってください。",
        "The licence PIN is blocked; the police (licence centre) can reset it. The chip cannot be read: show "
        "the licence to the officer on camera instead.",
    ),
    (ChipKind.driving_licence, "last_try_confirmation_required"): (
        "残り1回です。間違えると暗証番号がロックされます。確認してから、もう一度入力してください。",
        "One try left: a wrong PIN now blocks it. Confirm, then enter it again.",
    ),
    (ChipKind.driving_licence, "invalid_pin_format"): (
        "暗証番号は数字4桁です。",
        "Each PIN is 4 digits.",
    ),
    (ChipKind.residence_card, "invalid_pin_format"): (
        "在留カード番号は12文字です（英字2文字・数字8桁・英字2文字）。",
        "The card number is 12 characters (2 letters, 8 digits, 2 letters).",
    ),
    (None, "access_denied"): (
        "ICチップを開けませんでした。書類の記載を確かめて、もう一度入力してください。",
        "The chip did not open. Check what is printed on the document and type it again.",
    ),
    (None, "not_this_document"): (
        "読み取り機の上の書類は、選んだ種類の書類ではありません。書類の種類を確かめて置き直してください。",
        "The document on the reader is not of the kind chosen. Check the kind and lay it on the reader again.",
    ),
    (None, "reader_unavailable"): (
        "書類の読み取り機が見つかりません。接続を確かめてください。",
        "The document reader is not available. Check its connection.",
    ),
    (None, "pin_blocked"): (
        "暗証番号がロックされています。ICチップは読めないため、書類をカメラで職員に確認してもらってください。",
        "The PIN is blocked; the chip cannot be read. Show the document to the officer on camera instead.",
    ),
    (None, "invalid_pin_format"): (
        "入力の形式が正しくありません。書類の記載を確かめて、もう一度入力してください。",
        "The entry has the wrong shape. Check the document and type it again.",
    ),
}
_UNKNOWN: Final[Text] = (
    "ICチップを読み取れませんでした。書類を置き直して、もう一度お試しください。",
    "The chip could not be read. Lay the document on the reader again and retry.",
)


def _kind(value: object) -> ChipKind | None:
    return ChipKind(value) if isinstance(value, str) and value in set(ChipKind) else None


def wrong_licence_pin(which: int, tries_left: int) -> Text:
    """A wrong 暗証番号1 or 2, with that PIN's tries left in words."""
    if tries_left <= 0:
        return _AT_THE_COUNTER[(ChipKind.driving_licence, "pin_blocked")]
    last = (
        ("次に間違えるとロックされます。", " A wrong PIN next time blocks it.")
        if tries_left == 1
        else ("", "")
    )
    return (
        f"暗証番号{which}が違います。暗証番号{which}の残りは{tries_left}回です。{last[0]}",
        f"PIN {which} is wrong. {tries_left} {'try' if tries_left == 1 else 'tries'} left for PIN {which}.{last[1]}",
    )


def read_outcome(last: Mapping[str, object], *, applicant: bool = False) -> Text:
    """The words for the last chip read's result (`DocumentChips.last`): the clerk's, or the applicant's."""
    kind = _kind(last.get("kind"))
    if last.get("verdict") == "verified":
        return _VERIFIED_FOR_APPLICANT if applicant else _VERIFIED_DEFAULT
    reason = str(last.get("refusal_reason") or "")
    which, tries = last.get("pin"), last.get("tries_left")
    if kind is ChipKind.driving_licence and isinstance(which, int) and isinstance(tries, int):
        return wrong_licence_pin(which, tries)
    told = _AT_THE_COUNTER.get((kind, reason)) or _AT_THE_COUNTER.get((None, reason))
    if told:
        return told
    if reason in set(ChipRefusal):
        # The hub's refusal: the officer sees every check; the clerk is told the first failure by name.
        ja, en = CHIP_REFUSAL_LABELS[ChipRefusal(reason)]
        return (
            f"ICチップを確認できませんでした（{ja}）。職員の判断を待ちます。",
            f"Chip not verified ({en}). The officer decides.",
        )
    return _UNKNOWN


def tries_failure(code: str) -> Text:
    """Why the licence's tries could not be read for the applicant's screen (no licence on the reader, ...)."""
    if code == "not_this_document":
        return (
            "読み取り機の上に運転免許証が見つかりません。係員にお知らせください。",
            "No driving licence on the reader. Please tell the clerk.",
        )
    return (
        "運転免許証を読み取れませんでした。係員にお知らせください。",
        "The driving licence could not be read. Please tell the clerk.",
    )
