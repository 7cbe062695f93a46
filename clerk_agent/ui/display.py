"""How the counter writes things people read: Tokyo dates in Japanese, and lines broken by the kinsoku rules.

The screens and the receipt show the 受付番号, never the case id, and dates as 2026年12月2日 14:05 (in English mode
2 Dec 2026, 14:05), never ISO strings (docs/domain.md §B4.1).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from zoneinfo import ZoneInfo

# The counters are in Japan; the hub keeps the same zone (service/config.py).
TOKYO = ZoneInfo("Asia/Tokyo")

# 行頭禁則: no line starts with these (they hang at the end of the line before: ぶら下げ).
NO_LINE_START = frozenset(
    "、。，．・：；？！ー）」』】〕〉》”’々ぁぃぅぇぉっゃゅょゎァィゥェォッャュョヮヵヶ,.:;!?)]}"
)
# 行末禁則: no line ends with these (they move to the next line with what they open).
NO_LINE_END = frozenset("（「『【〔〈《“‘([{")
# A date (2027年1月1日頃), a Latin word with its own punctuation, a run of spaces: one piece each; any other
# Japanese character is a piece of its own.
_PIECES = re.compile(r"(?:[0-9]+[年月日])+頃?|[\u0021-\u024f]+|\s+|.", re.S)


def local_time(iso: str) -> dt.datetime | None:
    """An ISO timestamp (UTC when it names no zone) in Tokyo time; None when it is empty or not a timestamp."""
    try:
        moment = dt.datetime.fromisoformat(iso)
    except (TypeError, ValueError):
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)).astimezone(TOKYO)


def ja_date(day: dt.date) -> str:
    """2026年12月2日."""
    return f"{day.year}年{day.month}月{day.day}日"


def ja_datetime(iso: str) -> str:
    """2026年12月2日 14:05 in Tokyo time, or — when there is no time to show."""
    moment = local_time(iso)
    return f"{ja_date(moment)} {moment:%H:%M}" if moment else "—"


# Spelt out rather than strftime's %b, which follows the process's locale.
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def en_datetime(iso: str) -> str:
    """2 Dec 2026, 14:05 in Tokyo time, for a screen in English mode; — when there is no time to show."""
    moment = local_time(iso)
    return f"{moment.day} {_MONTHS[moment.month - 1]} {moment.year}, {moment:%H:%M}" if moment else "—"


def wrap(text: str, fits: Callable[[str], bool]) -> list[str]:
    """Break `text` into lines that `fits`, Latin text at spaces, Japanese between characters, by kinsoku rules."""
    lines: list[str] = []
    line = ""
    for piece in _PIECES.findall(text):
        if not line.strip() or fits(line + piece) or piece[0] in NO_LINE_START:
            line = line + piece if line.strip() else piece.lstrip()
            continue
        carry = ""
        while line and line[-1] in NO_LINE_END:
            line, carry = line[:-1], line[-1] + carry
        if line.strip():
            lines.append(line.rstrip())
        line = (carry + piece).lstrip()
    if line.strip():
        lines.append(line.rstrip())
    return lines
