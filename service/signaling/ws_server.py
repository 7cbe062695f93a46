"""The hub's WebSocket server protocol: uvicorn's websockets-sansio one, with a small message cap before admission.

uvicorn applies one `ws_max_size` to every socket from its first byte (16 MiB by default): a client with no
ticket could make the hub buffer that much per socket before anything checked who it is. Here a socket starts at
`MAX_JOIN_FRAME_BYTES` (the join frame is all it may send before `joined`) and the signaling hub lifts the cap to
`ADMITTED_MAX_MESSAGE_BYTES` once it admitted the socket to a room, through the `ADMITTED_EXTENSION` of the
ASGI scope. A bigger message is refused by the WebSocket layer itself (close 1009), before it reaches the hub.

The same extension offers `send_now`: a relayed frame is written to the socket from the sender's reader at once
when nothing is queued ahead of it, instead of waking the recipient's writer task for it (#18). And `take_frames`:
once the hub has admitted a socket, each text frame that arrives while nothing is queued is handed to the hub's
synchronous check-and-relay at once, from the protocol's `data_received`, instead of going through the ASGI
receive queue, a task wake-up and a pause/resume of the socket's reading (two `epoll_ctl` calls) per frame. A
frame the fast path does not take (anything the hub would refuse, or any frame when the bus cannot publish
without waiting) goes the ASGI way as before, and so does every frame behind it. The server negotiates no
permessage-deflate (see `uvicorn_ws_options`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import Any

from uvicorn.config import Config
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from uvicorn.server import ServerState
from websockets.exceptions import InvalidState
from websockets.http11 import Request

from service.wire.signaling import MAX_FRAME_BYTES, MAX_JOIN_FRAME_BYTES

# Twice the wire's frame cap: a frame somewhat over MAX_FRAME_BYTES still reaches the codec and gets its `oversize`
# error frame before the close; anything far over is cut by the WebSocket layer, unbuffered.
ADMITTED_MAX_MESSAGE_BYTES = 2 * MAX_FRAME_BYTES
ADMITTED_EXTENSION = "madoguchi.signaling.admitted"
"""ASGI scope extension: `{"lift_limit", "send_now", "take_frames"}` callables (see `HubWebSocketProtocol`)."""

FrameSink = Callable[[str], bool]
"""Takes one text frame synchronously; False: not taken, the frame goes to the ASGI receive queue instead."""


class HubWebSocketProtocol(WebSocketsSansIOProtocol):
    """websockets-sansio with `MAX_JOIN_FRAME_BYTES` per message until the hub admits the socket."""

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        # websockets reads this before each frame it parses, so lowering it now and lifting it later both hold.
        self.conn.max_message_size = MAX_JOIN_FRAME_BYTES
        self._sink: FrameSink | None = None

    def handle_connect(self, event: Request) -> None:
        """Accept as uvicorn does, and offer the hub the way to lift the cap."""
        super().handle_connect(event)
        scope = getattr(self, "scope", None)  # absent when the handshake itself was refused
        if scope is not None:
            extensions = scope.setdefault("extensions", {})
            extensions[ADMITTED_EXTENSION] = {
                "lift_limit": self._lift_limit,
                "send_now": self._send_now,
                "take_frames": self._take_frames,
            }

    def _lift_limit(self) -> None:
        self.conn.max_message_size = ADMITTED_MAX_MESSAGE_BYTES

    def _take_frames(self, sink: FrameSink | None) -> None:
        self._sink = sink

    def send_receive_event_to_app(self) -> None:
        """A whole message arrived: to the hub's sink when it takes it, else into the ASGI queue (uvicorn's way)."""
        sink = self._sink
        # Only with nothing queued: a frame must never overtake one still waiting for the app's receive.
        if (
            sink is not None
            and self.curr_msg_data_type == "text"
            and len(self.frames) == 1
            and not self.close_sent
            and self.queue.empty()
        ):
            try:
                text = self.frames[0].decode()
            except UnicodeDecodeError:
                pass  # uvicorn's own path closes with 1007
            else:
                if sink(text):
                    self.frames = []
                    return
        super().send_receive_event_to_app()

    def _send_now(self, text: str) -> bool:
        """Write one text frame now if the socket takes it without waiting; False: send it the ASGI way.

        What the ASGI `websocket.send` does once it is past its wait for a writable transport, minus that wait
        and the coroutine around it. False when the transport's buffer is above its high-water mark (the ASGI
        send would wait: a frame queued behind it must not overtake it) or the socket is not open for frames.
        """
        if (
            not self.handshake_complete
            or self.close_sent
            or self.disconnected
            or self.initial_response is not None
            or not self.writable.is_set()
        ):
            return False
        try:
            self.conn.send_text(text.encode())
            self.transport.write(b"".join(self.conn.data_to_send()))
        except (InvalidState, RuntimeError):
            # Closing under us (a close frame from the client, a transport closed meanwhile): the ASGI send
            # of the queued frame then fails the same way, and the writer ends.
            return False
        return True


def lift_limit_of(scope: Mapping[str, Any]) -> Callable[[], None] | None:
    """The scope's cap-lifting callable, when the server is `HubWebSocketProtocol`."""
    extension = (scope.get("extensions") or {}).get(ADMITTED_EXTENSION)
    return extension["lift_limit"] if extension else None


def send_now_of(scope: Mapping[str, Any]) -> Callable[[str], bool] | None:
    """The scope's synchronous text send, when the server is `HubWebSocketProtocol`."""
    extension = (scope.get("extensions") or {}).get(ADMITTED_EXTENSION)
    return extension["send_now"] if extension else None


def take_frames_of(scope: Mapping[str, Any]) -> Callable[[FrameSink | None], None] | None:
    """The scope's way to install (or remove, with None) a synchronous frame sink, when the server offers one."""
    extension = (scope.get("extensions") or {}).get(ADMITTED_EXTENSION)
    return extension["take_frames"] if extension else None


def uvicorn_ws_options() -> dict[str, Any]:
    """uvicorn.Config options of every server that runs the hub (`hub serve`, tests, benches)."""
    # ws_max_size is also the cap of any other server implementation someone swaps in (the hub's own check of
    # a socket's first frame then still holds it to MAX_JOIN_FRAME_BYTES).
    # No permessage-deflate (uvicorn offers it by default, and browsers and `websockets` clients take it): it
    # cost the relay ~20 µs of CPU per frame for frames of a few hundred bytes to a few KiB (#18), and a zlib
    # context per socket and direction; nor would it mix peer-chosen text (SDPs) with the joined frame's resume
    # token in one compression context.
    return {
        "ws": HubWebSocketProtocol,
        "ws_max_size": ADMITTED_MAX_MESSAGE_BYTES,
        "ws_per_message_deflate": False,
    }
