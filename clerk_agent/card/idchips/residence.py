"""Reads the residence card (在留カード) and the special permanent resident certificate (特別永住者証明書), 在留カード等
仕様書 Ver 1.5 (docs/id-documents.md §Japanese).

The access key is the 12-character card number printed on the card: the clerk types it (or the counter camera's
OCR fills it in) and it reaches this module as a bytearray. It keys the mutual authentication and is presented once
more, encrypted, in the secure-messaging VERIFY; then it is wiped. It is never logged and never sent to the hub;
the hub identifies the document by the signed card-face image and photo. A wrong number fails the mutual
authentication (6300) and reads nothing; the card keeps no try counter for it.
"""

from __future__ import annotations

import os

from clerk_agent.card import apdu
from clerk_agent.card.apdu import SW, Command
from clerk_agent.card.idchips import jp_sm
from clerk_agent.card.idchips.base import ChipAccessDenied, ChipRead, NotThisDocument
from clerk_agent.card.idchips.jp_common import CHUNK, MAX_FILE, JpChipSession, expect, trim_tlvs, wipe
from clerk_agent.card.transport import Transport
from clerk_agent.errors import ApduFailed, CardDataMalformed, InvalidPinFormat
from service.wire import idchips_jp as jp
from service.wire.idchips import ChipKind


class NotAResidenceCard(NotThisDocument):
    """The card has no residence-card DF1."""


class AccessKeyRejected(ChipAccessDenied):
    """The card refused the card number (mutual authentication or VERIFY failed): a mistyped or wrong number."""


def _card_number_ok(number: bytearray) -> bool:
    return len(number) == jp.RESIDENCE_CARD_NUMBER_LENGTH and all(
        0x30 <= b <= 0x39 or 0x41 <= b <= 0x5A for b in number
    )


class ResidenceReader:
    """One residence card in one reader. Blocking: call from a worker thread."""

    def __init__(self, transport: Transport) -> None:
        self.session = JpChipSession(transport)
        self._session_key: bytes | None = None

    def card_type(self) -> str:
        """MF/EF02 カード種別 as a ChipKind value (residence_card or special_permanent_resident); free to read."""
        if not self.session.select_df(jp.RESIDENCE_DF1_AID):
            raise NotAResidenceCard("no residence card DF1 on this card")
        self.session.select_mf()
        raw = self.session.read_file(apdu.read_binary_sfi(jp.RESIDENCE_SFI_CARD_TYPE, 0, CHUNK), "MF/EF02")
        (entry,) = apdu.iter_tlvs(raw)[:1]
        kind = jp.RESIDENCE_CARD_TYPES.get(entry.value.decode("ascii", "replace"))
        if entry.tag != jp.RESIDENCE_TAG_CARD_TYPE or kind is None:
            raise CardDataMalformed("MF/EF02 カード種別 is not 1 or 2")
        return kind

    def open(self, card_number: bytearray) -> None:
        """Mutual authentication and the SM VERIFY with the card number; wipes `card_number`."""
        try:
            if not _card_number_ok(card_number):
                raise InvalidPinFormat("the card number is 12 letters and digits")
            self.session.select_mf()
            key = jp_sm.access_key(card_number)
            rnd_icc = expect(self.session.send(Command(0x00, 0x84, 0x00, 0x00, le=8)), "GET CHALLENGE")
            rnd_ifd, k_ifd = os.urandom(8), os.urandom(16)
            e_ifd = jp_sm.encrypt(key, rnd_ifd + rnd_icc + k_ifd)
            rsp = self.session.send(
                Command(0x00, 0x82, 0x00, 0x00, e_ifd + jp_sm.retail_mac(key, e_ifd), le=40)
            )
            if rsp.sw == 0x6300 or (rsp.sw & 0xFFF0) == 0x63C0:
                raise AccessKeyRejected("the card did not accept the card number")
            answer = expect(rsp, "MUTUAL AUTHENTICATE")
            if len(answer) != 40 or jp_sm.retail_mac(key, answer[:32]) != answer[32:]:
                raise AccessKeyRejected(
                    "the card's answer does not authenticate: not this card number's card"
                )
            plain = jp_sm.decrypt(key, answer[:32])
            if plain[:8] != rnd_icc or plain[8:16] != rnd_ifd:
                raise AccessKeyRejected("the card's answer does not match our challenge")
            self._session_key = jp_sm.session_key(k_ifd, plain[16:])
            cryptogram = apdu.encode_tlv(
                jp.SM_TAG_CRYPTOGRAM, jp_sm.sm_wrap(self._session_key, bytes(card_number))
            )
            rsp = self.session.send(Command(jp.SM_CLA, apdu.INS_VERIFY, 0x00, jp.SM_VERIFY_P2, cryptogram))
            if rsp.sw != SW.OK:
                raise AccessKeyRejected(f"VERIFY of the card number answered {rsp.sw:04X}")
        finally:
            wipe(card_number)

    def _sm_read(self, sfi: int, what: str) -> bytes:
        if self._session_key is None:
            raise ApduFailed(SW.SECURITY_NOT_SATISFIED, f"{what} before the card number was verified")
        data = bytearray()
        while True:
            if len(data) >= MAX_FILE:
                raise CardDataMalformed(f"{what} is larger than any file of this document")
            p1, p2 = (0x80 | sfi, 0) if not data else (len(data) >> 8, len(data) & 0xFF)
            le_object = apdu.encode_tlv(jp.SM_TAG_LE, (0x0800).to_bytes(2, "big"))
            rsp = self.session.send(Command(jp.SM_CLA, apdu.INS_READ_BINARY, p1, p2, le_object, le=65536))
            if data and rsp.sw in (SW.WRONG_OFFSET, SW.END_OF_FILE):
                break
            body = expect(rsp, f"SM READ BINARY {what}")
            try:
                (cryptogram,) = apdu.iter_tlvs(body)
                chunk = jp_sm.sm_unwrap(self._session_key, cryptogram.value)
            except ValueError as exc:
                raise CardDataMalformed(f"{what}: secure messaging answer does not decrypt") from exc
            data += chunk
            if len(chunk) < 0x0800:
                break
        return trim_tlvs(bytes(data), what)

    def read(self, card_number: bytearray) -> ChipRead:
        """The kind (by カード種別) and RESIDENCE_OBJECTS, after opening the card with `card_number` (wiped)."""
        try:
            kind = self.card_type()
        except BaseException:
            wipe(card_number)
            raise
        self.open(card_number)
        objects = {
            "mf_ef01": self.session.read_file(
                apdu.read_binary_sfi(jp.RESIDENCE_SFI_COMMON, 0, CHUNK), "MF/EF01"
            ),
            "mf_ef02": self.session.read_file(
                apdu.read_binary_sfi(jp.RESIDENCE_SFI_CARD_TYPE, 0, CHUNK), "MF/EF02"
            ),
        }
        for aid, sfi, name in (
            (jp.RESIDENCE_DF1_AID, jp.RESIDENCE_SFI_CARD_FACE, "df1_ef01"),
            (jp.RESIDENCE_DF1_AID, jp.RESIDENCE_SFI_PHOTO, "df1_ef02"),
            (jp.RESIDENCE_DF2_AID, jp.RESIDENCE_SFI_ADDRESS, "df2_ef01"),
            (jp.RESIDENCE_DF3_AID, jp.RESIDENCE_SFI_SIGNATURE, "df3_ef01"),
        ):
            self.session.select_df(aid)
            objects[name] = self._sm_read(sfi, name)
        return ChipRead(ChipKind(kind), objects, self.session.apdu_count)
