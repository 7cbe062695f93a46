"""What the clerk (and the lobby terminal) is told when the printer cannot print: Japanese first, with English."""

from __future__ import annotations

from typing import Final

Text = tuple[str, str]

PRINTER_PROBLEMS: Final[dict[str, Text]] = {
    "printer_unreachable": (
        "プリンターに接続できません。電源とケーブルを確認してから、もう一度印刷してください。",
        "The printer cannot be reached. Check its power and cable, then print again.",
    ),
    "printer_offline": (
        "プリンターが停止中（オフライン）です。プリンターの表示を確認し、再開してから、もう一度印刷してください。",
        "The printer is stopped (offline). Check its panel, resume it, then print again.",
    ),
    "printer_paper_out": (
        "用紙がありません。A4用紙を補充してから、もう一度印刷してください。手数料は二重にかかりません。",
        "The printer is out of paper. Load A4 paper, then print again. No second fee is charged.",
    ),
    "print_job_failed": (
        "印刷できませんでした（印刷ジョブは取り消しました）。もう一度印刷してください。手数料は二重にかかりません。",
        "The document did not print (the print job was cancelled). Print again; no second fee is charged.",
    ),
    "printer_error": (
        "プリンターの不具合で印刷できませんでした。もう一度印刷してください。",
        "A printer problem stopped the print. Print again.",
    ),
}


def printer_problem(code: str) -> Text:
    """The words for a printer error code (the general one for a code not listed)."""
    return PRINTER_PROBLEMS.get(code, PRINTER_PROBLEMS["printer_error"])
