"""The virtual passport: an eMRTD chip answering PACE or BAC and secure messaging, served through vpcd like the
virtual My Number Card (clerk_agent/card/virtual/vicc.py).

It behaves as 9303 part 11 asks of a chip: nothing but reading EF.CardAccess, PACE's MSE:Set AT and GENERAL
AUTHENTICATE, SELECT of the LDS application, GET CHALLENGE and EXTERNAL AUTHENTICATE before authentication (6982
otherwise), 6300 for a wrong MRZ key, every later command under secure messaging, and a MAC failure ends the session
(6988). With `pace_parameter_id` set it offers PACE (ECDH generic mapping, AES-128) in EF.CardAccess and still
answers BAC, as passports do. Files are served as built (lds.py).
"""

from __future__ import annotations

import hmac
import secrets
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from ecdsa.curves import Curve

from clerk_agent.card.idchips import pace
from clerk_agent.card.idchips.passport import CARD_ACCESS_SFI, FILES, LDS_AID, MrzAccess
from clerk_agent.card.idchips.sm import (
    ENC,
    MAC,
    AesSecureMessaging,
    SecureMessaging,
    SecureMessagingError,
    decrypt,
    derive_key,
    encrypt,
    retail_mac,
)
from clerk_agent.card.virtual.idchips.lds import (
    HOLDERS,
    PassportHolder,
    build_com,
    build_dg1,
    build_dg2,
    build_sod,
)

# An ISO/IEC 14443-4 card as a PC/SC reader presents it (PC/SC part 3 §3.1.3.2.3): 3B 8n 80 01, the historical
# bytes (here the type B card's application data and protocol info, made up), TCK.
_HISTORICAL = bytes.fromhex("0000000077818100")


def _contactless_atr(historical: bytes) -> bytes:
    body = bytes((0x80 | len(historical), 0x80, 0x01)) + historical
    tck = 0
    for byte in body:
        tck ^= byte
    return b"\x3b" + body + bytes((tck,))


SW_OK, SW_AUTH_FAILED, SW_SECURITY = b"\x90\x00", b"\x63\x00", b"\x69\x82"
SW_SM_WRONG, SW_NOT_FOUND, SW_INS, SW_WRONG_P = b"\x69\x88", b"\x6a\x82", b"\x6d\x00", b"\x6b\x00"


@dataclass
class VirtualPassport:
    """One passport chip: its files and the MRZ its BAC key comes from."""

    holder: PassportHolder
    files: dict[int, bytes]
    label: str = "virtual passport"
    atr: bytes = field(default_factory=lambda: _contactless_atr(_HISTORICAL))
    apdu_log: list[bytes] = field(default_factory=list)
    pace_parameter_id: int | None = None  # 12 (P-256) or 13 (brainpoolP256r1): offer PACE besides BAC

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    # --- the vicc card interface (clerk_agent/card/virtual/vicc.py) --------------------------------

    def reset(self) -> None:
        """Power-on or reset: no application selected, no session."""
        self._selected_app = False
        self._rnd_ic: bytes | None = None
        self._session: SecureMessaging | None = None
        self._file: bytes | None = None
        self._pace: dict[str, Any] | None = None  # a PACE run between MSE:Set AT and its last step

    def power_on(self) -> None:
        self.reset()

    def power_off(self) -> None:
        self.reset()

    def process(self, apdu: bytes) -> bytes:
        """Answer one command APDU (data‖SW)."""
        with self._lock:
            self.apdu_log.append(bytes(apdu))
            if len(apdu) < 4:
                return b"\x67\x00"
            if apdu[0] & 0x0C == 0x0C:
                return self._protected(apdu)
            return self._plain(apdu)

    # --- before authentication ---------------------------------------------------------------------

    def _plain(self, apdu: bytes) -> bytes:
        ins = apdu[1]
        data = apdu[5 : 5 + apdu[4]] if len(apdu) > 5 else b""
        if ins == 0xA4 and apdu[2] == 0x04:
            self.reset()
            self._selected_app = data == LDS_AID
            return SW_OK if self._selected_app else SW_NOT_FOUND
        if ins == 0xB0 and apdu[2] == 0x80 | CARD_ACCESS_SFI and self.pace_parameter_id is not None:
            return pace.card_access(self.pace_parameter_id) + SW_OK
        if ins == 0x22 and self.pace_parameter_id is not None:
            return self._set_authentication_template(data)
        if ins == 0x86 and self._pace is not None and self.pace_parameter_id is not None:
            try:
                return self._general_authenticate(
                    self._pace, pace.CURVES[self.pace_parameter_id], apdu[0], data
                )
            except pace.PaceError:
                self._pace = None
                return b"\x6a\x80"
        if not self._selected_app:
            return SW_SECURITY
        if ins == 0x84:
            self._rnd_ic = secrets.token_bytes(8)
            return self._rnd_ic + SW_OK
        if ins == 0x82:
            return self._external_authenticate(data)
        # Any plain command after BAC ends the session, as a real chip does.
        self._session = None
        return SW_SECURITY

    def _external_authenticate(self, data: bytes) -> bytes:
        rnd_ic, self._rnd_ic = self._rnd_ic, None
        access = MrzAccess(self.holder.document_number, self.holder.birth, self.holder.expiry_yymmdd)
        seed = bytes(access.seed())
        k_enc, k_mac = derive_key(seed, ENC), derive_key(seed, MAC)
        if rnd_ic is None or len(data) != 40:
            return SW_AUTH_FAILED
        if not hmac.compare_digest(retail_mac(k_mac, data[:32]), data[32:]):
            return SW_AUTH_FAILED
        plain = decrypt(k_enc, data[:32])
        if plain[8:16] != rnd_ic:
            return SW_AUTH_FAILED
        rnd_ifd, k_ifd, k_ic = plain[:8], plain[16:32], secrets.token_bytes(16)
        cryptogram = encrypt(k_enc, rnd_ic + rnd_ifd + k_ic)
        self._session = SecureMessaging.from_bac(k_ifd, k_ic, rnd_ic, rnd_ifd)
        return cryptogram + retail_mac(k_mac, cryptogram) + SW_OK

    # --- PACE (9303 part 11 §4.4, clerk_agent/card/idchips/pace.py) ---------------------------------

    def _set_authentication_template(self, data: bytes) -> bytes:
        self.reset()
        objects = dict(pace.der_items(data))
        if (
            objects.get(0x80) != pace.PACE_ECDH_GM_AES_128
            or objects.get(0x83) != bytes([pace.PASSWORD_MRZ])
            or objects.get(0x84) != bytes([self.pace_parameter_id or 0])
        ):
            return b"\x6a\x80"
        self._pace = {"step": 0}
        return SW_OK

    def _general_authenticate(self, run: dict[str, Any], curve: Curve, cla: int, data: bytes) -> bytes:
        """One step of the chip's side; the step is the state, and the last step comes unchained (CLA 00)."""
        step, last = run["step"], cla & 0x10 == 0
        if last != (step == 3):
            raise pace.PaceError("chaining out of order")
        if step == 0:
            access = MrzAccess(self.holder.document_number, self.holder.birth, self.holder.expiry_yymmdd)
            run["nonce"] = secrets.token_bytes(16)
            encryptor = Cipher(algorithms.AES(bytes(access.pace_key())), modes.CBC(bytes(16))).encryptor()
            answer = pace.dynamic_data(0x80, encryptor.update(run["nonce"]) + encryptor.finalize())
        elif step == 1:
            theirs = pace.point_from(curve, pace.read_dynamic_data(data, 0x81))
            private = pace.private_scalar(curve)
            run["generator"] = pace.mapped_generator(curve, run.pop("nonce"), private, theirs)
            answer = pace.dynamic_data(0x82, pace.encode_point(curve.generator * private))
        elif step == 2:
            theirs_bytes = pace.read_dynamic_data(data, 0x83)
            theirs = pace.point_from(curve, theirs_bytes)
            private = pace.private_scalar(curve)
            ours = pace.encode_point(run.pop("generator") * private)
            if hmac.compare_digest(ours, theirs_bytes):
                raise pace.PaceError("the reader echoed our key")
            shared = pace.shared_secret(curve, private, theirs)
            run.update(
                ours=ours, theirs=theirs_bytes, enc=pace.kdf(shared, pace.ENC), mac=pace.kdf(shared, pace.MAC)
            )
            answer = pace.dynamic_data(0x84, ours)
        else:
            self._pace = None
            expected = pace.token(run["mac"], pace.PACE_ECDH_GM_AES_128, run["ours"])
            if not hmac.compare_digest(pace.read_dynamic_data(data, 0x85), expected):
                return SW_AUTH_FAILED  # a wrong MRZ: the reader's token does not verify
            self._session = AesSecureMessaging(run["enc"], run["mac"], 0)
            return (
                pace.dynamic_data(0x86, pace.token(run["mac"], pace.PACE_ECDH_GM_AES_128, run["theirs"]))
                + SW_OK
            )
        run["step"] = step + 1
        return answer + SW_OK

    # --- under secure messaging --------------------------------------------------------------------

    def _protected(self, apdu: bytes) -> bytes:
        session = self._session
        if session is None:
            return SW_SECURITY
        try:
            header, data, le = session.unprotect_command(apdu)
        except SecureMessagingError:
            self._session = None
            return SW_SM_WRONG
        ins = header[1]
        if ins == 0xA4 and header[2] == 0x04:
            self._selected_app = data == LDS_AID
            return session.protect_response(b"", SW_OK if self._selected_app else SW_NOT_FOUND)
        if ins == 0xA4 and header[2] == 0x02:
            content = self.files.get(int.from_bytes(data, "big"))
            self._file = content
            return session.protect_response(b"", SW_OK if content is not None else SW_NOT_FOUND)
        if ins == 0xB0:
            if self._file is None:
                return session.protect_response(b"", b"\x69\x86")
            offset = ((header[2] & 0x7F) << 8) | header[3]
            if offset > len(self._file):
                return session.protect_response(b"", SW_WRONG_P)
            return session.protect_response(self._file[offset : offset + (le or 256)], SW_OK)
        return session.protect_response(b"", SW_INS)


@dataclass(frozen=True)
class DocumentSigner:
    """A document signer's certificate and key (the test PKI's, service/idchips/devpki.py)."""

    certificate: x509.Certificate
    key: ec.EllipticCurvePrivateKey


def load_signer(directory: Path) -> DocumentSigner:
    """The passport document signer `hub dev-pki` wrote under `<dev-pki>/idchips/private/passport/`."""
    private = directory / "idchips" / "private" / "passport"
    key = serialization.load_pem_private_key((private / "signer.key.pem").read_bytes(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ValueError("the test document signer key is not an EC key")
    return DocumentSigner(x509.load_pem_x509_certificate((private / "signer.pem").read_bytes()), key)


def build_passport(
    holder: PassportHolder,
    signer: DocumentSigner,
    *,
    tamper: str | None = None,
    label: str | None = None,
    pace_parameter_id: int | None = None,
) -> VirtualPassport:
    """A passport chip for `holder`, its EF.SOD signed by `signer`; `tamper="DG1"` alters DG1 after signing."""
    dg1, dg2 = build_dg1(holder), build_dg2(holder)
    sod = build_sod({1: dg1, 2: dg2}, signer.certificate, signer.key)
    if tamper == "DG1":
        # The holder's name in the MRZ changed by one letter: the check digits do not cover names.
        dg1 = dg1.replace(holder.surname.encode(), holder.surname[:-1].encode() + b"O", 1)
    files = {FILES["COM"]: build_com(), FILES["DG1"]: dg1, FILES["DG2"]: dg2, FILES["SOD"]: sod}
    return VirtualPassport(
        holder, files, label=label or f"virtual passport {holder.key}", pace_parameter_id=pace_parameter_id
    )


def passport_from_dev_pki(
    directory: Path, person: str = "yamada_hanako", *, pace_parameter_id: int | None = 13
) -> VirtualPassport:
    """The demo's passport for `person`, signed by the document signer `hub dev-pki` wrote; like most passports
    issued today it offers PACE (on brainpoolP256r1) besides BAC."""
    return build_passport(HOLDERS[person], load_signer(directory), pace_parameter_id=pace_parameter_id)
