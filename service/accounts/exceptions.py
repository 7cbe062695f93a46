"""Errors of the accounts domain."""

from __future__ import annotations

from service.errors import Conflict, NotFound, Unauthenticated


class InvalidCredentials(Unauthenticated):
    code = "invalid_credentials"
    title = "Username, password or one-time code is wrong"


class TotpRequired(Unauthenticated):
    code = "totp_required"
    title = "This account needs its one-time code (TOTP)"


class InvalidToken(Unauthenticated):
    code = "invalid_token"
    title = "The token is unknown, expired or revoked"


class InvalidDeviceSignature(Unauthenticated):
    code = "invalid_device_signature"
    title = "The device request signature does not verify"


class MalformedDeviceTimestamp(Unauthenticated):
    code = "device_timestamp_malformed"
    title = "X-Device-Timestamp must be Unix seconds in plain decimal (no sign, no leading zero, no spaces)"


class MalformedDeviceNonce(Unauthenticated):
    code = "device_nonce_malformed"
    title = "X-Device-Nonce must be 16–64 URL-safe characters"


class DeviceRequestReplayed(Unauthenticated):
    code = "device_request_replayed"
    title = "This device request was already made (its nonce was used)"


class DeviceRevoked(Unauthenticated):
    code = "device_revoked"
    title = "This device has been revoked"


class InvalidEnrolmentCode(Unauthenticated):
    code = "invalid_enrolment_code"
    title = "The enrolment code is unknown, used or expired"


class UsernameTaken(Conflict):
    code = "username_taken"
    title = "That username is already in use"


class DeviceKeyTaken(Conflict):
    code = "device_key_taken"
    title = "That public key is already registered"


class AccountNotPending(Conflict):
    code = "account_not_pending"
    title = "The account is not waiting for activation"


class AccountNotFound(NotFound):
    code = "account_not_found"
    title = "Account not found"


class DeviceNotFound(NotFound):
    code = "device_not_found"
    title = "Device not found"


class ClientNotFound(NotFound):
    code = "integration_client_not_found"
    title = "Integration client not found"
