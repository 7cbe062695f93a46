"""My Number Card (マイナンバーカード) operations over any Transport: JPKI AP and 券面事項確認AP (Kenkaku).

Both card generations are served: `detect` finds which one is in the reader and the object then follows its
profile (service/wire/card_profiles.py, docs/card.md §3): application ids, file ids, the signature scheme (RSA-2048
with a SHA-256 DigestInfo, or ECDSA P-384 over a SHA-384 hash) and the PIN set.

The My Number itself is out of reach by construction: `FORBIDDEN_FILES` lists Kenhojo EF 0001 and
Kenkaku EF 0005, and every SELECT EF or short-EF-id read goes through `_check_allowed` first
(no My Number capture at the post office: docs/domain.md §A3, §B9; docs/card.md §1.3).
Kenhojo is only ever asked for its PIN retry counter.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from clerk_agent.card import apdu
from clerk_agent.card.apdu import SW, Command, Response
from clerk_agent.card.transport import PinPadTransport, Transport
from clerk_agent.errors import (
    ApduFailed,
    CardDataMalformed,
    CardError,
    CodeBBlocked,
    CodeBIncorrect,
    ForbiddenFileAccess,
    InvalidPinFormat,
    LastTryConfirmationRequired,
    NotMyNumberCard,
    PinBlocked,
    PinIncorrect,
)
from service.wire.card_profiles import (
    CURRENT,
    DETECTION_ORDER,
    PROFILES,
    CardGeneration,
    CardProfile,
    PinRole,
    SignatureScheme,
)

# The current card's ids (its profile, service/wire/card_profiles.py CURRENT, is where they are defined).
JPKI_AID = CURRENT.auth_aid
KENHOJO_AID = bytes(CURRENT.kenhojo_aid or b"")
KENKAKU_AID = CURRENT.card_face_aid

EF_JPKI_TOKEN = CURRENT.ef_token
EF_JPKI_AUTH_CERT = CURRENT.ef_auth_cert
EF_JPKI_AUTH_CA = CURRENT.ef_auth_ca
EF_JPKI_AUTH_KEY = CURRENT.ef_auth_key
EF_KENKAKU_CARD_FACE = CURRENT.ef_card_face

MY_NUMBER_CARD_TOKEN = CURRENT.token_label
# The 個人番号 (Kenhojo EF 0001) and its rendered image (Kenkaku EF 0005), and their next-generation places. Never
# selected, never read. Kenhojo EF 0003 is refused too: its DF31 is SHA-256 of EF 0001, and 10^11 candidates are
# quickly searched. The union of every generation's list: a file refused on one card is refused on any.
FORBIDDEN_FILES: frozenset[tuple[bytes, int]] = frozenset().union(
    *(profile.forbidden_files for profile in PROFILES.values())
)


class PinKind(StrEnum):
    """The secrets whose retry counters the counter shows (string values, so they serialise as they are)."""

    JPKI_AUTH = "jpki_auth"  # 利用者証明用暗証番号, 4 digits, 3 tries
    JPKI_SIGN = "jpki_sign"  # 署名用パスワード, 6-16 characters, 5 tries
    KENHOJO_PIN = "kenhojo_pin"  # 券面事項入力補助用暗証番号, 4 digits, 3 tries
    # 照合番号B, 14 digits; on the next-generation card the 照合番号 printed on it (the card-face AP's code)
    KENKAKU_CODE_B = "kenkaku_code_b"

    @property
    def aid(self) -> bytes:
        """The application holding this key on the current card (`MyNumberCard.key_of` for the card read)."""
        return CURRENT.pin(PinRole(self.value)).aid

    @property
    def key_fid(self) -> int:
        """The key reference EF on the current card."""
        return CURRENT.pin(PinRole(self.value)).key_fid


@dataclass(frozen=True)
class PinStatus:
    """Retry state of one secret; `retries_left` None means the card reports no limit or an open session."""

    kind: PinKind
    retries_left: int | None
    blocked: bool


@dataclass(frozen=True)
class CardFaceRecord:
    """券面事項確認AP EF 0002 (card face), as read; `raw` is the whole file for the hub to verify itself."""

    raw: bytes
    birth_date: str
    sex: str
    card_public_key: bytes
    name_image: bytes
    address_image: bytes
    photo_jp2: bytes
    signature: bytes
    expiry: str
    security_code_image: bytes


def possession_message(origin: str, nonce: str, case_id: str) -> bytes:
    """The bytes the card signs to prove possession: SHA-256(origin) ‖ SHA-256(nonce) ‖ case id (Web eID pattern)."""
    return (
        hashlib.sha256(origin.encode()).digest() + hashlib.sha256(nonce.encode()).digest() + case_id.encode()
    )


def parse_card_face(raw: bytes) -> CardFaceRecord:
    """Split the card-face file into its fields (no signature check: that is the hub's job)."""
    try:
        outer = apdu.iter_tlvs(raw)
        if not outer or outer[0].tag != 0xFF20:
            raise CardDataMalformed("card-face file does not start with FF20")
        fields = {t.tag: t.value for t in apdu.iter_tlvs(outer[0].value)}
    except apdu.TlvError as exc:
        raise CardDataMalformed(f"card-face file: {exc}") from exc
    # DF23 (sex) is absent on the next-generation card face (docs/card.md §3.3).
    needed = (0xDF22, 0xDF24, 0xDF25, 0xDF26, 0xDF27, 0xDF28, 0xDF29)
    missing = [f"{tag:X}" for tag in needed if tag not in fields]
    if missing:
        raise CardDataMalformed(f"card-face file lacks {', '.join(missing)}")
    return CardFaceRecord(
        raw=outer[0].raw,
        birth_date=fields[0xDF22].decode("ascii", "replace"),
        sex=fields.get(0xDF23, b"").decode("ascii", "replace"),
        card_public_key=fields[0xDF24],
        name_image=fields[0xDF25],
        address_image=fields[0xDF26],
        photo_jp2=fields[0xDF27],
        signature=fields[0xDF28],
        expiry=fields[0xDF29].decode("ascii", "replace"),
        security_code_image=fields.get(0xDF2A, b""),
    )


_DIGITS = frozenset(range(0x30, 0x3A))
_CAPITALS = frozenset(range(0x41, 0x5B))


def _wipe(buffer: bytearray) -> None:
    # Overwrite in place: the caller's bytearray is the only mutable copy of the PIN we control.
    for i in range(len(buffer)):
        buffer[i] = 0


class MyNumberCard:
    """Blocking card operations (run them in a worker thread); tracks the selected DF/EF to skip redundant SELECTs.

    `short_ef_ids` uses the short-EF-identifier forms of READ BINARY, VERIFY and COMPUTE DIGITAL SIGNATURE
    (docs/card.md §1.7), saving one SELECT EF per file; a card that answers 6A86/6A81 to them is switched to
    the SELECT EF forms for the rest of the session.
    `max_chunk` above 256 uses extended Le, which many PC/SC readers do not pass.
    """

    def __init__(self, transport: Transport, *, short_ef_ids: bool = True, max_chunk: int = 256) -> None:
        if not 1 <= max_chunk <= 0xFF00:
            raise ValueError("max_chunk must be 1..65280 (a vpcd frame holds at most 65535 bytes)")
        self.transport = transport
        self.short_ef_ids = short_ef_ids
        self.max_chunk = max_chunk
        self.apdu_count = 0
        # The current card until `detect` finds otherwise.
        self.profile: CardProfile = CURRENT
        self._df: bytes | None = None
        self._ef: int | None = None

    # --- plumbing ---------------------------------------------------------------------------------

    def _send(self, command: Command | bytes | bytearray) -> Response:
        raw = command.encode() if isinstance(command, Command) else command
        self.apdu_count += 1
        try:
            return apdu.parse_response(self.transport.transmit(raw))
        except CardError:
            # Removal or reset loses the card's selection state; forget ours too.
            self._df = self._ef = None
            raise

    def _select_df(self, aid: bytes) -> None:
        if self._df == aid:
            return
        rsp = self._send(apdu.select_df(aid))
        if not rsp.ok:
            self._df = self._ef = None
            raise ApduFailed(rsp.sw, f"SELECT DF {aid.hex().upper()}")
        self._df, self._ef = aid, None

    @staticmethod
    def _check_allowed(aid: bytes, fid: int) -> None:
        if (aid, fid) in FORBIDDEN_FILES:
            raise ForbiddenFileAccess(
                f"EF {fid:04X} of {aid.hex().upper()} holds the My Number and is never read"
            )

    def _select_ef(self, aid: bytes, fid: int) -> None:
        self._check_allowed(aid, fid)
        self._select_df(aid)
        if self._ef == fid:
            return
        rsp = self._send(apdu.select_ef(fid))
        if not rsp.ok:
            self._ef = None
            raise ApduFailed(rsp.sw, f"SELECT EF {fid:04X}")
        self._ef = fid

    def _fallback_if_sfi_rejected(self, rsp: Response) -> Response | None:
        """None (and short EF ids off for this card) when the card rejects the short-EF-id form."""
        if rsp.sw in (SW.WRONG_P1P2, 0x6A81):
            self.short_ef_ids = False
            return None
        return rsp

    def _read_chunk_ok(self, rsp: Response, what: str) -> bytes:
        # 6282: end of file reached before Le bytes; the data that exists is still valid.
        if rsp.sw not in (SW.OK, SW.END_OF_FILE):
            raise ApduFailed(rsp.sw, what)
        return rsp.data

    def read_file(self, aid: bytes, fid: int, *, length: int | None = None) -> bytes:
        """Read a transparent EF: exactly `length` bytes, or the whole BER-TLV object it starts with."""
        self._check_allowed(aid, fid)
        self._select_df(aid)
        first_le = min(self.max_chunk, length) if length is not None else self.max_chunk
        what = f"READ BINARY {fid:04X}"
        rsp = None
        if self.short_ef_ids and fid <= 0x1E:
            rsp = self._fallback_if_sfi_rejected(self._send(apdu.read_binary_sfi(fid, 0, first_le)))
            if rsp is not None:
                self._ef = fid
        if rsp is None:
            self._select_ef(aid, fid)
            rsp = self._send(apdu.read_binary(0, first_le))
        head = self._read_chunk_ok(rsp, what)
        if length is None:
            try:
                length = apdu.tlv_total_size(head)
            except apdu.TlvError as exc:
                raise CardDataMalformed(f"EF {fid:04X} does not start with a BER-TLV object: {exc}") from exc
        data = bytearray(head[:length])
        while len(data) < length:
            le = min(self.max_chunk, length - len(data))
            chunk = self._read_chunk_ok(self._send(apdu.read_binary(len(data), le)), what)
            if not chunk:
                raise CardDataMalformed(f"EF {fid:04X} ended at {len(data)} of {length} bytes")
            data += chunk[: length - len(data)]
        return bytes(data)

    # --- JPKI AP ----------------------------------------------------------------------------------

    @property
    def generation(self) -> CardGeneration:
        """The card's generation (after `detect`; the current card before)."""
        return self.profile.generation

    def detect(self) -> bytes:
        """Confirm a My Number Card of either generation and adopt its profile; returns the token string.

        Each profile's authentication AP is selected in turn (the current card first); the token label read from
        its EF 0006 must be that profile's (JPKIAPICCTOKEN2 on the current card).
        """
        answers: list[str] = []
        for profile in DETECTION_ORDER:
            rsp = self._send(apdu.select_df(profile.auth_aid))
            if not rsp.ok:
                self._df = self._ef = None
                answers.append(f"{rsp.sw:04X}")
                continue
            self._df, self._ef = profile.auth_aid, None
            # The first 32 bytes of the 160-byte CK_TOKEN_INFO are the label, space padded.
            label = self.read_file(profile.auth_aid, profile.ef_token, length=32).rstrip(b" \x00")
            if label != profile.token_label:
                raise NotMyNumberCard(f"JPKI token is {label!r}, not a My Number Card")
            self.profile = profile
            return label
        raise NotMyNumberCard(f"no JPKI application (SELECT answered {', '.join(answers)})")

    def key_of(self, kind: PinKind) -> tuple[bytes, int]:
        """(application, key reference) of a secret on this card's generation."""
        spec = self.profile.pin(PinRole(kind.value))
        return spec.aid, spec.key_fid

    def pin_kinds(self) -> tuple[PinKind, ...]:
        """The secrets this card's generation has (four on the current card, two PINs and a code on the next)."""
        return tuple(PinKind(spec.role.value) for spec in self.profile.pins)

    def read_auth_certificate(self) -> bytes:
        """The JPKI user-authentication certificate (利用者証明用電子証明書), DER."""
        return self.read_file(self.profile.auth_aid, self.profile.ef_auth_cert)

    def read_auth_ca_certificate(self) -> bytes:
        """The certificate of the CA that issued the authentication certificate, DER."""
        return self.read_file(self.profile.auth_aid, self.profile.ef_auth_ca)

    def pin_status(self, kind: PinKind) -> PinStatus:
        """Remaining tries of one secret, read with an empty VERIFY that spends none."""
        aid, key_fid = self.key_of(kind)
        self._select_df(aid)
        rsp = None
        if self.short_ef_ids:
            rsp = self._fallback_if_sfi_rejected(self._send(apdu.verify_query(0x80 | key_fid)))
        if rsp is None:
            self._select_ef(aid, key_fid)
            rsp = self._send(apdu.verify_query())
        retries = apdu.retries_from_sw(rsp.sw)
        if retries is not None:
            return PinStatus(kind, retries, blocked=retries == 0)
        if rsp.sw in (SW.AUTH_METHOD_BLOCKED, SW.REFERENCE_DATA_BLOCKED):
            return PinStatus(kind, 0, blocked=True)
        if rsp.sw in (0x6300, SW.OK):
            # 6300: no retry limit; 9000: already verified in this power-on session (docs/card.md §1.6).
            return PinStatus(kind, None, blocked=False)
        raise ApduFailed(rsp.sw, f"VERIFY (retries) {kind.name}")

    def pin_statuses(self, kinds: Iterable[PinKind] | None = None) -> dict[PinKind, PinStatus]:
        """Retry state of several secrets (default: all this card has), grouped by application to spare SELECTs."""
        chosen = self.pin_kinds() if kinds is None else tuple(kinds)
        ordered = sorted(chosen, key=lambda k: (self.key_of(k)[0] != self._df, self.key_of(k)[0]))
        return {kind: self.pin_status(kind) for kind in ordered}

    def _verify(
        self,
        kind: PinKind,
        secret: bytearray | None,
        digits: int,
        *,
        confirm_last_try: bool,
        use_pinpad: bool,
        letters: bool = False,
    ) -> PinStatus:
        """Check the retries, refuse the last try unless confirmed, then VERIFY; always wipes `secret`.

        Returns the status read just before the VERIFY (what the clerk was shown).
        """
        buffer = bytearray()
        try:
            allowed = _DIGITS | _CAPITALS if letters else _DIGITS
            if secret is not None and (len(secret) != digits or not all(b in allowed for b in secret)):
                raise InvalidPinFormat(
                    f"{kind.name} must be {digits} ASCII digits{' or capitals' if letters else ''}"
                )
            status = self.pin_status(kind)
            if status.blocked:
                raise PinBlocked(f"{kind.name} is blocked; it can only be reset at the municipal office")
            if status.retries_left == 1 and not confirm_last_try:
                raise LastTryConfirmationRequired()
            aid, key_fid = self.key_of(kind)
            p2 = 0x80 | key_fid if self.short_ef_ids else 0x80
            if not self.short_ef_ids:
                self._select_ef(aid, key_fid)
            header = bytes((0x00, apdu.INS_VERIFY, 0x00, p2))
            if use_pinpad and isinstance(self.transport, PinPadTransport) and self.transport.has_pinpad:
                self.apdu_count += 1
                sw = int.from_bytes(self.transport.verify_pin_direct(header, digits)[-2:], "big")
            elif secret is None:
                raise InvalidPinFormat("no PIN given and the reader has no PIN pad")
            else:
                buffer += header
                buffer.append(digits)
                buffer += secret
                sw = self._send(buffer).sw
        finally:
            _wipe(buffer)
            if secret is not None:
                _wipe(secret)
        if sw == SW.OK:
            return status
        retries = apdu.retries_from_sw(sw)
        if retries == 0 or sw in (SW.AUTH_METHOD_BLOCKED, SW.REFERENCE_DATA_BLOCKED):
            raise PinBlocked(f"{kind.name} is now blocked; it can only be reset at the municipal office")
        if retries is not None:
            raise PinIncorrect(retries)
        raise ApduFailed(sw, f"VERIFY {kind.name}")

    def verify_auth_pin(self, pin: bytearray | None, *, confirm_last_try: bool = False) -> PinStatus:
        """VERIFY the 4-digit auth PIN (on the reader's PIN pad if any); wipes `pin`; returns the tries before it."""
        return self._verify(PinKind.JPKI_AUTH, pin, 4, confirm_last_try=confirm_last_try, use_pinpad=True)

    def change_pin(
        self, kind: PinKind, current: bytearray, new: bytearray, *, confirm_last_try: bool = False
    ) -> None:
        """VERIFY the current PIN, then CHANGE REFERENCE DATA with the new one in the same session; wipes both.

        `00 24 01 <key>` carries the new PIN only (P1=01: the current one was verified just before). The formats
        are checked by the caller against the PIN's rule; here only the characters, so nothing odd reaches the card.
        A wrong current PIN spends a try and raises PinIncorrect, exactly as a read would.
        """
        letters = kind is PinKind.JPKI_SIGN
        buffer = bytearray()
        try:
            allowed = _DIGITS | _CAPITALS if letters else _DIGITS
            if not 4 <= len(new) <= 16 or not all(b in allowed for b in new):
                raise InvalidPinFormat(f"new {kind.name} has characters the card does not take")
            self._verify(
                kind,
                current,
                len(current),
                confirm_last_try=confirm_last_try,
                use_pinpad=False,
                letters=letters,
            )
            # The key of this card's generation (the next-generation card keeps its PINs elsewhere).
            aid, key_fid = self.key_of(kind)
            p2 = 0x80 | key_fid if self.short_ef_ids else 0x80
            if not self.short_ef_ids:
                self._select_ef(aid, key_fid)
            buffer += bytes((0x00, apdu.INS_CHANGE_REFERENCE_DATA, 0x01, p2, len(new)))
            buffer += new
            sw = self._send(buffer).sw
        finally:
            _wipe(buffer)
            _wipe(new)
            _wipe(current)
        if sw != SW.OK:
            raise ApduFailed(sw, f"CHANGE REFERENCE DATA {kind.name}")

    def sign_auth(self, message: bytes) -> bytes:
        """Sign SHA-256(message) with the authentication key (PKCS#1 v1.5 DigestInfo); needs a verified PIN.

        That is the current card; the next generation signs SHA-384(message) with ECDSA P-384 and answers r ‖ s,
        96 bytes, passed on as the card gives it (docs/card.md §3.4).
        """
        block = self._signature_input(message)
        aid, key_fid = self.profile.auth_aid, self.profile.ef_auth_key
        self._select_df(aid)
        rsp = None
        if self.short_ef_ids:
            rsp = self._fallback_if_sfi_rejected(self._send(apdu.compute_signature(block, 0x80 | key_fid)))
        if rsp is None:
            self._select_ef(aid, key_fid)
            rsp = self._send(apdu.compute_signature(block))
        if rsp.sw == SW.SECURITY_NOT_SATISFIED:
            raise ApduFailed(rsp.sw, "COMPUTE DIGITAL SIGNATURE before the PIN was verified")
        return apdu.expect_ok(rsp, "COMPUTE DIGITAL SIGNATURE")

    def _signature_input(self, message: bytes) -> bytes:
        """What COMPUTE DIGITAL SIGNATURE is given for `message` on this card's generation."""
        if self.profile.signature is SignatureScheme.ECDSA_P384_SHA384:
            return hashlib.sha384(message).digest()  # the bare hash; the card answers r ‖ s
        return apdu.sha256_digest_info(hashlib.sha256(message).digest())

    # --- 券面事項確認AP (Kenkaku) ---------------------------------------------------------------------

    def verify_card_face_code(self, code_b: bytearray, *, confirm_last_try: bool = False) -> PinStatus:
        """VERIFY 照合番号B (era birth date YYMMDD + expiry year + security code, 14 digits); wipes `code_b`.

        On the next-generation card the code is the 照合番号 printed on it (its length from the profile).

        A wrong or blocked code B raises its own errors (CodeBIncorrect, CodeBBlocked), so the counter never
        reports a code-B try as a PIN try.
        """
        try:
            return self._verify(
                PinKind.KENKAKU_CODE_B,
                code_b,
                self.profile.card_face_code.max_length,
                confirm_last_try=confirm_last_try,
                use_pinpad=False,
            )
        except PinIncorrect as exc:
            raise CodeBIncorrect(exc.retries_left) from None
        except PinBlocked as exc:
            raise CodeBBlocked(str(exc)) from None

    def read_card_face(self) -> CardFaceRecord:
        """Read and split the card-face file (Kenkaku EF 0002); needs 照合番号B verified."""
        return parse_card_face(self.read_file(self.profile.card_face_aid, self.profile.ef_card_face))

    def answer_card_face_challenge(self, message: bytes) -> bytes:
        """Sign SHA-256(message) with the card-face AP's own key (DF24 of the signed face); needs no credential.

        `80 2A 00 00` in the 券面事項確認AP: the answer proves the card face read from this card belongs to it, which
        the face file alone cannot (it is static and can be copied; docs/card-face-binding.md).
        """
        self._select_df(self.profile.card_face_aid)
        rsp = self._send(apdu.compute_signature(self._signature_input(message), 0x00))
        return apdu.expect_ok(rsp, "COMPUTE DIGITAL SIGNATURE (card-face key)")

    def forget_selection(self) -> None:
        """Drop the cached DF/EF (after a reconnect or a reset done outside this object)."""
        self._df = self._ef = None
