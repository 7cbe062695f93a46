"""ORM models of the officer's review of a case."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from service.db import Base, UTCDateTime


class CaseReview(Base):
    """The officer's checklist and the video's continuity for one case (codes and booleans only)."""

    __tablename__ = "case_review"

    case_id: Mapped[str] = mapped_column(ForeignKey("counter_case.id"), primary_key=True)
    checklist: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    video_live: Mapped[bool] = mapped_column(Boolean, default=False)
    # Since when the video has been live without a break; evidence taken before it does not count.
    continuity_since: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    drops: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class LivenessChallenge(Base):
    """A random phrase and gesture the officer asks for (against replayed or synthetic video), and its result."""

    __tablename__ = "liveness_challenge"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("counter_case.id"), index=True)
    officer_id: Mapped[str] = mapped_column(ForeignKey("account.id"))
    code: Mapped[str] = mapped_column(String(8))
    gesture: Mapped[str] = mapped_column(String(40))
    passed: Mapped[bool | None] = mapped_column(Boolean)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    answered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
