"""APDU encoding, status words, BER-TLV parsing and the PC/SC Part 10 PIN structure."""

from __future__ import annotations

import struct

import pytest

from clerk_agent.card import apdu, part10
from clerk_agent.errors import ApduFailed


def test_short_and_extended_encodings() -> None:
    assert (
        apdu.select_df(bytes.fromhex("D392F000260100000001")).encode().hex()
        == "00a4040c0ad392f000260100000001"
    )
    assert apdu.read_binary(0x0100, 256).encode().hex() == "00b0010000"
    assert apdu.read_binary(0, 1).encode().hex() == "00b0000001"
    assert apdu.read_binary_sfi(0x0A, 0, 256).encode().hex() == "00b08a0000"
    assert apdu.verify_query(0x98).encode().hex() == "00200098"
    # Extended Le without data: 00 then two bytes.
    assert apdu.read_binary(0, 0x1000).encode().hex() == "00b00000001000"
    signature = apdu.compute_signature(apdu.sha256_digest_info(bytes(32)), 0x97).encode()
    assert signature[:5].hex() == "802a009733"
    assert signature[-1] == 0x00
    assert len(signature) == 5 + 51 + 1


def test_offsets_and_sfi_limits_are_enforced() -> None:
    with pytest.raises(ValueError, match="15 bits"):
        apdu.read_binary(0x8000, 1)
    with pytest.raises(ValueError, match="SFI"):
        apdu.read_binary_sfi(0x1F, 0, 1)


def test_parse_response_and_retries() -> None:
    rsp = apdu.parse_response(bytes.fromhex("0102639000"))
    assert rsp.data == bytes.fromhex("010263")
    assert rsp.ok
    assert apdu.retries_from_sw(0x63C2) == 2
    assert apdu.retries_from_sw(0x63C0) == 0
    assert apdu.retries_from_sw(0x6300) is None
    assert apdu.retries_from_sw(0x6984) is None
    with pytest.raises(ApduFailed):
        apdu.parse_response(b"\x90")
    with pytest.raises(ApduFailed) as raised:
        apdu.expect_ok(apdu.Response(b"", 0x6A82), "SELECT")
    assert raised.value.sw == 0x6A82


@pytest.mark.parametrize(
    ("head", "size"),
    [
        (bytes.fromhex("308204d2"), 4 + 0x04D2),
        (bytes.fromhex("3081c8"), 3 + 0xC8),
        (bytes.fromhex("3005"), 2 + 5),
        (bytes.fromhex("ff20820b00"), 5 + 0x0B00),  # two-byte tag
        (bytes.fromhex("df2108"), 3 + 8),
    ],
)
def test_tlv_total_size(head: bytes, size: int) -> None:
    assert apdu.tlv_total_size(head) == size


@pytest.mark.parametrize(
    "head", [b"", bytes.fromhex("30"), bytes.fromhex("3080"), bytes.fromhex("3082"), b"\x1f"]
)
def test_tlv_total_size_rejects_truncated_and_indefinite(head: bytes) -> None:
    with pytest.raises(apdu.TlvError):
        apdu.tlv_total_size(head)


def test_iter_tlvs_reads_ff_tags_but_stops_at_filler() -> None:
    body = apdu.encode_tlv(0xDF22, b"19850412") + apdu.encode_tlv(0xDF23, b"2")
    blob = apdu.encode_tlv(0xFF20, body) + b"\xff\xff\xff"
    (outer,) = apdu.iter_tlvs(blob)
    assert outer.tag == 0xFF20
    assert outer.raw == blob[:-3]
    assert [(t.tag, t.value) for t in apdu.iter_tlvs(outer.value)] == [(0xDF22, b"19850412"), (0xDF23, b"2")]
    assert apdu.iter_tlvs(b"\x00\x00") == []


@pytest.mark.parametrize("length", [0, 0x7F, 0x80, 0xFF, 0x100, 0x1234])
def test_encode_tlv_round_trips(length: int) -> None:
    encoded = apdu.encode_tlv(0xDF27, bytes(length))
    assert apdu.tlv_total_size(encoded) == len(encoded)
    (tlv,) = apdu.iter_tlvs(encoded)
    assert len(tlv.value) == length


def test_pin_verify_structure_layout() -> None:
    structure = part10.pin_verify_structure(bytes.fromhex("00200098"), 4)
    fields = struct.unpack("<BBBBBHBBHB3sI", structure[:19])
    assert fields[2] == 0x82  # ASCII, byte units
    assert fields[5] == 0x0404  # exactly four digits
    assert fields[11] == 9  # ulDataLength: header + Lc + 4 placeholder bytes
    assert structure[19:] == bytes.fromhex("0020009804") + b"0000"
    with pytest.raises(ValueError, match="CLA INS P1 P2"):
        part10.pin_verify_structure(b"\x00\x20", 4)


def test_parse_features_finds_verify_pin_direct() -> None:
    raw = bytes.fromhex("0604423300dc") + bytes.fromhex("1204423300e4")
    assert part10.parse_features(raw) == {0x06: 0x423300DC, 0x12: 0x423300E4}
    assert part10.parse_features(b"") == {}
    assert part10.parse_features(bytes.fromhex("0602aabb")) == {}
