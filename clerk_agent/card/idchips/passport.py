"""The passport reader: PACE or BAC from the MRZ, secure messaging, and EF.COM, DG1, DG2, EF.SOD read as they are
(ICAO Doc 9303 part 10 §3 for the files, part 11 §4.4 for PACE, §4.3 for BAC, §9.8 for secure messaging).

The access key comes from three MRZ fields (document number, birth date, expiry) typed by the clerk or read from
the data page; it and the session keys never leave this module. A chip whose EF.CardAccess offers a PACE this reader
speaks (clerk_agent/card/idchips/pace.py) gets PACE, as 9303 asks; any other chip, or a PACE run that fails for a
reason other than the key, gets BAC (docs/id-documents.md §Passport).
"""

from __future__ import annotations

import hmac
import re
import secrets
from dataclasses import dataclass

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from clerk_agent.card.apdu import SW, Command, parse_response, read_binary, select_df
from clerk_agent.card.idchips import pace
from clerk_agent.card.idchips.base import ChipAccessDenied, ChipRead, NotThisDocument, read_tlv_file, wipe
from clerk_agent.card.idchips.sm import (
    ENC,
    MAC,
    AesSecureMessaging,
    SecureMessaging,
    SecureMessagingError,
    decrypt,
    derive_key,
    encrypt,
    key_seed,
    mrz_information,
    retail_mac,
)
from clerk_agent.card.transport import Transport
from clerk_agent.errors import ApduFailed, CardDataMalformed
from service.wire.idchips import ChipKind

LDS_AID = bytes.fromhex("A0000002471001")  # the eMRTD LDS1 application
# Elementary files of the LDS1 application by file identifier (9303 part 10 §3.6, §3.11).
FILES = {"COM": 0x011E, "DG1": 0x0101, "DG2": 0x0102, "SOD": 0x011D}
# 223 data bytes pad to 224; with its DO87/DO99/DO8E wrapping the answer still fits a short response.
READ_CHUNK = 0xDF
INS_GET_CHALLENGE, INS_EXTERNAL_AUTHENTICATE = 0x84, 0x82
INS_MSE, INS_GENERAL_AUTHENTICATE = 0x22, 0x86
CARD_ACCESS_SFI = 0x1C  # EF.CardAccess in the MF (9303 part 10 §3.11.3)
SW_AUTH_FAILED = 0x6300
_FIELD = re.compile(r"^[0-9A-Z<]{1,9}$")
_DATE = re.compile(r"^\d{6}$")


@dataclass(frozen=True)
class MrzAccess:
    """The MRZ fields BAC needs: document number (up to 9), birth and expiry dates as YYMMDD."""

    document_number: str
    birth: str
    expiry: str

    def __post_init__(self) -> None:
        if not _FIELD.match(self.document_number.upper()) or not (
            _DATE.match(self.birth) and _DATE.match(self.expiry)
        ):
            raise ValueError("document number (A-Z, 0-9, up to 9) and YYMMDD dates expected")

    def __repr__(self) -> str:
        return "MrzAccess(<redacted>)"  # access data never reaches a log line

    def seed(self) -> bytearray:
        """K_seed, in a buffer the caller wipes."""
        return bytearray(key_seed(mrz_information(self.document_number, self.birth, self.expiry)))

    def pace_key(self) -> bytearray:
        """K_π for PACE with the MRZ as password, in a buffer the caller wipes."""
        return pace.password_key(mrz_information(self.document_number, self.birth, self.expiry))


class PassportReader:
    """Reads one passport's chip over a Transport (PC/SC contactless reader or the virtual passport)."""

    kind = ChipKind.passport

    def __init__(self, transport: Transport, access: MrzAccess) -> None:
        self.transport = transport
        self._access = access
        self.apdu_count = 0
        self.protocol = "BAC"  # or "PACE", once read() has run

    def _send(self, raw: bytes) -> bytes:
        self.apdu_count += 1
        return self.transport.transmit(raw)

    def read(self) -> ChipRead:
        """Authenticate (PACE when offered, else BAC) and read EF.COM, DG1, DG2 and EF.SOD of the LDS application."""
        session = self._try_pace()
        if session is None:
            selected = parse_response(self._send(select_df(LDS_AID).encode()))
            if selected.sw != SW.OK:
                raise NotThisDocument(f"no eMRTD application (SW {selected.sw:04X})")
            session = self._bac()
        read = ChipRead(ChipKind.passport)
        for name, fid in FILES.items():
            read.objects[name] = self._read_file(session, fid)
        read.apdu_count = self.apdu_count
        return read

    def _try_pace(self) -> SecureMessaging | None:
        """PACE when EF.CardAccess offers one we speak, then the LDS application selected under it; else None."""
        answer = parse_response(self._send(Command(0x00, 0xB0, 0x80 | CARD_ACCESS_SFI, 0, le=256).encode()))
        if answer.sw != SW.OK:
            return None  # no EF.CardAccess: a BAC-only passport
        try:
            offered = [info for info in pace.parse_card_access(answer.data) if info.supported]
        except pace.PaceError:
            return None
        if not offered:
            return None
        try:
            session = self._pace(offered[0])
            # After PACE the application is selected under secure messaging (9303 part 11 §4.4).
            self._exchange(session, Command(0x00, 0xA4, 0x04, 0x0C, LDS_AID))
        except (pace.PaceError, ApduFailed, CardDataMalformed):
            return None  # a PACE we could not complete: BAC, which such chips still answer as a rule
        self.protocol = "PACE"
        return session

    def _general_authenticate(self, tag: int, value: bytes, *, last: bool = False) -> bytes:
        data = pace.dynamic_data(tag, value) if value else pace.dynamic_data()
        command = Command(0x00 if last else 0x10, INS_GENERAL_AUTHENTICATE, 0, 0, data, le=256)
        answer = parse_response(self._send(command.encode()))
        if answer.sw == SW_AUTH_FAILED or (last and answer.sw in (0x6982, 0x6A80)):
            raise ChipAccessDenied(f"the chip refused the MRZ access key (SW {answer.sw:04X})")
        if answer.sw != SW.OK:
            raise ApduFailed(answer.sw, "GENERAL AUTHENTICATE")
        return answer.data

    def _pace(self, info: pace.PaceInfo) -> SecureMessaging:
        """PACE-ECDH-GM with the MRZ (9303 part 11 §4.4.3); a wrong key fails the tokens and raises access denied."""
        assert info.parameter_id is not None  # noqa: S101 -- `supported` checked it
        curve = pace.CURVES[info.parameter_id]
        template = (
            pace.tlv(0x80, info.protocol)
            + pace.tlv(0x83, bytes([pace.PASSWORD_MRZ]))
            + pace.tlv(0x84, bytes([info.parameter_id]))
        )
        answer = parse_response(self._send(Command(0x00, INS_MSE, 0xC1, 0xA4, template).encode()))
        if answer.sw != SW.OK:
            raise pace.PaceError(f"MSE:Set AT refused (SW {answer.sw:04X})")
        k_pi = self._access.pace_key()
        try:
            encrypted = pace.read_dynamic_data(self._general_authenticate(0x80, b""), 0x80)
            if len(encrypted) != 16:
                raise pace.PaceError("the encrypted nonce is not one AES block")
            decryptor = Cipher(algorithms.AES(bytes(k_pi)), modes.CBC(bytes(16))).decryptor()
            nonce = bytearray(decryptor.update(encrypted) + decryptor.finalize())
        finally:
            wipe(k_pi)
        try:
            map_private = pace.private_scalar(curve)
            map_public = pace.encode_point(curve.generator * map_private)
            chip_map = pace.point_from(
                curve, pace.read_dynamic_data(self._general_authenticate(0x81, map_public), 0x82)
            )
            generator = pace.mapped_generator(curve, bytes(nonce), map_private, chip_map)
        finally:
            wipe(nonce)
        private = pace.private_scalar(curve)
        public = pace.encode_point(generator * private)
        chip_public_bytes = pace.read_dynamic_data(self._general_authenticate(0x83, public), 0x84)
        if hmac.compare_digest(chip_public_bytes, public):
            raise pace.PaceError("the chip echoed our key")
        chip_public = pace.point_from(curve, chip_public_bytes)
        shared = bytearray(pace.shared_secret(curve, private, chip_public))
        ks_enc, ks_mac = pace.kdf(bytes(shared), pace.ENC), pace.kdf(bytes(shared), pace.MAC)
        wipe(shared)
        ours = pace.token(ks_mac, info.protocol, chip_public_bytes)
        theirs = pace.read_dynamic_data(self._general_authenticate(0x85, ours, last=True), 0x86)
        if not hmac.compare_digest(theirs, pace.token(ks_mac, info.protocol, public)):
            raise ChipAccessDenied("the chip's PACE token does not verify under the MRZ access key")
        return AesSecureMessaging(ks_enc, ks_mac, 0)

    def _bac(self) -> SecureMessaging:
        """Basic Access Control (9303 part 11 §4.3.3): mutual authentication and session keys."""
        seed = self._access.seed()
        k_enc, k_mac = bytearray(derive_key(bytes(seed), ENC)), bytearray(derive_key(bytes(seed), MAC))
        wipe(seed)
        try:
            challenge = parse_response(self._send(Command(0x00, INS_GET_CHALLENGE, 0, 0, le=8).encode()))
            if challenge.sw != SW.OK or len(challenge.data) != 8:
                raise ApduFailed(challenge.sw, "GET CHALLENGE")
            rnd_ic, rnd_ifd, k_ifd = challenge.data, secrets.token_bytes(8), secrets.token_bytes(16)
            cryptogram = encrypt(bytes(k_enc), rnd_ifd + rnd_ic + k_ifd)
            answer = parse_response(
                self._send(
                    Command(
                        0x00,
                        INS_EXTERNAL_AUTHENTICATE,
                        0,
                        0,
                        cryptogram + retail_mac(bytes(k_mac), cryptogram),
                        le=0x28,
                    ).encode()
                )
            )
            # A wrong key shows as a refused authentication (6300 per 9303; some chips answer 6982 or 6A80).
            if answer.sw != SW.OK:
                raise ChipAccessDenied(f"the chip refused the MRZ access key (SW {answer.sw:04X})")
            if len(answer.data) != 40 or not hmac.compare_digest(
                retail_mac(bytes(k_mac), answer.data[:32]), answer.data[32:]
            ):
                raise ChipAccessDenied("the chip's answer does not verify under the MRZ access key")
            plain = decrypt(bytes(k_enc), answer.data[:32])
            if plain[:8] != rnd_ic or plain[8:16] != rnd_ifd:
                raise ChipAccessDenied("the chip's answer does not carry our challenge")
            return SecureMessaging.from_bac(k_ifd, plain[16:32], rnd_ic, rnd_ifd)
        finally:
            wipe(k_enc)
            wipe(k_mac)

    def _exchange(self, session: SecureMessaging, command: Command) -> bytes:
        header = bytes((command.cla, command.ins, command.p1, command.p2))
        raw = self._send(session.protect(header, command.data, command.le))
        try:
            plain = parse_response(session.unprotect_response(raw))
        except SecureMessagingError as exc:
            raise CardDataMalformed(f"secure messaging failed: {exc}") from exc
        if plain.sw != SW.OK:
            raise ApduFailed(plain.sw, f"{command.ins:02X} under secure messaging")
        return plain.data

    def _read_file(self, session: SecureMessaging, fid: int) -> bytes:
        self._exchange(session, Command(0x00, 0xA4, 0x02, 0x0C, fid.to_bytes(2, "big")))
        return read_tlv_file(
            lambda offset, size: self._exchange(session, read_binary(offset, size)), chunk=READ_CHUNK
        )
