"""The 申請書ID (`shinseisho_id`, 23 digits) as a person types or scans it, cleaned by one rule on both sides.

The counter agent and the hub both apply `normalize_shinseisho_id`, so what the agent accepts the hub accepts:
full-width digits (a Japanese IME's default) become ASCII by NFKC, and the spaces and hyphens the form prints
between digit groups are dropped. Anything else (letters, other scripts' digits) is left for the check to refuse.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Final

SHINSEISHO_ID_PATTERN: Final = r"^[0-9]{23}$"
# Separators as printed or typed: after NFKC a full-width hyphen is "-"; dashes and the long vowel mark stay.
_SEPARATORS: Final = re.compile(r"[\s\-\u2010-\u2015\u2212\u30fc\uff70]+")


def normalize_shinseisho_id(raw: str) -> str:
    """NFKC (full-width → ASCII digits), then without spaces and hyphens; not yet checked."""
    return _SEPARATORS.sub("", unicodedata.normalize("NFKC", raw))


def is_shinseisho_id(value: str) -> bool:
    """Whether an already normalised value is 23 ASCII digits."""
    return re.fullmatch(SHINSEISHO_ID_PATTERN[1:-1], value) is not None
