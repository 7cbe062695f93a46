"""The virtual residence card (在留カード) and special permanent resident certificate (特別永住者証明書), laid out as
在留カード等仕様書 Ver 1.5 describes (docs/id-documents.md §Japanese).

MF/EF01 共通データ要素 and EF02 カード種別 are free to read. Everything else needs the card number (12 characters,
printed on the card): GET CHALLENGE, MUTUAL AUTHENTICATE with keys derived from the number, VERIFY of the number
under the session key, then READ BINARY through encryption-only secure messaging. A wrong number fails the mutual
authentication (the card cannot check the cryptogram) and nothing is read. The number has no try counter.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable
from dataclasses import replace

from cryptography.hazmat.primitives.serialization import Encoding
from PIL import Image

from clerk_agent.card.apdu import SW, encode_tlv, iter_tlvs
from clerk_agent.card.idchips import jp_sm
from clerk_agent.card.virtual.cardface import face_photo_jp2, text_png
from clerk_agent.card.virtual.command import Apdu, sw
from clerk_agent.card.virtual.idchips.jp_engine import MF, JpDf, JpFile, JpFileCard, JpKey
from clerk_agent.card.virtual.idchips.jp_people import RESIDENCE_HOLDERS, ResidenceHolder
from clerk_agent.card.virtual.idchips.jp_pki import JpSigner, Variant, jp_signer
from service.wire import idchips_jp as jp

RESIDENCE_ATR = bytes.fromhex("3B8A800100000000000000000000")
_CARD_NUMBER_KEY = 0x100  # internal reference of the card number in `keys` (it has no VERIFY P2 of its own)


def card_face_tiff(holder: ResidenceHolder) -> bytes:
    """券面(表)イメージ: the card's front, drawn as a 1-bit TIFF (the chip's format) with the photo on the right."""
    title = "在留カード" if holder.card_type == "1" else "特別永住者証明書"
    lines = [
        f"{title}  番号 {holder.card_number}",
        f"氏名 {holder.name}",
        f"生年月日 {holder.birth_date:%Y年%m月%d日}  国籍・地域 {holder.nationality}",
        f"住居地 {holder.address}",
        f"在留資格 {holder.status}" if holder.status else "特別永住者",
        f"有効期間満了日 {holder.valid_until:%Y年%m月%d日}",
    ]
    face = Image.new("1", (640, 400), 1)
    for row, text in enumerate(lines):
        with Image.open(io.BytesIO(text_png(text, width=480, height=30))) as strip:
            face.paste(strip, (10, 20 + row * 40))
    with Image.open(io.BytesIO(face_photo_jp2(holder.key))) as portrait:
        face.paste(portrait.convert("1"), (500, 60))
    out = io.BytesIO()
    face.save(out, format="TIFF", compression="group4")
    return out.getvalue()


class VirtualResidenceCard(JpFileCard):
    """The engine plus the residence card's mutual authentication and secure messaging."""

    def __init__(self, card_number: str, **kwargs: object) -> None:
        self._access = jp_sm.access_key(card_number.encode("ascii"))
        self._challenge: bytes | None = None
        self._session: bytes | None = None
        super().__init__(**kwargs)  # type: ignore[arg-type]

    def on_reset(self) -> None:
        """Session keys and the challenge live until power-off."""
        self._challenge, self._session = None, None

    def document_command(self, command: Apdu) -> bytes | None:
        """GET CHALLENGE, MUTUAL AUTHENTICATE and the SM forms of VERIFY and READ BINARY."""
        if (command.cla, command.ins) == (0x00, 0x84):
            self._challenge = os.urandom(8)
            return sw(SW.OK, self._challenge)
        if (command.cla, command.ins) == (0x00, 0x82):
            return self._mutual_authenticate(command)
        if command.cla == jp.SM_CLA and command.ins == 0x20:
            return self._sm_verify(command)
        if command.cla == jp.SM_CLA and command.ins == 0xB0:
            return self._sm_read(command)
        if command.cla == 0x00 and command.ins == 0x20:
            return sw(SW.CONDITIONS_NOT_SATISFIED)  # the card number is only ever presented under SM
        return None

    def _mutual_authenticate(self, c: Apdu) -> bytes:
        challenge, self._challenge = self._challenge, None
        if challenge is None:
            return sw(SW.CONDITIONS_NOT_SATISFIED)
        if len(c.data) != 40:
            return sw(SW.WRONG_LENGTH)
        e_ifd, m_ifd = c.data[:32], c.data[32:]
        if jp_sm.retail_mac(self._access, e_ifd) != m_ifd:
            return sw(0x6300)  # the reader did not derive our key: a wrong card number
        plain = jp_sm.decrypt(self._access, e_ifd)
        rnd_ifd, rnd_icc, k_ifd = plain[:8], plain[8:16], plain[16:]
        if rnd_icc != challenge:
            return sw(0x6300)
        k_icc = os.urandom(16)
        e_icc = jp_sm.encrypt(self._access, rnd_icc + rnd_ifd + k_icc)
        self._session = jp_sm.session_key(k_ifd, k_icc)
        return sw(SW.OK, e_icc + jp_sm.retail_mac(self._access, e_icc))

    def _sm_verify(self, c: Apdu) -> bytes:
        if self._session is None or c.p2 != jp.SM_VERIFY_P2:
            return sw(SW.CONDITIONS_NOT_SATISFIED)
        try:
            (cryptogram,) = iter_tlvs(c.data)
            if cryptogram.tag != jp.SM_TAG_CRYPTOGRAM:
                raise ValueError("no cryptogram")
            presented = jp_sm.sm_unwrap(self._session, cryptogram.value)
        except ValueError:
            return sw(0x6988)  # incorrect SM data objects
        return self.check_key(_CARD_NUMBER_KEY, self.keys[_CARD_NUMBER_KEY], presented)

    def _sm_read(self, c: Apdu) -> bytes:
        if self._session is None or _CARD_NUMBER_KEY not in self.verified:
            return sw(SW.SECURITY_NOT_SATISFIED)
        try:
            (le_object,) = iter_tlvs(c.data)
        except ValueError:
            return sw(0x6988)
        if le_object.tag != jp.SM_TAG_LE or len(le_object.value) not in (1, 2):
            return sw(0x6988)
        le = int.from_bytes(le_object.value, "big") or 65536
        target, offset, status = self.locate(Apdu(0x00, 0xB0, c.p1, c.p2, b"", le))
        if target is None:
            return sw(status)
        if offset > len(target.data):
            return sw(SW.WRONG_OFFSET)
        chunk = target.data[offset : offset + le]
        return sw(SW.OK, encode_tlv(jp.SM_TAG_CRYPTOGRAM, jp_sm.sm_wrap(self._session, chunk)))


def build_virtual_residence_card(
    holder_key: str = "nguyen_lan",
    *,
    signer: Variant | JpSigner = "current",
    alter_after_signing: bool = False,
    violation_sink: Callable[[str], None] | None = None,
) -> VirtualResidenceCard:
    """A virtual residence card (or special permanent resident certificate, by the holder's card type).

    The check code covers 券面(表)イメージ ‖ 顔画像 (the images, without their tags); `alter_after_signing` swaps
    the card-face image for one with another address after signing.
    """
    holder = RESIDENCE_HOLDERS[holder_key]
    face, photo = card_face_tiff(holder), face_photo_jp2(holder.key)
    document_signer = signer if isinstance(signer, JpSigner) else jp_signer("residence_card", signer)
    check_code = document_signer.sign(face + photo)
    if alter_after_signing:
        face = card_face_tiff(replace(holder, address="窓口市本町九丁目９番９号"))
    signature = encode_tlv(jp.RESIDENCE_TAG_CHECK_CODE, check_code) + encode_tlv(
        jp.RESIDENCE_TAG_CERTIFICATE, document_signer.certificate.public_bytes(Encoding.DER)
    )
    address = encode_tlv(jp.RESIDENCE_TAG_ADDRESS, text_png(f"住居地 {holder.address}", width=480, height=30))
    dfs = {
        MF: JpDf(
            {
                0x0001: JpFile(encode_tlv(jp.RESIDENCE_TAG_COMMON, b"\x01\x05"), sfi=jp.RESIDENCE_SFI_COMMON),
                0x0002: JpFile(
                    encode_tlv(jp.RESIDENCE_TAG_CARD_TYPE, holder.card_type.encode("ascii")),
                    sfi=jp.RESIDENCE_SFI_CARD_TYPE,
                ),
            }
        ),
        jp.RESIDENCE_DF1_AID: JpDf(
            {
                0x0001: JpFile(
                    encode_tlv(jp.RESIDENCE_TAG_CARD_FACE, face),
                    sfi=jp.RESIDENCE_SFI_CARD_FACE,
                    secure_messaging=True,
                ),
                0x0002: JpFile(
                    encode_tlv(jp.RESIDENCE_TAG_PHOTO, photo),
                    sfi=jp.RESIDENCE_SFI_PHOTO,
                    secure_messaging=True,
                ),
            }
        ),
        jp.RESIDENCE_DF2_AID: JpDf(
            {0x0001: JpFile(address, sfi=jp.RESIDENCE_SFI_ADDRESS, secure_messaging=True)}
        ),
        jp.RESIDENCE_DF3_AID: JpDf(
            {0x0001: JpFile(signature, sfi=jp.RESIDENCE_SFI_SIGNATURE, secure_messaging=True)}
        ),
    }
    keys = {_CARD_NUMBER_KEY: JpKey(holder.card_number.encode("ascii"), tries_left=None)}
    return VirtualResidenceCard(
        holder.card_number,
        atr=RESIDENCE_ATR,
        dfs=dfs,
        keys=keys,
        label=f"virtual residence card {holder_key}",
        violation_sink=violation_sink,
    )
