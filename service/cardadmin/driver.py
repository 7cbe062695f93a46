"""The host side of one relayed run: which wrapped commands to send next, and what the card's answers mean.

No database and no HTTP: `Driver.start()` gives the first commands; `Driver.answer(responses)` checks the answers to
the previous turn and gives the next ones, until the run ends. Its whole state is `Driver.state`, a JSON-able dict
that the service seals with the hub's key between turns (it holds the session keys), so the next turn can run on
another replica. Every answer under the channel is R-MAC-checked before it is believed (docs/card-admin.md §Runs).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import os
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from service.cardadmin.issuer import IssuerError, JpkiIssuer
from service.wire import cardadmin as ca
from service.wire import scp03
from service.wire.cardadmin import CardState, Operation, PinName, Slot

SHA256_DIGEST_INFO_PREFIX = bytes.fromhex("3031300d060960864801650304020105000420")
SHA256_WITH_RSA = bytes.fromhex("300d06092a864886f70d01010b0500")
SLOTS = (Slot.auth, Slot.sign)


class RunRefused(Exception):
    """The card refused, or its answer failed a check: the run ends; `code` is stable and has no personal data."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass
class Progress:
    """What the run learnt that the case must record (the service copies it into the job row)."""

    card_state: CardState
    old_serials: list[int] = field(default_factory=list)
    new_serials: list[int] = field(default_factory=list)
    new_digests: list[str] = field(default_factory=list)
    outcome: str | None = None
    status_read: bool = False  # this turn read the card's STATUS (what it holds now)
    issued: dict[str, bytes] = field(default_factory=dict)  # slot → certificate, for the hub's verification


def _der(tag: int, body: bytes) -> bytes:
    if len(body) < 0x80:
        return bytes((tag, len(body))) + body
    size = len(body).to_bytes((len(body).bit_length() + 7) // 8, "big")
    return bytes((tag, 0x80 | len(size))) + size + body


def certification_request_info(public_key_der: bytes) -> bytes:
    """PKCS#10 CertificationRequestInfo: version 0, an empty subject (the issuer names the holder), the key."""
    return _der(0x30, bytes.fromhex("020100") + _der(0x30, b"") + public_key_der + bytes.fromhex("a000"))


def certification_request(info: bytes, signature: bytes) -> bytes:
    """The whole CSR around `info` and the card's signature over it."""
    return _der(0x30, info + SHA256_WITH_RSA + _der(0x03, b"\x00" + signature))


class Driver:
    """One run of `operation` on one case; `state` round-trips through `to_bytes`/`from_bytes`."""

    def __init__(self, state: dict[str, Any], issuer: JpkiIssuer) -> None:
        self.state = state
        self.issuer = issuer

    @classmethod
    def new(
        cls,
        issuer: JpkiIssuer,
        *,
        operation: Operation,
        pin: PinName | None,
        committed_digests: list[str],
        pin_changes: int | None,
        bound_certificate: str | None = None,
        renewed_certificates: list[str] | None = None,
        slots: list[Slot] | None = None,
    ) -> Driver:
        """A fresh run; `committed_digests` are the certificates a previous run committed (or sent COMMIT for).

        `bound_certificate` is the SHA-256 of the authentication certificate the case's possession proof was made
        with; the run refuses any other card (`renewed_certificates`: what this case's renewal put on it).
        `slots` are the certificates a renewal replaces (the case's plan; both when not given).
        """
        return cls(
            {
                "operation": operation.value,
                "pin": pin.value if pin else None,
                "committed": committed_digests,
                "pin_changes": pin_changes,
                "bound": bound_certificate,
                "renewed": renewed_certificates or [],
                "phase": "open",
                "planned": [slot.value for slot in (slots or SLOTS)],
            },
            issuer,
        )

    def to_bytes(self) -> bytes:
        """The state, for sealing (it holds the session keys)."""
        return json.dumps(self.state).encode()

    @classmethod
    def from_bytes(cls, raw: bytes, issuer: JpkiIssuer) -> Driver:
        """The inverse of `to_bytes`."""
        return cls(json.loads(raw), issuer)

    # --- helpers ----------------------------------------------------------------------------------

    @property
    def _channel(self) -> scp03.ChannelState:
        return scp03.ChannelState.from_bytes(base64.b64decode(self.state["channel"]))

    def _save_channel(self, channel: scp03.ChannelState) -> None:
        self.state["channel"] = base64.b64encode(channel.to_bytes()).decode()

    def _unwrap(self, response: bytes) -> tuple[bytes, int]:
        # Each R-MAC chains on its own command's C-MAC, kept when the turn's commands were wrapped.
        channel = self._channel
        if not self.state.get("cmacs"):
            raise RunRefused("answers_unexpected")
        cmac, counter = self.state["cmacs"].pop(0)
        channel.last_cmac, channel.counter = base64.b64decode(cmac), counter
        try:
            return scp03.unwrap_response(channel, response)
        except scp03.SecureChannelError as exc:
            raise RunRefused("answer_not_authentic") from exc

    def _ok(self, response: bytes) -> bytes:
        data, sw = self._unwrap(response)
        if sw != 0x9000:
            raise RunRefused(f"card_refused_{sw:04x}")
        return data

    def _collect(self, responses: list[bytes]) -> bytes | list[bytes]:
        """An applet command's whole output, or the READ OUTPUT commands to send for the rest of it."""
        if not responses:
            raise RunRefused("answers_missing")
        if "first" not in self.state:
            first = self._ok(responses[0])
            if len(first) < 2:
                raise RunRefused("output_incomplete")
            total = int.from_bytes(first[:2], "big")
            reads = [
                bytes((0x80, ca.INS_READ_OUTPUT, offset >> 8, offset & 0xFF))
                for offset in range(ca.OUTPUT_CHUNK, total, ca.OUTPUT_CHUNK)
            ]
            if reads:
                self.state["first"] = base64.b64encode(first).decode()
                return self._send(*reads)
            chunks = [first[2:]]
        else:
            first = base64.b64decode(self.state.pop("first"))
            chunks = [first[2:], *(self._ok(response) for response in responses)]
        output = b"".join(chunks)
        if len(output) != int.from_bytes(first[:2], "big"):
            raise RunRefused("output_incomplete")
        return output

    def _send(self, *commands: bytes) -> list[bytes]:
        """Wrap a turn's commands; keep each one's C-MAC and counter, on which its answer's R-MAC and R-ENC hang."""
        channel = self._channel
        wrapped, expected = [], []
        for command in commands:
            wrapped.append(scp03.wrap_command(channel, command))
            expected.append([base64.b64encode(channel.last_cmac).decode(), channel.counter])
        self._save_channel(channel)
        self.state["cmacs"] = expected
        return wrapped

    # --- the run ----------------------------------------------------------------------------------

    def start(self) -> list[bytes]:
        """SELECT the management applet and INITIALIZE UPDATE (plain: nothing is open yet)."""
        host_challenge = os.urandom(scp03.CHALLENGE_LEN)
        self.state.update(phase="initialize", host_challenge=host_challenge.hex())
        select = bytes((0x00, 0xA4, 0x04, 0x0C, len(ca.ADMIN_AID))) + ca.ADMIN_AID
        return [select, scp03.initialize_update(host_challenge)]

    def answer(self, responses: list[bytes], progress: Progress) -> list[bytes]:
        """Check the answers to the last turn; the next commands, or [] when the run is over."""
        phase = self.state["phase"]
        handler = getattr(self, f"_after_{phase}", None)
        if handler is None:
            raise RunRefused("answers_unexpected")
        try:
            commands: list[bytes] = handler(responses, progress)
        except RunRefused:
            raise
        except (scp03.SecureChannelError, ValueError, KeyError, IndexError, TypeError) as exc:
            # Whatever came back does not parse as the card's answer (json, DER and hex errors are ValueErrors).
            raise RunRefused("answer_malformed") from exc
        return commands

    def _after_initialize(self, responses: list[bytes], _progress: Progress) -> list[bytes]:
        if len(responses) != 2 or responses[0][-2:] != b"\x90\x00" or responses[1][-2:] != b"\x90\x00":
            raise RunRefused("no_management_applet")
        answer = scp03.InitializeUpdateAnswer.decode(responses[1][:-2])
        host_challenge = bytes.fromhex(self.state["host_challenge"])
        try:
            keys = scp03.session_keys(
                self.issuer.card_keys(answer.diversification), host_challenge, answer.card_challenge
            )
        except IssuerError as exc:
            raise RunRefused("issuer_unreachable") from exc
        expected = scp03.card_cryptogram(keys, host_challenge, answer.card_challenge)
        if expected != answer.card_cryptogram:
            raise RunRefused("card_not_authentic")
        channel = scp03.ChannelState(keys)
        authenticate = scp03.external_authenticate(channel, host_challenge, answer.card_challenge)
        self._save_channel(channel)
        self.state["phase"] = "authenticate"
        return [authenticate]

    def _after_authenticate(self, responses: list[bytes], _progress: Progress) -> list[bytes]:
        if responses != [b"\x90\x00"]:
            raise RunRefused("channel_refused")
        self.state["phase"] = "status"
        return self._send(bytes((0x80, ca.INS_STATUS, 0, 0)))

    def _after_status(self, responses: list[bytes], progress: Progress) -> list[bytes]:
        output = self._collect(responses)
        if isinstance(output, list):
            return output
        status: dict[str, Any] = json.loads(output)
        progress.status_read = True
        certificates: dict[str, dict[str, str]] = status["certificates"]
        operation = Operation(self.state["operation"])
        # The renewal touches only the planned slots: the others are neither compared, revoked nor replaced.
        planned = [Slot(name) for name in self.state.get("planned") or [slot.value for slot in SLOTS]]
        numbers = {str(ca.SLOT_NUMBER[slot]) for slot in planned}
        touched = {number: entry for number, entry in certificates.items() if number in numbers}
        digests = sorted(entry["sha256"] for entry in touched.values())
        committed = sorted(self.state["committed"])
        bound = self.state.get("bound")
        auth = certificates.get(str(ca.SLOT_NUMBER[Slot.auth]), {}).get("sha256")
        if bound and auth not in (bound, *committed, *self.state.get("renewed", [])):
            raise RunRefused("not_the_verified_card")
        if operation is Operation.renew_certificates:
            if committed and digests == committed:
                progress.card_state = CardState.new
                progress.outcome = "renewed"
                self.state["phase"] = "done"
                return []
            progress.card_state = CardState.old
            progress.old_serials = [int(entry["serial"], 16) for entry in touched.values()]
            self.state["slots"] = [slot.value for slot in planned]
            self.state["made"] = {}
            return self._generate_next()
        pin = PinName(self.state["pin"])
        entry = status["pins"].get(pin.value)
        if entry is None:
            raise RunRefused("pin_not_on_card")
        if operation is Operation.authorise_pin_reset:
            self.state["phase"] = "authorise"
            return self._send(bytes((0x80, ca.INS_AUTHORISE_PIN, 0, 0, len(pin.value))) + pin.value.encode())
        # confirm: the card took a new PIN after the authorisation, and its counter is full again.
        before = self.state["pin_changes"] or 0
        if entry["changes"] > before and not entry["authorised"] and entry["tries"] == entry["max"]:
            progress.outcome = "pin_set"
            self.state["phase"] = "done"
            return []
        raise RunRefused("pin_not_set")

    def _after_authorise(self, responses: list[bytes], progress: Progress) -> list[bytes]:
        output = self._collect(responses)
        if isinstance(output, list):
            return output
        status = json.loads(output)
        entry = status["pins"][self.state["pin"]]
        if not entry["authorised"]:
            raise RunRefused("pin_not_authorised")
        self.state["pin_changes"] = entry["changes"]
        progress.outcome = "pin_authorised"
        self.state["phase"] = "done"
        return []

    # renewal: generate → sign → (next slot) → write all → commit

    def _generate_next(self) -> list[bytes]:
        slot = Slot(self.state["slots"][0])
        self.state["phase"] = "generate"
        return self._send(bytes((0x80, ca.INS_GENERATE_PENDING, ca.SLOT_NUMBER[slot], 0)))

    def _after_generate(self, responses: list[bytes], _progress: Progress) -> list[bytes]:
        spki = self._collect(responses)
        if isinstance(spki, list):
            return spki
        try:
            serialization.load_der_public_key(spki)
        except ValueError as exc:
            raise RunRefused("public_key_malformed") from exc
        info = certification_request_info(spki)
        self.state["info"] = base64.b64encode(info).decode()
        slot = Slot(self.state["slots"][0])
        digest_info = SHA256_DIGEST_INFO_PREFIX + hashlib.sha256(info).digest()
        self.state["phase"] = "sign"
        return self._send(
            bytes((0x80, ca.INS_SIGN_PENDING, ca.SLOT_NUMBER[slot], 0, len(digest_info))) + digest_info
        )

    def _after_sign(self, responses: list[bytes], progress: Progress) -> list[bytes]:
        signature = self._collect(responses)
        if isinstance(signature, list):
            return signature
        info = base64.b64decode(self.state.pop("info"))
        slot = Slot(self.state["slots"].pop(0))
        try:
            certificate = self.issuer.issue(slot, certification_request(info, signature))
        except IssuerError as exc:
            raise RunRefused("issuer_refused" if not exc.retriable else "issuer_unreachable") from exc
        serial = x509.load_der_x509_certificate(certificate).serial_number
        progress.new_serials.append(serial)
        self.state["made"][slot.value] = {
            "certificate": base64.b64encode(certificate).decode(),
            "serial": f"{serial:x}",
            "csr_info": base64.b64encode(info).decode(),
            "csr_signature": base64.b64encode(signature).decode(),
        }
        if self.state["slots"]:
            return self._generate_next()
        return self._write()

    def _write(self) -> list[bytes]:
        commands = []
        for name, made in self.state["made"].items():
            certificate = base64.b64decode(made["certificate"])
            number = ca.SLOT_NUMBER[Slot(name)]
            for index, offset in enumerate(range(0, len(certificate), ca.CERTIFICATE_CHUNK)):
                chunk = certificate[offset : offset + ca.CERTIFICATE_CHUNK]
                commands.append(
                    bytes((0x80, ca.INS_WRITE_PENDING_CERTIFICATE, number, index, len(chunk))) + chunk
                )
        self.state["phase"] = "write"
        return self._send(*commands)

    def _after_write(self, responses: list[bytes], progress: Progress) -> list[bytes]:
        if len(responses) != len(self.state["cmacs"]):
            raise RunRefused("answers_missing")
        for response in responses:
            self._ok(response)
        payload = b""
        digests = []
        for name, made in self.state["made"].items():
            digest = hashlib.sha256(base64.b64decode(made["certificate"])).digest()
            payload += bytes((ca.SLOT_NUMBER[Slot(name)],)) + digest
            digests.append(digest.hex())
        # From here the card may be new: the case records the digests before the COMMIT leaves the hub.
        progress.card_state = CardState.unknown
        progress.new_digests = digests
        self.state["phase"] = "commit"
        return self._send(bytes((0x80, ca.INS_COMMIT, 0, 0, len(payload))) + payload)

    def _after_commit(self, responses: list[bytes], progress: Progress) -> list[bytes]:
        if len(responses) != 1:
            raise RunRefused("answers_missing")
        # An authentic refusal (a checked status word) means the card kept everything as it was.
        self._ok(responses[0])
        progress.card_state = CardState.new
        progress.outcome = "renewed"
        progress.issued = {
            name: base64.b64decode(made["certificate"]) for name, made in self.state["made"].items()
        }
        self.state["phase"] = "done"
        return []

    def proofs(self) -> dict[str, tuple[bytes, bytes, bytes]]:
        """Per slot: the issued certificate, the CSR info and the card's signature over it (for verification)."""
        return {
            name: (
                base64.b64decode(made["certificate"]),
                base64.b64decode(made["csr_info"]),
                base64.b64decode(made["csr_signature"]),
            )
            for name, made in self.state.get("made", {}).items()
        }


def utcnow() -> dt.datetime:
    """Now, aware (for the verifier)."""
    return dt.datetime.now(dt.UTC)
