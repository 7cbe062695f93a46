"""Which Japanese chip document is in the reader, including the combined cards (docs/id-documents.md §Combined).

Detection only SELECTs applications by name and reads the residence card's free カード種別: it never selects or
reads a file of the My Number Card, so the My Number (券面入力補助AP EF0001, 券面事項確認AP EF0005) cannot be
touched. A card that answers both the My Number Card's JPKI AP and the residence card's DF1 is a 特定在留カード or
特定特別永住者証明書 (from 2026); one that answers JPKI and the licence-record AP is a マイナ免許証.
"""

from __future__ import annotations

from dataclasses import dataclass

from clerk_agent.card.idchips.jp_common import JpChipSession
from clerk_agent.card.idchips.residence import ResidenceReader
from clerk_agent.card.transport import Transport
from service.wire import idchips_jp as jp


@dataclass(frozen=True)
class JpDetection:
    """What the card is; `combined` says what may be read from a combined card (None for a plain document)."""

    kind: str  # driving_licence, residence_card, special_permanent_resident, my_number_card, unknown
    combined: jp.CombinedCard | None = None

    @property
    def label(self) -> str:
        """A short name for logs and the counter screen (no personal data)."""
        return self.combined.kind if self.combined is not None else self.kind


def detect_jp_document(transport: Transport) -> JpDetection:
    """SELECT by name only; which document (and which combination) the card is."""
    session = JpChipSession(transport)
    has_jpki = session.select_df(jp.JPKI_AID)
    has_residence = session.select_df(jp.RESIDENCE_DF1_AID)
    has_licence = session.select_df(jp.LICENCE_DF1_AID)
    has_myna_licence = has_jpki and session.select_df(jp.MYNA_LICENCE_AID)
    if has_residence:
        kind = ResidenceReader(transport).card_type()
        return JpDetection(kind, jp.COMBINED_CARDS["tokutei_zairyu"] if has_jpki else None)
    if has_licence:
        return JpDetection("driving_licence")
    if has_jpki:
        return JpDetection("my_number_card", jp.COMBINED_CARDS["myna_licence"] if has_myna_licence else None)
    return JpDetection("unknown")
