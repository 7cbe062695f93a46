"""ORM model of a case's card-management job: its progress and what the card holds, never a key or a PIN."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, ForeignKey, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from service.db import Base, UTCDateTime


class CardAdminJob(Base):
    """One case's remote card management (電子証明書の発行・更新 or 暗証番号の初期化), across relayed runs.

    `card_state` is what the hub knows the card holds (old, new, or unknown while a COMMIT's answer is out), so a
    retry after a killed agent, or on another hub replica, continues from there. The run's channel state (session
    keys, MAC chain) is sealed with the hub's key-encryption key; certificate serials are sealed too, digests are plain.
    """

    __tablename__ = "card_admin_job"

    case_id: Mapped[str] = mapped_column(ForeignKey("counter_case.id"), primary_key=True)
    municipality_code: Mapped[str] = mapped_column(ForeignKey("municipality.code"), index=True)
    post_office_id: Mapped[str] = mapped_column(ForeignKey("post_office.id"))
    operation: Mapped[str] = mapped_column(String(32))
    pin: Mapped[str | None] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16))
    card_state: Mapped[str] = mapped_column(String(16))
    outcome: Mapped[str | None] = mapped_column(String(48))
    run_id: Mapped[str | None] = mapped_column(String(40))
    runs: Mapped[int] = mapped_column(Integer)
    refusals: Mapped[int] = mapped_column(Integer)
    # SHA-256 of the certificates sent to the card (hashes only, like the case's card binding).
    new_digests: Mapped[list[str]] = mapped_column(JSON)
    # The serials (the card held before, issued for it, revoked at the issuer) link to a person (docs/card.md §1.2):
    # kept sealed like the channel, as JSON, and counted in the clear.
    serials_kek_id: Mapped[str | None] = mapped_column(String(40))
    serials_wrapped_key: Mapped[bytes | None] = mapped_column(LargeBinary)
    serials_ciphertext: Mapped[bytes | None] = mapped_column(LargeBinary)
    issued: Mapped[int] = mapped_column(Integer)
    revoked: Mapped[int] = mapped_column(Integer)
    pin_changes: Mapped[int | None] = mapped_column(Integer)
    # The current run's driver state (service/cardadmin/driver.py), sealed (service/kit/envelope.py).
    channel_kek_id: Mapped[str | None] = mapped_column(String(40))
    channel_wrapped_key: Mapped[bytes | None] = mapped_column(LargeBinary)
    channel_ciphertext: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    version: Mapped[int] = mapped_column(Integer)

    # Two relays answering the same turn at once: one wins, the other gets 409 (optimistic concurrency).
    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012
