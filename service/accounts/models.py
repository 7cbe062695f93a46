"""ORM models of accounts, sessions, devices and integration clients."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from service.db import Base, UTCDateTime


class Account(Base):
    """A person's login: clerk (one office), officer/supervisor/auditor (one municipality) or admin."""

    __tablename__ = "account"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(20))
    municipality_code: Mapped[str | None] = mapped_column(ForeignKey("municipality.code"), index=True)
    post_office_id: Mapped[str | None] = mapped_column(ForeignKey("post_office.id"), index=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    totp_confirmed: Mapped[bool] = mapped_column(Boolean, default=False)
    totp_last_counter: Mapped[int | None] = mapped_column(Integer)
    # A replacement secret waits here until its first code confirms it; the active one keeps working meanwhile.
    totp_pending_secret: Mapped[str | None] = mapped_column(String(64))
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    # The end of the current backoff window after repeated failures (see service.login), not a lock.
    locked_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    # Keyed hashes of the client addresses this account last logged in from (never the addresses).
    trusted_sources: Mapped[list[str] | None] = mapped_column(JSON)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    # An account with evidence access made by an admin waits for a second person (service.activate_account).
    pending_activation: Mapped[bool] = mapped_column(Boolean, default=False)
    created_by: Mapped[str | None] = mapped_column(String(40))
    activated_by: Mapped[str | None] = mapped_column(String(40))
    activated_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class AccountNotice(Base):
    """A security change of an account (TOTP changed, session revoked) that its owner is shown on next login."""

    __tablename__ = "account_notice"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("account.id"), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class AuthSession(Base):
    """A login session: short-lived access token and a rotating refresh token, both stored hashed."""

    __tablename__ = "auth_session"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("account.id"), index=True)
    # Every session rotated out of one login shares its family: a reused refresh token revokes them all.
    family_id: Mapped[str] = mapped_column(String(40), index=True)
    access_hash: Mapped[str] = mapped_column(String(64), unique=True)
    access_expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    refresh_hash: Mapped[str] = mapped_column(String(64), unique=True)
    refresh_expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    # Set when a refresh replaced this session; presenting its refresh token again is then a reuse.
    rotated_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class Device(Base):
    """A clerk-agent device (counter PC) bound to one post office, authenticated by its Ed25519 key."""

    __tablename__ = "device"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    post_office_id: Mapped[str] = mapped_column(ForeignKey("post_office.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    public_key: Mapped[str] = mapped_column(String(64), unique=True)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    last_seen_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class EnrolmentCode(Base):
    """A one-time code an admin issues so a counter PC can register its public key."""

    __tablename__ = "enrolment_code"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    post_office_id: Mapped[str] = mapped_column(ForeignKey("post_office.id"))
    device_name: Mapped[str] = mapped_column(String(100))
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    created_by: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class DeviceRequestNonce(Base):
    """Nonces of signed device requests seen within the clock-skew window (replay protection)."""

    __tablename__ = "device_request_nonce"

    device_id: Mapped[str] = mapped_column(ForeignKey("device.id"), primary_key=True)
    nonce: Mapped[str] = mapped_column(String(64), primary_key=True)
    seen_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), index=True)


class IntegrationClient(Base):
    """A municipality's back-office system calling the hub with API keys."""

    __tablename__ = "integration_client"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    municipality_code: Mapped[str] = mapped_column(ForeignKey("municipality.code"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    scopes: Mapped[list[str]] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class ApiKey(Base):
    """One API key of an integration client; the secret is shown once and stored as a hash."""

    __tablename__ = "api_key"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("integration_client.id"), index=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
