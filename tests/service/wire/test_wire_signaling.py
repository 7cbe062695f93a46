"""The signaling codec: every message round-trips, every bad frame is refused with its stable code."""

from __future__ import annotations

import json

import pytest

from service.wire.signaling import (
    MAX_FRAME_BYTES,
    AnswerMessage,
    ByeMessage,
    CandidateMessage,
    CloseCode,
    ErrorMessage,
    HeartbeatMessage,
    IceServer,
    JoinedMessage,
    JoinMessage,
    MuteMessage,
    OfferMessage,
    RenegotiateMessage,
    SeqCounter,
    SeqGuard,
    SignalingMessage,
    WireError,
    WireErrorCode,
    decode,
    encode,
    error_frame,
)

ROOM = "case_Zx3-k9QpLm2vT8rYw1aBcD"
SDP = "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n"

EVERY_MESSAGE: list[SignalingMessage] = [
    JoinMessage(seq=0, room=ROOM, role="clerk"),
    JoinMessage(seq=1, room=ROOM, role="officer", resume_token="r" * 32),
    JoinedMessage(
        seq=2,
        room=ROOM,
        role="clerk",
        peers_present=["officer"],
        resume_token="t" * 32,
        ice_servers=[
            IceServer(urls=["stun:192.0.2.1:3478"]),
            IceServer(
                urls=["turn:192.0.2.1:3478?transport=udp"], username="1900000000:clerk", credential="c2VjcmV0"
            ),
        ],
        relay_only=True,
        heartbeat_s=10.0,
    ),
    OfferMessage(seq=3, room=ROOM, sdp=SDP),
    OfferMessage(seq=4, room=ROOM, sdp=SDP, ice_restart=True),
    AnswerMessage(seq=5, room=ROOM, sdp=SDP),
    CandidateMessage(
        seq=6,
        room=ROOM,
        candidate="candidate:1 1 udp 2130706431 192.0.2.2 50000 typ host",
        sdp_mid="0",
        sdp_mline_index=0,
    ),
    CandidateMessage(seq=7, room=ROOM, candidate=""),
    ByeMessage(seq=8, room=ROOM, reason="timeout"),
    MuteMessage(seq=9, room=ROOM, kind="audio", muted=True),
    RenegotiateMessage(seq=10, room=ROOM, reason="network change"),
    HeartbeatMessage(seq=11),
    ErrorMessage(seq=12, room=ROOM, code="forbidden", detail="not your case", ref_seq=3),
    ErrorMessage(seq=13, code="oversize"),
]


@pytest.mark.parametrize("msg", EVERY_MESSAGE, ids=lambda m: f"{m.type}-{m.seq}")
def test_every_message_round_trips(msg: SignalingMessage) -> None:
    text = encode(msg)
    back = decode(text)
    assert back == msg
    assert type(back) is type(msg)
    assert decode(text.encode("utf-8")) == msg
    # The discriminator is on the wire, so a console in JavaScript can switch on it.
    assert json.loads(text)["type"] == msg.type


def test_every_type_is_covered() -> None:
    assert {m.type for m in EVERY_MESSAGE} == {
        "join",
        "joined",
        "offer",
        "answer",
        "candidate",
        "bye",
        "mute",
        "renegotiate",
        "heartbeat",
        "error",
    }


def _frame(**fields: object) -> str:
    return json.dumps(fields)


BAD_FRAMES: list[tuple[str, str | bytes, WireErrorCode]] = [
    ("not json", "{not json", WireErrorCode.MALFORMED_JSON),
    ("truncated", '{"type": "heartbeat", "seq": 1', WireErrorCode.MALFORMED_JSON),
    ("invalid utf-8", b'{"type": "heartbeat", "seq": 1, "x": "\xff"}', WireErrorCode.MALFORMED_JSON),
    ("empty", "", WireErrorCode.MALFORMED_JSON),
    ("top-level list", "[1, 2]", WireErrorCode.MALFORMED_JSON),
    ("top-level null", "null", WireErrorCode.MALFORMED_JSON),
    ("top-level string", '"offer"', WireErrorCode.MALFORMED_JSON),
    ("no type", _frame(seq=1), WireErrorCode.UNKNOWN_TYPE),
    ("unknown type", _frame(type="subscribe", seq=1), WireErrorCode.UNKNOWN_TYPE),
    ("type not a string", _frame(type=3, seq=1), WireErrorCode.UNKNOWN_TYPE),
    ("type wrong case", _frame(type="Offer", seq=1, room=ROOM, sdp=SDP), WireErrorCode.UNKNOWN_TYPE),
    ("missing seq", _frame(type="heartbeat"), WireErrorCode.SCHEMA_MISMATCH),
    ("seq as string", _frame(type="heartbeat", seq="1"), WireErrorCode.SCHEMA_MISMATCH),
    ("seq as float", _frame(type="heartbeat", seq=1.5), WireErrorCode.SCHEMA_MISMATCH),
    ("negative seq", _frame(type="heartbeat", seq=-1), WireErrorCode.SCHEMA_MISMATCH),
    ("seq beyond 2**53", _frame(type="heartbeat", seq=2**53), WireErrorCode.SCHEMA_MISMATCH),
    ("extra field", _frame(type="heartbeat", seq=1, admin=True), WireErrorCode.SCHEMA_MISMATCH),
    ("offer without room", _frame(type="offer", seq=1, sdp=SDP), WireErrorCode.SCHEMA_MISMATCH),
    ("offer with empty sdp", _frame(type="offer", seq=1, room=ROOM, sdp=""), WireErrorCode.SCHEMA_MISMATCH),
    (
        "room with slash",
        _frame(type="answer", seq=1, room="../other", sdp=SDP),
        WireErrorCode.SCHEMA_MISMATCH,
    ),
    ("join bad role", _frame(type="join", seq=1, room=ROOM, role="admin"), WireErrorCode.SCHEMA_MISMATCH),
    (
        "mute as string",
        _frame(type="mute", seq=1, room=ROOM, kind="audio", muted="false"),
        WireErrorCode.SCHEMA_MISMATCH,
    ),
    (
        "candidate without m-line",
        _frame(type="candidate", seq=1, room=ROOM, candidate="candidate:1 1 udp 1 192.0.2.2 1 typ host"),
        WireErrorCode.SCHEMA_MISMATCH,
    ),
    (
        "turn without credential",
        _frame(
            type="joined",
            seq=1,
            room=ROOM,
            role="clerk",
            peers_present=[],
            resume_token="t" * 32,
            ice_servers=[{"urls": ["turn:192.0.2.1:3478"]}],
        ),
        WireErrorCode.SCHEMA_MISMATCH,
    ),
    (
        "ice url with another scheme",
        _frame(
            type="joined",
            seq=1,
            room=ROOM,
            role="clerk",
            peers_present=[],
            resume_token="t" * 32,
            ice_servers=[{"urls": ["http://192.0.2.1/"]}],
        ),
        WireErrorCode.SCHEMA_MISMATCH,
    ),
    ("error code with spaces", _frame(type="error", seq=1, code="Bad Thing"), WireErrorCode.SCHEMA_MISMATCH),
]


@pytest.mark.parametrize(
    ("raw", "code"), [(raw, code) for _, raw, code in BAD_FRAMES], ids=[n for n, _, _ in BAD_FRAMES]
)
def test_bad_frames_are_refused_with_their_code(raw: str | bytes, code: WireErrorCode) -> None:
    with pytest.raises(WireError) as caught:
        decode(raw)
    assert caught.value.code is code


def test_frame_at_the_cap_is_accepted_and_one_byte_more_is_oversize() -> None:
    body = encode(OfferMessage(seq=1, room=ROOM, sdp="x" * 50_000))
    # JSON allows trailing whitespace, so pad to exactly the cap without touching the schema limits.
    at_cap = body + " " * (MAX_FRAME_BYTES - len(body))
    assert len(at_cap.encode()) == MAX_FRAME_BYTES
    assert isinstance(decode(at_cap), OfferMessage)

    with pytest.raises(WireError) as caught:
        decode(at_cap + " ")
    assert caught.value.code is WireErrorCode.OVERSIZE
    assert caught.value.close_code is CloseCode.MESSAGE_TOO_BIG


def test_size_is_counted_in_utf8_bytes_not_characters() -> None:
    # 30 000 three-byte characters: 30 000 chars (under the cap), 90 000 bytes (over it).
    wide = json.dumps(
        {"type": "renegotiate", "seq": 1, "room": ROOM, "reason": "窓" * 30_000}, ensure_ascii=False
    )
    assert len(wide) < MAX_FRAME_BYTES
    with pytest.raises(WireError) as caught:
        decode(wide)
    assert caught.value.code is WireErrorCode.OVERSIZE


def test_huge_bytes_are_refused_before_parsing() -> None:
    with pytest.raises(WireError) as caught:
        decode(b"[" * (10 * MAX_FRAME_BYTES))
    assert caught.value.code is WireErrorCode.OVERSIZE


def test_encode_refuses_a_frame_the_peer_would_refuse() -> None:
    largest = OfferMessage(seq=1, room=ROOM, sdp="s" * 60_000)
    assert decode(encode(largest)) == largest  # 60 000 + envelope is still under 64 KiB
    # A JSON-escaped SDP grows on the wire: 60 000 control characters become 360 000 bytes.
    escaped = OfferMessage(seq=1, room=ROOM, sdp="\x01" * 60_000)
    with pytest.raises(WireError) as caught:
        encode(escaped)
    assert caught.value.code is WireErrorCode.OVERSIZE


def test_error_frame_and_close_codes_follow_the_error() -> None:
    with pytest.raises(WireError) as refused:
        decode("{")
    frame = error_frame(refused.value, seq=7, room=ROOM)
    assert refused.value.close_code is CloseCode.INVALID_PAYLOAD
    assert frame.code == "malformed_json"
    assert decode(encode(frame)) == frame
    with pytest.raises(WireError) as caught:
        decode(_frame(type="nope", seq=1))
    assert caught.value.close_code is CloseCode.PROTOCOL_ERROR
    # Application close codes stay in the private range; standard ones are the RFC 6455 values.
    assert all(
        4000 <= c < 5000
        for c in CloseCode
        if c.name
        not in {
            "NORMAL",
            "GOING_AWAY",
            "INVALID_PAYLOAD",
            "POLICY_VIOLATION",
            "MESSAGE_TOO_BIG",
            "INTERNAL_ERROR",
        }
    )
    assert int(CloseCode.MESSAGE_TOO_BIG) == 1009


def test_seq_guard_refuses_replays_and_regressions() -> None:
    counter = SeqCounter()
    guard = SeqGuard()
    first = HeartbeatMessage(seq=counter.next())
    second = HeartbeatMessage(seq=counter.next())
    guard.check(first)
    guard.check(second)
    assert (first.seq, second.seq) == (0, 1)
    for replay in (second, first):
        with pytest.raises(WireError) as caught:
            guard.check(replay)
        assert caught.value.code is WireErrorCode.STALE_SEQ
    guard.check(HeartbeatMessage(seq=10))  # gaps are fine: a sender may drop frames it never sent


def test_messages_are_immutable() -> None:
    msg = MuteMessage(seq=1, room=ROOM, kind="video", muted=False)
    with pytest.raises(ValueError, match="frozen"):
        msg.muted = True  # type: ignore[misc]
