"""Per-call connection metrics (接続計測), recorded by a peer and kept on the case as evidence."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field

CandidateType = Literal["host", "srflx", "prflx", "relay"]
Millis = Annotated[float, Field(ge=0, le=3_600_000)]


def _this_millennium(value: dt.datetime) -> dt.datetime:
    # Year 1 at +09:00 or 9999 at -09:00 cannot be moved to UTC for storage; no call started then anyway.
    if not 2000 <= value.year <= 2999:
        raise ValueError("must fall in the years 2000–2999")
    return value


# Strength order for the pair summary: a pair is only as direct as its least direct end.
_RANK: dict[str, int] = {"host": 0, "prflx": 1, "srflx": 2, "relay": 3}


class ConnectionMetrics(BaseModel):
    """Milestones of one call, each in milliseconds from the moment the offer was handed to signaling.

    A milestone that was never reached is None (a failed call still records how far it got).
    """

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)

    started_at: Annotated[AwareDatetime, AfterValidator(_this_millennium)]
    role: Literal["offerer", "answerer"]
    signaling_ms: Millis | None = None
    """Offer handed over → remote description applied (answer received, or offer received and answered)."""
    ice_ms: Millis | None = None
    """→ ICE connectivity checks completed (a nominated pair)."""
    dtls_ms: Millis | None = None
    """→ DTLS handshake done: the peer connection is `connected`."""
    first_frame_ms: Millis | None = None
    """→ first decoded remote video frame on this side (None on a side that receives no video)."""
    first_audio_ms: Millis | None = None
    """→ first decoded remote audio frame on this side (the officer's voice, at the counter)."""
    local_candidate: CandidateType | None = None
    remote_candidate: CandidateType | None = None

    @property
    def candidate_pair(self) -> CandidateType | None:
        """The selected pair summarised as its least direct end: relay if either end is relayed."""
        if self.local_candidate is None or self.remote_candidate is None:
            return None
        return max(self.local_candidate, self.remote_candidate, key=_RANK.__getitem__)

    @property
    def connected(self) -> bool:
        """Whether the call got as far as a secured connection."""
        return self.dtls_ms is not None
