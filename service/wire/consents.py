"""The consent catalogue (同意): each consent's code, the version of its text, and the text in Japanese and English.

The counter shows these texts and sends back code → version; the hub records them and refuses an older or
unknown version (service/cases/consents.py), so the record always names a text the municipality published.
A new text is a new version here, and the generated browser module follows (docs/architecture.md §3).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True)
class ConsentText:
    """One consent of the catalogue."""

    code: str
    version: str
    ja: str
    en: str
    required: bool = True


CATALOGUE: Final[tuple[ConsentText, ...]] = (
    ConsentText(
        code="recording",
        version="2026-04",
        ja="ビデオ通話の録画に同意します",
        en="I consent to the video call being recorded",
    ),
    ConsentText(
        code="id_copy",
        version="2026-04",
        ja="本人確認書類の画像の保存に同意します",
        en="I consent to images of my ID documents being kept",
    ),
    ConsentText(
        code="pin_entry",
        version="2026-04",
        ja="暗証番号をこの窓口の画面で自分で入力することに同意します",
        en="I consent to typing my PIN myself on this counter screen",
    ),
)
# code → current version: what the counter sends and the hub expects.
CURRENT: Final[dict[str, str]] = {c.code: c.version for c in CATALOGUE}
