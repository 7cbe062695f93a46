"""J-LIS submission adapter (交付申請書の送付とカード作成状況) and the in-repo simulator."""

from __future__ import annotations

import datetime as dt
import re
import secrets
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from service.kit import clock

_SHINSEISHO = re.compile(r"^[0-9]{23}$")
_SIM_RECEIPT = re.compile(r"^jsim-([0-9]{10,16})-[0-9a-f]{8}$")


class ProductionStatus(StrEnum):
    in_production = "in_production"
    produced = "produced"
    failed = "failed"


# The card goes to the registered address by 本人限定受取郵便 (特例型): handed over only to the holder, on ID.
MAIL_TYPE = "honnin_gentei_tokurei"
OLD_CARD_FATES = frozenset({"returned", "kept_until_delivery"})


@dataclass(frozen=True)
class JlisApplication:
    """What goes to J-LIS: references only; the photo and the sealed PIN request stay in their own stores."""

    case_id: str
    municipality_code: str
    shinseisho_id: str  # 申請書ID, 23 digits — the application's key, never the My Number
    photo_ref: str
    pin_request_ref: str
    procedure: str = "card_application"
    old_card: str | None = None  # renewals: what happens to the current card (pin_request.OldCard)
    mail_type: str = MAIL_TYPE  # the mailing instruction for the new card


class JlisError(Exception):
    """J-LIS refused or could not be reached; `retriable` says whether trying again may help."""

    def __init__(self, message: str, *, retriable: bool) -> None:
        super().__init__(message)
        self.retriable = retriable


class JlisAdapter(Protocol):
    """The J-LIS gateway as the hub sees it."""

    async def submit(self, application: JlisApplication) -> str:
        """Hand the application over; returns J-LIS's receipt id (the same one again for a re-sent application)."""
        ...

    async def production_status(self, receipt_id: str) -> ProductionStatus:
        """Where the card of a receipt stands."""
        ...


class JlisSimulator:
    """Accepts well-formed applications and reports the card produced `production_delay` after acceptance.

    Stateless across restarts: the acceptance time is inside the receipt id, so a hub restarted mid-production
    still learns of the card. Re-sending an application returns its first receipt while the process lives.
    """

    def __init__(self, production_delay: dt.timedelta) -> None:
        self._delay = production_delay
        self._receipts: dict[str, str] = {}

    async def submit(self, application: JlisApplication) -> str:
        """Validate the references and return a receipt."""
        if not _SHINSEISHO.match(application.shinseisho_id):
            raise JlisError("申請書ID must be 23 digits", retriable=False)
        if not application.photo_ref or not application.pin_request_ref:
            raise JlisError("photo and sealed PIN request references are required", retriable=False)
        if application.mail_type != MAIL_TYPE:
            raise JlisError("the card is mailed by 本人限定受取郵便 (特例型) only", retriable=False)
        if application.procedure == "card_renewal" and application.old_card not in OLD_CARD_FATES:
            raise JlisError("a renewal says what happens to the current card", retriable=False)
        if application.shinseisho_id in self._receipts:
            return self._receipts[application.shinseisho_id]
        millis = int(clock.now().timestamp() * 1000)
        receipt = f"jsim-{millis}-{secrets.token_hex(4)}"
        self._receipts[application.shinseisho_id] = receipt
        return receipt

    async def production_status(self, receipt_id: str) -> ProductionStatus:
        """Produced once the delay has passed since acceptance."""
        match = _SIM_RECEIPT.match(receipt_id)
        if match is None:
            raise JlisError("unknown receipt", retriable=False)
        accepted = dt.datetime.fromtimestamp(int(match.group(1)) / 1000, dt.UTC)
        if clock.now() >= accepted + self._delay:
            return ProductionStatus.produced
        return ProductionStatus.in_production
