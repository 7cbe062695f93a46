"""Remote card management through the counter: the card-management applet's commands and the relay contract.

The issuer's hub talks to the card's management applet over SCP03 (service/wire/scp03.py); the counter agent relays
the wrapped APDUs in `RelayTurn.commands` to the card and returns the card's answers in `RelayAnswers.responses`,
hex, in order. The agent never reads them. Names only, no I/O (docs/card-admin.md).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from pydantic import BaseModel, ConfigDict, Field

# The management applet (an issuer security domain). The AID is GlobalPlatform's default ISD AID; where J-LIS puts
# its own is not published (docs/card-admin.md §Assumptions).
ADMIN_AID: Final = bytes.fromhex("A000000151000000")
JPKI_AID: Final = bytes.fromhex("D392F000260100000001")
KENHOJO_AID: Final = bytes.fromhex("D3921000310001010408")

# Proprietary commands of the applet, CLA 80 (84 once wrapped). Every answer's data is the command's output
# length (2 bytes) then at most OUTPUT_CHUNK bytes of it; READ_OUTPUT fetches the rest from an offset (P1P2).
INS_GENERATE_PENDING = 0x46  # P1 slot: a new key pair into the pending slot; output: its SubjectPublicKeyInfo
INS_SIGN_PENDING = 0x2A  # P1 slot, data a DigestInfo: the pending key signs it; output: the signature
INS_WRITE_PENDING_CERTIFICATE = 0xD6  # P1 slot, P2 chunk index from 0: the certificate, in chunks
INS_COMMIT = 0xE8  # data: slot ‖ SHA-256(certificate) for each slot: activate all pending pairs at once
INS_AUTHORISE_PIN = 0x24  # data: the PIN's name (ASCII): one reset of that PIN by the next plain command
INS_STATUS = 0xF2  # output: JSON, the active certificates' digests and each PIN's tries
INS_READ_OUTPUT = 0xC0  # P1P2 offset into the last output
OUTPUT_CHUNK = 200
CERTIFICATE_CHUNK = 200
# The plain ISO 7816-4 RESET RETRY COUNTER with new reference data only (P1 = 02): the agent sends it with the
# PIN the applicant typed, after the hub's channel authorised exactly one such reset.
INS_RESET_RETRY_COUNTER = 0x2C


class Slot(StrEnum):
    """A key pair and its certificate on the current card (docs/card.md §1.2)."""

    auth = "auth"  # 利用者証明用: key EF 0017, certificate EF 000A
    sign = "sign"  # 署名用: key EF 001A, certificate EF 0001


SLOT_NUMBER: Final[dict[Slot, int]] = {Slot.auth: 1, Slot.sign: 2}


class PinName(StrEnum):
    """A PIN the counter may reset (初期化) or change under the issuer's authorisation."""

    auth = "auth"  # 利用者証明用暗証番号, 4 digits
    sign = "sign"  # 署名用パスワード, 6–16 of A–Z 0–9
    kenhojo = "kenhojo"  # 券面事項入力補助用暗証番号, 4 digits


@dataclass(frozen=True)
class PinTarget:
    """Where a PIN lives on the card and what it must look like."""

    aid: bytes
    key_id: int
    pattern: str
    label_ja: str
    label_en: str

    def valid(self, pin: bytes | bytearray) -> bool:
        """Whether `pin` has the form the card accepts."""
        try:
            text = bytes(pin).decode("ascii")
        except UnicodeDecodeError:
            return False
        return re.fullmatch(self.pattern, text) is not None


PIN_TARGETS: Final[dict[PinName, PinTarget]] = {
    PinName.auth: PinTarget(JPKI_AID, 0x0018, r"[0-9]{4}", "利用者証明用暗証番号", "user-authentication PIN"),
    PinName.sign: PinTarget(JPKI_AID, 0x001B, r"[A-Z0-9]{6,16}", "署名用パスワード", "signing password"),
    PinName.kenhojo: PinTarget(
        KENHOJO_AID, 0x0011, r"[0-9]{4}", "券面事項入力補助用暗証番号", "card-text PIN"
    ),
}


def reset_retry_counter(target: PinTarget, new_pin: bytes | bytearray) -> bytearray:
    """The plain command the agent sends after the authorisation; a bytearray, so the caller can wipe it."""
    return (
        bytearray((0x00, INS_RESET_RETRY_COUNTER, 0x02, 0x80 | (target.key_id & 0x1F), len(new_pin)))
        + new_pin
    )


class Operation(StrEnum):
    """What a relay run does."""

    renew_certificates = "renew_certificates"  # 電子証明書の発行・更新
    authorise_pin_reset = "authorise_pin_reset"  # 暗証番号の初期化: open the one-time authorisation
    confirm_pin_reset = "confirm_pin_reset"  # read back that the card took the new PIN


class CardState(StrEnum):
    """What the hub knows the card holds, recorded on the case at every step."""

    old = "old"  # as it was: nothing activated
    new = "new"  # the new pairs and certificates active, the old ones destroyed
    unknown = "unknown"  # the commit was sent and its answer lost: the next run's STATUS tells


class RunState(StrEnum):
    """A card-management job's progress."""

    running = "running"
    done = "done"
    refused = (
        "refused"  # the card or the hub refused a relayed exchange (tampering, wrong card): card unchanged
    )


class RelayStart(BaseModel):
    """The counter asks the hub to start (or continue, after an interruption) the case's card management."""

    model_config = ConfigDict(extra="forbid")

    operation: Operation
    pin: PinName | None = None


class RelayAnswers(BaseModel):
    """The card's answers to the previous turn's commands, in order (hex); fewer if the card stopped."""

    model_config = ConfigDict(extra="forbid")

    responses: list[str] = Field(max_length=64)


class RelayTurn(BaseModel):
    """The hub's next commands for the card (hex, opaque to the agent), or the end of the run."""

    run_id: str
    commands: list[str]
    done: bool
    outcome: str | None = None  # a stable code at the end: renewed, pin_authorised, pin_set, refused:<why>
    card_state: CardState


class CardAdminRead(BaseModel):
    """A case's card-management job as the counter and the console see it (no key, no PIN, no certificate)."""

    case_id: str
    operation: Operation
    pin: PinName | None
    state: RunState
    card_state: CardState
    outcome: str | None
    runs: int
    refusals: int
    certificates_issued: int  # by the issuer for this case, activated or not
    certificates_revoked: int  # the replaced ones, and any issued that never became active
    updated_at: dt.datetime
