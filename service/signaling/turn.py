"""ICE servers for a participant, with coturn `use-auth-secret` TURN credentials minted per principal.

coturn's REST scheme: username = "<expiry unix>:<user>", credential = base64(HMAC-SHA1(static secret, username)).
The server checks the MAC and the expiry itself, so no state is shared with it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Sequence

from service.config import IceServerSetting
from service.wire.signaling import IceServer


def turn_credential(secret: str, username: str) -> str:
    """base64(HMAC-SHA1(secret, username)), as coturn computes it."""
    return base64.b64encode(hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()).decode()


def mint_turn_username(principal_id: str, *, ttl_s: int, now: float | None = None) -> str:
    """ "<expiry unix>:<principal id>"."""
    expiry = int(time.time() if now is None else now) + ttl_s
    return f"{expiry}:{principal_id}"


def ice_servers_for(
    servers: Sequence[IceServerSetting],
    *,
    principal_id: str,
    turn_secret: str,
    ttl_s: int,
    now: float | None = None,
) -> list[IceServer]:
    """The configured servers for one participant; TURN entries without fixed credentials get minted ones."""
    out: list[IceServer] = []
    for server in servers:
        is_turn = any(url.startswith("turn") for url in server.urls)
        if is_turn and server.username is None:
            username = mint_turn_username(principal_id, ttl_s=ttl_s, now=now)
            out.append(
                IceServer(
                    urls=list(server.urls),
                    username=username,
                    credential=turn_credential(turn_secret, username),
                )
            )
        elif is_turn:
            out.append(
                IceServer(urls=list(server.urls), username=server.username, credential=server.credential)
            )
        else:
            # STUN takes no credentials; passing them would only leak configuration to the client.
            out.append(IceServer(urls=list(server.urls)))
    return out
