"""Request and response models of accounts, sessions, devices and integration clients."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field

from service.accounts.roles import Role, Scope

USERNAME_PATTERN = r"^[a-z0-9][a-z0-9._-]{2,63}$"


class LoginRequest(BaseModel):
    username: str = Field(max_length=64)
    password: str = Field(max_length=200)
    totp: str | None = Field(default=None, pattern=r"^[0-9]{6}$")


class TokenPair(BaseModel):
    access_token: str
    refresh_token: str
    token_type: str = "bearer"  # noqa: S105  (the OAuth token type, not a secret)
    expires_in: int
    account_id: str
    role: Role
    municipality_code: str | None
    post_office_id: str | None


class RefreshRequest(BaseModel):
    refresh_token: str = Field(max_length=200)


class AccountCreate(BaseModel):
    username: str = Field(pattern=USERNAME_PATTERN)
    display_name: str = Field(min_length=1, max_length=100)
    role: Role
    password: str = Field(min_length=12, max_length=200)
    municipality_code: str | None = Field(default=None, pattern=r"^[0-9]{6}$")
    post_office_id: str | None = Field(default=None, max_length=40)


class AccountRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    username: str
    display_name: str
    role: Role
    municipality_code: str | None
    post_office_id: str | None
    totp_confirmed: bool
    disabled: bool
    pending_activation: bool = Field(
        description="Made by an admin with evidence access: waits for a supervisor or auditor to activate it"
    )
    activated_at: dt.datetime | None
    created_at: dt.datetime


class MeRead(BaseModel):
    kind: str
    id: str
    role: str | None
    municipality_code: str | None
    post_office_id: str | None
    scopes: list[Scope]


class Reauthentication(BaseModel):
    """The account's password, and its current one-time code while TOTP is on."""

    password: str = Field(max_length=200)
    totp: str | None = Field(default=None, pattern=r"^[0-9]{6}$")


class TotpSetup(BaseModel):
    secret: str
    otpauth_uri: str
    notice: str = Field(
        description="Also listed at GET /api/v1/auth/notices: the secret is pending until confirmed"
    )


class TotpConfirm(BaseModel):
    totp: str = Field(pattern=r"^[0-9]{6}$")


class TotpChanged(BaseModel):
    totp_enabled: bool
    notice: str = Field(description="What changed (totp_enabled, totp_replaced, totp_disabled)")


class NoticeRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    kind: str
    created_at: dt.datetime


class EnrolmentCodeCreate(BaseModel):
    post_office_id: str = Field(max_length=40)
    device_name: str = Field(min_length=1, max_length=100)


class EnrolmentCodeIssued(BaseModel):
    code: str = Field(description="Shown once; give it to the counter PC's installer.")
    post_office_id: str
    device_name: str
    expires_at: dt.datetime


class DeviceEnrol(BaseModel):
    code: str = Field(min_length=8, max_length=100)
    public_key: str = Field(
        min_length=43, max_length=43, description="Raw Ed25519 public key, base64url, no padding"
    )


class DeviceRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    post_office_id: str
    name: str
    revoked_at: dt.datetime | None
    last_seen_at: dt.datetime | None
    created_at: dt.datetime


class IntegrationClientCreate(BaseModel):
    municipality_code: str = Field(pattern=r"^[0-9]{6}$")
    name: str = Field(min_length=1, max_length=100)
    scopes: list[Scope] = Field(min_length=1)
    key_ttl_days: int | None = Field(default=365, ge=1, le=3650)


class IntegrationClientRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    municipality_code: str
    name: str
    scopes: list[Scope]
    created_at: dt.datetime


class ApiKeyIssued(BaseModel):
    client: IntegrationClientRead
    key_id: str
    api_key: str = Field(description="Shown once. Send as `Authorization: ApiKey <key>`.")
    expires_at: dt.datetime | None


class ApiKeyRotate(BaseModel):
    key_ttl_days: int | None = Field(default=365, ge=1, le=3650)
    grace_seconds: int = Field(
        default=3600, ge=0, le=30 * 86400, description="How long the old keys keep working"
    )
