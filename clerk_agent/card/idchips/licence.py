"""Reads the IC driving licence (IC運転免許証, 仕様書バージョン番号 008; docs/id-documents.md §Japanese).

The holder chose two 4-digit PINs when the licence was issued. 暗証番号1 opens DF1 (記載事項 and 電子署名),
both open DF2 (写真). The applicant types them on their own screen at the counter; they reach this module as
bytearrays, go to the card in one VERIFY each and are wiped at once: they never leave the counter, are never
logged and never sent to the hub. Tries are read first without spending one (VERIFY without data), so the screen
can show them; three wrong tries block a PIN until the police reset it. Reads 本籍 (DF1/EF02) never: the officer
does not need it.
"""

from __future__ import annotations

from dataclasses import dataclass

from clerk_agent.card import apdu
from clerk_agent.card.apdu import SW, Command
from clerk_agent.card.idchips.base import ChipRead, NotThisDocument
from clerk_agent.card.idchips.jp_common import JpChipSession, wipe
from clerk_agent.card.transport import Transport
from clerk_agent.errors import (
    ApduFailed,
    InvalidPinFormat,
    LastTryConfirmationRequired,
    PinBlocked,
    PinIncorrect,
)
from service.wire import idchips_jp as jp
from service.wire.idchips import ChipKind


class NotALicence(NotThisDocument):
    """The card has no licence DF1: not an IC driving licence."""


class LicencePinIncorrect(PinIncorrect):
    """暗証番号1 or 2 (`which`) was wrong; `retries_left` tries remain for that PIN."""

    code = "licence_pin_incorrect"

    def __init__(self, which: int, retries_left: int) -> None:
        super().__init__(retries_left)
        self.which = which


@dataclass(frozen=True)
class LicencePinStatus:
    """What the applicant's screen shows before asking: whether PINs were set, and the tries left of each."""

    pins_set: bool
    pin1_tries: int | None
    pin2_tries: int | None

    @property
    def blocked(self) -> bool:
        """Whether either PIN is blocked (the photo needs both)."""
        return self.pin1_tries == 0 or self.pin2_tries == 0


class LicenceReader:
    """One licence in one reader. Methods are blocking: call them from a worker thread."""

    def __init__(self, transport: Transport) -> None:
        self.session = JpChipSession(transport)

    def detect(self) -> None:
        """NotALicence unless the card has the licence DF1."""
        if not self.session.select_df(jp.LICENCE_DF1_AID):
            raise NotALicence("no IC driving licence DF1 on this card")

    def pin_status(self) -> LicencePinStatus:
        """MF/EF02 暗証番号設定 and the tries left of both PINs, spending none."""
        self.session.select_mf()
        apdu.expect_ok(self.session.send(apdu.select_ef(jp.LICENCE_MF_EF_PIN_SETTING)), "SELECT MF/EF02")
        setting = self.session.read_file(apdu.read_binary(0, 0x10), "MF/EF02")
        (entry,) = apdu.iter_tlvs(setting)[:1]
        pins_set = entry.tag == jp.LICENCE_TAG_PIN_SETTING and entry.value[:1] == b"\x01"
        return LicencePinStatus(pins_set, self._tries(jp.LICENCE_PIN1_P2), self._tries(jp.LICENCE_PIN2_P2))

    def _tries(self, p2: int) -> int | None:
        rsp = self.session.send(apdu.verify_query(p2))
        retries = apdu.retries_from_sw(rsp.sw)
        if retries is not None:
            return retries
        if rsp.sw in (SW.AUTH_METHOD_BLOCKED, SW.REFERENCE_DATA_BLOCKED):
            return 0
        if rsp.ok:
            return None  # already verified in this session
        raise ApduFailed(rsp.sw, f"VERIFY (tries) {p2:02X}")

    def _verify(self, which: int, p2: int, pin: bytearray) -> None:
        buffer = bytearray((0x00, apdu.INS_VERIFY, 0x00, p2, len(pin)))
        try:
            buffer += pin
            sw = self.session.send(buffer).sw
        finally:
            wipe(buffer)
            wipe(pin)
        if sw == SW.OK:
            return
        retries = apdu.retries_from_sw(sw)
        if retries == 0 or sw in (SW.AUTH_METHOD_BLOCKED, SW.REFERENCE_DATA_BLOCKED):
            raise PinBlocked(f"licence PIN {which} is blocked; the police can reset it")
        if retries is not None:
            raise LicencePinIncorrect(which, retries)
        raise ApduFailed(sw, f"VERIFY licence PIN {which}")

    def read(self, pin1: bytearray, pin2: bytearray, *, confirm_last_try: bool = False) -> ChipRead:
        """VERIFY both PINs, then read the objects the hub verifies (service/wire/idchips_jp.py LICENCE_OBJECTS).

        Both PIN buffers are wiped before this returns or raises. Refuses the last try of a PIN unless confirmed,
        and checks the format first, so a mistyped PIN costs no try.
        """
        try:
            for which, pin in ((1, pin1), (2, pin2)):
                if len(pin) != jp.LICENCE_PIN_LENGTH or not all(0x30 <= b <= 0x39 or b == 0x2A for b in pin):
                    raise InvalidPinFormat(f"licence PIN {which} must be {jp.LICENCE_PIN_LENGTH} digits")
            self.detect()
            status = self.pin_status()
            if status.blocked:
                raise PinBlocked("a licence PIN is blocked; the police can reset it")
            if 1 in (status.pin1_tries, status.pin2_tries) and not confirm_last_try:
                raise LastTryConfirmationRequired()
            self._verify(1, jp.LICENCE_PIN1_P2, pin1)
            self._verify(2, jp.LICENCE_PIN2_P2, pin2)
        finally:
            wipe(pin1)
            wipe(pin2)
        return ChipRead(ChipKind.driving_licence, self._read_objects(), self.session.apdu_count)

    def _read_ef(self, fid: int, what: str) -> bytes:
        apdu.expect_ok(self.session.send(apdu.select_ef(fid)), f"SELECT {what}")
        return self.session.read_file(Command(0x00, apdu.INS_READ_BINARY, 0, 0, le=0xE0), what)

    def _read_objects(self) -> dict[str, bytes]:
        self.session.select_mf()
        objects = {"mf_ef01": self._read_ef(jp.LICENCE_MF_EF_COMMON, "MF/EF01")}
        self.session.select_df(jp.LICENCE_DF1_AID)
        objects["df1_ef01"] = self._read_ef(jp.LICENCE_EF_MATTERS, "DF1/EF01")
        objects["df1_ef07"] = self._read_ef(jp.LICENCE_EF_SIGNATURE, "DF1/EF07")
        self.session.select_df(jp.LICENCE_DF2_AID)
        objects["df2_ef01"] = self._read_ef(jp.LICENCE_EF_PHOTO, "DF2/EF01")
        return objects
