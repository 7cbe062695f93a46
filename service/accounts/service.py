"""Rules of accounts, one module per kind of principal: people.py (creation, second-person activation),
devices.py (enrolment and signed requests) and clients.py (integration clients and their API keys).

Logins and sessions are in sessions.py, TOTP changes in totp.py. This module keeps the names its callers use.
"""

from __future__ import annotations

from service.accounts.clients import authenticate_api_key, create_client, rotate_key
from service.accounts.devices import authenticate_device, enrol_device, issue_enrolment_code, revoke_device
from service.accounts.people import (
    ACTIVATOR_ROLES,
    EVIDENCE_ROLES,
    activate_account,
    create_account,
    needs_second_person,
    pending_accounts,
    principal_of_account,
)

__all__ = [
    "ACTIVATOR_ROLES",
    "EVIDENCE_ROLES",
    "activate_account",
    "authenticate_api_key",
    "authenticate_device",
    "create_account",
    "create_client",
    "enrol_device",
    "issue_enrolment_code",
    "needs_second_person",
    "pending_accounts",
    "principal_of_account",
    "revoke_device",
    "rotate_key",
]
