"""ORM models of tenancy."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Date, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from service.db import Base, UTCDateTime


class Municipality(Base):
    """A municipality (市区町村), keyed by its 全国地方公共団体コード."""

    __tablename__ = "municipality"

    code: Mapped[str] = mapped_column(String(6), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    # Municipal policy: accepted ID combinations, face-auth card allowed, mail type (docs/domain.md §B2).
    policy: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class PostOffice(Base):
    """A post office (郵便局) that may be designated by one or more municipalities."""

    __tablename__ = "post_office"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    office_code: Mapped[str] = mapped_column(String(5), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    address: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class Designation(Base):
    """A municipality's designation of a post office (指定): procedures, validity period, hours, legal basis."""

    __tablename__ = "designation"
    __table_args__ = (UniqueConstraint("municipality_code", "post_office_id", "valid_from"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    municipality_code: Mapped[str] = mapped_column(ForeignKey("municipality.code"), index=True)
    post_office_id: Mapped[str] = mapped_column(ForeignKey("post_office.id"), index=True)
    procedures: Mapped[list[str]] = mapped_column(JSON)
    valid_from: Mapped[dt.date] = mapped_column(Date)
    valid_until: Mapped[dt.date] = mapped_column(Date)
    council_resolution_ref: Mapped[str] = mapped_column(String(200))
    contract_id: Mapped[str] = mapped_column(String(100))
    # {"mon": [["09:00", "17:00"]], ...} in the hub's time zone; a missing day means closed.
    opening_hours: Mapped[dict[str, list[list[str]]]] = mapped_column(JSON)
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
