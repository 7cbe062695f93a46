"""What the licence and residence readers share: sending APDUs, reading a whole transparent EF, wiping secrets."""

from __future__ import annotations

from clerk_agent.card import apdu
from clerk_agent.card.apdu import SW, Command, Response, parse_response
from clerk_agent.card.transport import Transport
from clerk_agent.errors import ApduFailed, CardDataMalformed

# A licence's or residence card's largest file (the residence card-face TIFF) stays well under this; a file that
# claims more is not the document's.
MAX_FILE = 32 * 1024
CHUNK = 0xE0  # short Le that every contactless reader in the field passes through


def wipe(secret: bytearray) -> None:
    """Overwrite a secret in place, then empty it."""
    secret[:] = b"\x00" * len(secret)
    secret.clear()


class JpChipSession:
    """APDU helpers over one transport; counts APDUs for the bench."""

    def __init__(self, transport: Transport) -> None:
        self.transport = transport
        self.apdu_count = 0

    def send(self, command: Command | bytes | bytearray) -> Response:
        """Transmit one APDU."""
        raw = command.encode() if isinstance(command, Command) else command
        self.apdu_count += 1
        return parse_response(self.transport.transmit(raw))

    def select_mf(self) -> None:
        """SELECT the master file."""
        apdu.expect_ok(self.send(Command(0x00, apdu.INS_SELECT, 0x00, 0x00)), "SELECT MF")

    def select_df(self, aid: bytes) -> bool:
        """SELECT a DF by name; False when the card has no such DF."""
        rsp = self.send(apdu.select_df(aid))
        if rsp.sw in (SW.FILE_NOT_FOUND, SW.WRONG_P1P2):
            return False
        apdu.expect_ok(rsp, f"SELECT DF {aid.hex().upper()}")
        return True

    def read_file(self, first: Command, what: str) -> bytes:
        """Read one EF to its end: `first` fixes the EF (by SFI) or reads the selected one at offset 0.

        Reads CHUNK bytes at a time until a short answer, 6B00 or 6282; the TLVs are then cut from any filler
        after them (00 or FF), which the caller never sees.
        """
        data = bytearray(expect(self.send(first), f"READ BINARY {what}"))
        last = len(data)
        while last >= CHUNK:
            if len(data) >= MAX_FILE:
                raise CardDataMalformed(f"{what} is larger than any file of this document")
            rsp = self.send(apdu.read_binary(len(data), CHUNK))
            if rsp.sw in (SW.WRONG_OFFSET, SW.END_OF_FILE):
                break
            chunk = expect(rsp, f"READ BINARY {what}")
            data += chunk
            last = len(chunk)
        return trim_tlvs(bytes(data), what)


def trim_tlvs(buf: bytes, what: str) -> bytes:
    """The TLVs at the start of `buf`, without the filler after them; CardDataMalformed if they do not parse."""
    try:
        objects = apdu.iter_tlvs(buf)
    except apdu.TlvError as exc:
        raise CardDataMalformed(f"{what} is not TLV-structured: {exc}") from exc
    if not objects:
        raise CardDataMalformed(f"{what} is empty")
    return b"".join(o.raw for o in objects)


def expect(rsp: Response, what: str) -> bytes:
    """9000 data, else ApduFailed."""
    if not rsp.ok:
        raise ApduFailed(rsp.sw, what)
    return rsp.data
