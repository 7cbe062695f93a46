"""The hub's WebSocket server protocol: uvicorn's websockets-sansio one, with a small message cap before admission.

uvicorn applies one `ws_max_size` to every socket from its first byte (16 MiB by default): a client with no
ticket could make the hub buffer that much per socket before anything checked who it is. Here a socket starts at
`MAX_JOIN_FRAME_BYTES` (the join frame is all it may send before `joined`) and the signaling hub lifts the cap to
`ADMITTED_MAX_MESSAGE_BYTES` once it admitted the socket to a room, through the `ADMITTED_EXTENSION` of the
ASGI scope. A bigger message is refused by the WebSocket layer itself (close 1009), before it reaches the hub.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import Any

from uvicorn.config import Config
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from uvicorn.server import ServerState
from websockets.http11 import Request

from service.wire.signaling import MAX_FRAME_BYTES, MAX_JOIN_FRAME_BYTES

# Twice the wire's frame cap: a frame somewhat over MAX_FRAME_BYTES still reaches the codec and gets its `oversize`
# error frame before the close; anything far over is cut by the WebSocket layer, unbuffered.
ADMITTED_MAX_MESSAGE_BYTES = 2 * MAX_FRAME_BYTES
ADMITTED_EXTENSION = "madoguchi.signaling.admitted"
"""ASGI scope extension: `{"lift_limit": callable}`, called once the socket joined a room."""


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

    def handle_connect(self, event: Request) -> None:
        """Accept as uvicorn does, and offer the hub the way to lift the cap."""
        super().handle_connect(event)
        scope = getattr(self, "scope", None)  # absent when the handshake itself was refused
        if scope is not None:
            extensions = scope.setdefault("extensions", {})
            extensions[ADMITTED_EXTENSION] = {"lift_limit": self._lift_limit}

    def _lift_limit(self) -> None:
        self.conn.max_message_size = ADMITTED_MAX_MESSAGE_BYTES


def lift_limit_of(scope: Mapping[str, Any]) -> Callable[[], None] | None:
    """The scope's cap-lifting callable, when the server is `HubWebSocketProtocol`."""
    extension = (scope.get("extensions") or {}).get(ADMITTED_EXTENSION)
    return extension["lift_limit"] if extension else None


def uvicorn_ws_options() -> dict[str, Any]:
    """uvicorn.Config options of every server that runs the hub (`hub serve`, tests, benches)."""
    # ws_max_size is also the cap of any other server implementation someone swaps in (the hub's own check of
    # a socket's first frame then still holds it to MAX_JOIN_FRAME_BYTES).
    return {"ws": HubWebSocketProtocol, "ws_max_size": ADMITTED_MAX_MESSAGE_BYTES}
