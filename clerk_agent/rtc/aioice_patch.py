"""A triggered check for a pair already in progress: resend its check at once (RFC 8445 §7.3.1.4).

Through TURN, the far side's first check usually reaches our relay before our allocation has a permission for
it and is dropped; its own check towards us meets the same fate on its side. When the far side's check finally
arrives here, aioice 0.13 leaves our pair "in progress" and waits for its retransmission timer (500 ms) instead
of checking again at once as the RFC asks, so a relayed call started ~0.5 s late. This wraps
`aioice.Connection.check_incoming`: on an incoming check for a pair whose first request is still unanswered and
not yet retransmitted, the same request (same transaction id, so its answer still matches) is sent now; the
retransmission schedule is left as it was. Private attributes of aioice are read defensively: if they change,
the patch does nothing and aioice behaves as before.

How to drop it once aioice has the behaviour: `docs/live-link.md §10`.
"""

from __future__ import annotations

import logging
from typing import Any

import aioice.ice
import aioice.stun

log = logging.getLogger(__name__)

_MARK = "_madoguchi_triggered"
_installed = False


def _nudge(connection: aioice.ice.Connection, addr: tuple[str, int], protocol: Any) -> None:
    component = getattr(getattr(protocol, "local_candidate", None), "component", None)
    pair = next(
        (
            p
            for p in getattr(connection, "_check_list", ())
            if p.protocol is protocol and p.remote_addr == addr and p.component == component
        ),
        None,
    )
    if pair is None or pair.state != aioice.ice.CandidatePair.State.IN_PROGRESS:
        return
    for transaction in list(getattr(protocol, "transactions", {}).values()):
        if getattr(transaction, "_Transaction__addr", None) != addr or getattr(transaction, _MARK, False):
            continue
        if getattr(transaction, "_Transaction__tries", None) != 1:
            continue  # already retransmitted: the timer is doing its work
        setattr(transaction, _MARK, True)
        request = getattr(transaction, "_Transaction__request", None)
        if isinstance(request, aioice.stun.Message):
            protocol.send_stun(request, addr)


def install() -> None:
    """Wrap aioice's incoming-check handler once per process (idempotent)."""
    global _installed
    if _installed:
        return
    original = aioice.ice.Connection.check_incoming

    def check_incoming(self: aioice.ice.Connection, message: Any, addr: Any, protocol: Any) -> None:
        try:
            _nudge(self, addr, protocol)
        except Exception:  # the patch must never break ICE
            log.debug("aioice patch: triggered check skipped", exc_info=True)
        original(self, message, addr, protocol)

    aioice.ice.Connection.check_incoming = check_incoming  # type: ignore[method-assign]
    _installed = True
