"""Signaling wire format (シグナリング) between the clerk agent, the hub and the officer's console.

Every frame is one JSON object with a `type` discriminator and a per-sender monotonic `seq`. `decode` is the
only way in and `encode` the only way out, so the 64 KiB cap and the error codes hold on every path.
This module imports nothing from the hub: clerk_agent imports it without SQLAlchemy or FastAPI.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import IntEnum, StrEnum
from typing import Annotated, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, model_validator

MAX_FRAME_BYTES: Final = 64 * 1024
"""Hard cap on one encoded frame; an aiortc SDP with host candidates is 2–4 KiB."""
MAX_JOIN_FRAME_BYTES: Final = 4 * 1024
"""Cap on anything a socket sends before it is admitted: the join frame (room, role, resume token) is < 400 bytes.
A client sends nothing else before its `joined` arrives."""

# Case ids come from service.kit.ids.random_id ("case_" + urlsafe base64), which this pattern admits.
RoomId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
Seq = Annotated[int, Field(ge=0, le=2**53 - 1)]  # 2**53: a JavaScript console must read it exactly
Sdp = Annotated[str, Field(min_length=1, max_length=60_000)]
ShortText = Annotated[str, Field(max_length=500)]
Role = Literal["clerk", "officer"]
MediaKind = Literal["audio", "video"]


class WireErrorCode(StrEnum):
    """Stable codes for a refused frame; clients switch on these, never on the detail text."""

    OVERSIZE = "oversize"
    MALFORMED_JSON = "malformed_json"
    UNKNOWN_TYPE = "unknown_type"
    SCHEMA_MISMATCH = "schema_mismatch"
    STALE_SEQ = "stale_seq"


class CloseCode(IntEnum):
    """WebSocket close codes used by the signaling endpoint (RFC 6455 §7.4; 4000–4999 are ours)."""

    NORMAL = 1000
    GOING_AWAY = 1001
    INVALID_PAYLOAD = 1007
    POLICY_VIOLATION = 1008
    MESSAGE_TOO_BIG = 1009
    INTERNAL_ERROR = 1011
    PROTOCOL_ERROR = 4000
    UNAUTHENTICATED = 4001
    FORBIDDEN = 4003
    ROOM_NOT_FOUND = 4004
    RATE_LIMITED = 4008
    REPLACED = 4009
    RESUME_REJECTED = 4010
    HEARTBEAT_TIMEOUT = 4011


_CLOSE_FOR_ERROR: Final = {
    WireErrorCode.OVERSIZE: CloseCode.MESSAGE_TOO_BIG,
    WireErrorCode.MALFORMED_JSON: CloseCode.INVALID_PAYLOAD,
    WireErrorCode.UNKNOWN_TYPE: CloseCode.PROTOCOL_ERROR,
    WireErrorCode.SCHEMA_MISMATCH: CloseCode.PROTOCOL_ERROR,
    WireErrorCode.STALE_SEQ: CloseCode.PROTOCOL_ERROR,
}


class WireError(ValueError):
    """A frame that cannot be accepted; `code` is stable, `close_code` is what the socket closes with."""

    def __init__(self, code: WireErrorCode, detail: str) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail

    @property
    def close_code(self) -> CloseCode:
        """The WebSocket close code for this refusal."""
        return _CLOSE_FOR_ERROR[self.code]


class _Frame(BaseModel):
    # strict: "seq": "5" or "muted": "false" from a hostile client is a schema mismatch, not coerced.
    # forbid: unknown fields are refused so a typo never silently drops data.
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)

    seq: Seq


class IceServer(BaseModel):
    """One STUN/TURN server as the hub hands it to a participant (TURN credentials are time-limited)."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)

    urls: Annotated[
        list[Annotated[str, Field(pattern=r"^(stun|stuns|turn|turns):[^\s]+$", max_length=500)]],
        Field(min_length=1, max_length=8),
    ]
    username: Annotated[str, Field(max_length=500)] | None = None
    credential: Annotated[str, Field(max_length=500)] | None = None

    @model_validator(mode="after")
    def _turn_needs_credentials(self) -> IceServer:
        if any(url.startswith("turn") for url in self.urls) and (
            self.username is None or self.credential is None
        ):
            raise ValueError("a TURN server needs a username and a credential")
        return self


class JoinMessage(_Frame):
    """A participant asks to enter the room of a case (resume_token rejoins after a dropped socket)."""

    type: Literal["join"] = "join"
    room: RoomId
    role: Role
    resume_token: Annotated[str, Field(min_length=16, max_length=128)] | None = None


class JoinedMessage(_Frame):
    """The hub admits a participant: who is present, how to resume, which ICE servers to use."""

    type: Literal["joined"] = "joined"
    room: RoomId
    role: Role
    peers_present: Annotated[list[Role], Field(max_length=2)]
    resume_token: Annotated[str, Field(min_length=16, max_length=128)]
    ice_servers: Annotated[list[IceServer], Field(max_length=8)]
    relay_only: bool = False
    heartbeat_s: Annotated[float, Field(gt=0, le=300)] = 15.0


class OfferMessage(_Frame):
    """An SDP offer; aiortc's offers already carry every candidate (no trickle on that side)."""

    type: Literal["offer"] = "offer"
    room: RoomId
    sdp: Sdp
    ice_restart: bool = False


class AnswerMessage(_Frame):
    """An SDP answer to the latest offer."""

    type: Literal["answer"] = "answer"
    room: RoomId
    sdp: Sdp


class CandidateMessage(_Frame):
    """A trickled ICE candidate; `candidate=""` is end-of-candidates, as in the browser API."""

    type: Literal["candidate"] = "candidate"
    room: RoomId
    candidate: Annotated[str, Field(max_length=1000)]
    sdp_mid: Annotated[str, Field(max_length=64)] | None = None
    sdp_mline_index: Annotated[int, Field(ge=0, le=64)] | None = None

    @model_validator(mode="after")
    def _needs_media_line(self) -> CandidateMessage:
        # A candidate that names no m-line cannot be applied by either side.
        if self.candidate and self.sdp_mid is None and self.sdp_mline_index is None:
            raise ValueError("a candidate needs sdp_mid or sdp_mline_index")
        return self


ByeReason = Literal["hangup", "timeout", "peer_failed", "shutdown", "revoked"]


class ByeMessage(_Frame):
    """A participant leaves the call ("revoked": the hub closed the other side's socket on revocation)."""

    type: Literal["bye"] = "bye"
    room: RoomId
    reason: ByeReason = "hangup"


class MuteMessage(_Frame):
    """A participant muted or unmuted one of its tracks, so the far side can show it."""

    type: Literal["mute"] = "mute"
    room: RoomId
    kind: MediaKind
    muted: bool


class RenegotiateMessage(_Frame):
    """Ask the offerer for a new offer, e.g. an ICE restart after a network drop."""

    type: Literal["renegotiate"] = "renegotiate"
    room: RoomId
    ice_restart: bool = True
    reason: ShortText = ""


class HeartbeatMessage(_Frame):
    """Keeps the socket alive and proves the sender is still there."""

    type: Literal["heartbeat"] = "heartbeat"


class ErrorMessage(_Frame):
    """The hub or a peer refuses something; `ref_seq` names the refused frame when it was readable."""

    type: Literal["error"] = "error"
    room: RoomId | None = None
    code: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[a-z0-9_]+$")]
    detail: ShortText = ""
    ref_seq: Seq | None = None


# Which frames each role may send (the hub relays nothing else; join and heartbeat are the hub's business, and
# `joined` and `error` come only from the hub). The counter offers, the officer answers and asks for a new offer.
CLERK_SENDS: Final = frozenset({"offer", "candidate", "mute", "bye"})
OFFICER_SENDS: Final = frozenset({"answer", "candidate", "mute", "bye", "renegotiate"})
SENDABLE_BY: Final[dict[str, frozenset[str]]] = {"clerk": CLERK_SENDS, "officer": OFFICER_SENDS}


SignalingMessage = Annotated[
    JoinMessage
    | JoinedMessage
    | OfferMessage
    | AnswerMessage
    | CandidateMessage
    | ByeMessage
    | MuteMessage
    | RenegotiateMessage
    | HeartbeatMessage
    | ErrorMessage,
    Field(discriminator="type"),
]

_ADAPTER: Final[TypeAdapter[SignalingMessage]] = TypeAdapter(SignalingMessage)
_VALIDATE_JSON: Final[Callable[[str | bytes], SignalingMessage]] = _ADAPTER.validator.validate_json
_UNKNOWN_TYPE_ERRORS: Final = frozenset({"union_tag_invalid", "union_tag_not_found"})


def decode(raw: str | bytes) -> SignalingMessage:
    """Parse one frame; raise WireError (oversize, malformed_json, unknown_type, schema_mismatch)."""
    # A str has at most as many characters as UTF-8 bytes: refuse a huge one before encoding it.
    size = len(raw)
    # Measured without a copy when it cannot matter: an ASCII str is as long in UTF-8 (the relay's hot path).
    if isinstance(raw, str) and size <= MAX_FRAME_BYTES and not raw.isascii():
        size = len(raw.encode("utf-8", "surrogatepass"))
    if size > MAX_FRAME_BYTES:
        raise WireError(WireErrorCode.OVERSIZE, f"{size} bytes > {MAX_FRAME_BYTES}")
    try:
        # The adapter's validator itself: `TypeAdapter.validate_json` only forwards its defaults to it, and that
        # layer was a sixth of decode's time on the relay's hot path (#18).
        return _VALIDATE_JSON(raw)
    except ValidationError as exc:
        raise _classify(exc) from exc


def _classify(exc: ValidationError) -> WireError:
    errors = exc.errors(include_url=False, include_input=False)
    kinds = {error["type"] for error in errors}
    if "json_invalid" in kinds:
        return WireError(WireErrorCode.MALFORMED_JSON, "not valid UTF-8 JSON")
    if any(error["type"] == "dict_type" and not error["loc"] for error in errors):
        # A discriminated union reports a non-object top level (list, number, null) this way.
        return WireError(WireErrorCode.MALFORMED_JSON, "a frame must be a JSON object")
    if kinds & _UNKNOWN_TYPE_ERRORS:
        return WireError(WireErrorCode.UNKNOWN_TYPE, "missing or unknown `type`")
    first = errors[0]
    where = ".".join(str(part) for part in first["loc"][1:]) or "frame"
    return WireError(WireErrorCode.SCHEMA_MISMATCH, f"{where}: {first['msg']}")


def encode(msg: SignalingMessage) -> str:
    """Serialise one frame; refuse one that a peer's decode would refuse for size."""
    # The model's serializer itself, as `model_dump_json()` with its defaults calls it, without the keyword
    # plumbing around it (more than half of encode's time on the relay's hot path, #18).
    text = msg.__pydantic_serializer__.to_json(msg).decode()
    size = len(text) if text.isascii() else len(text.encode("utf-8"))
    if size > MAX_FRAME_BYTES:
        raise WireError(WireErrorCode.OVERSIZE, f"{size} bytes > {MAX_FRAME_BYTES}")
    return text


def error_frame(
    exc: WireError, *, seq: int, room: str | None = None, ref_seq: int | None = None
) -> ErrorMessage:
    """The error frame a receiver sends back before closing with `exc.close_code`."""
    return ErrorMessage(seq=seq, room=room, code=exc.code.value, detail=exc.detail[:500], ref_seq=ref_seq)


class SeqCounter:
    """Numbers outgoing frames of one sender: 0, 1, 2, …"""

    def __init__(self, start: int = 0) -> None:
        self._next = start

    def next(self) -> int:
        """The seq for the next outgoing frame."""
        value = self._next
        self._next += 1
        return value


class SeqGuard:
    """Refuses a frame whose seq does not increase, so a replayed or reordered frame is never applied."""

    def __init__(self) -> None:
        self.last: int | None = None

    def verify(self, msg: SignalingMessage) -> None:
        """Raise WireError(stale_seq) if `msg` would be refused; change nothing."""
        if self.last is not None and msg.seq <= self.last:
            raise WireError(WireErrorCode.STALE_SEQ, f"seq {msg.seq} after {self.last}")

    def check(self, msg: SignalingMessage) -> None:
        """Accept `msg` or raise WireError(stale_seq)."""
        self.verify(msg)
        self.last = msg.seq
