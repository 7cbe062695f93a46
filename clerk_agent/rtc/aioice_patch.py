"""Two patches to aioice 0.13: triggered checks for pairs in progress, and which of equal pairs is checked first.

A triggered check for a pair already in progress: resend its check at once (RFC 8445 §7.3.1.4).

Through TURN, the far side's first check usually reaches our relay before our allocation has a permission for
it and is dropped; its own check towards us meets the same fate on its side. When the far side's check finally
arrives here, aioice 0.13 leaves our pair "in progress" and waits for its retransmission timer (500 ms) instead
of checking again at once as the RFC asks, so a relayed call started ~0.5 s late. This wraps
`aioice.Connection.check_incoming`: on an incoming check for a pair whose first request is still unanswered and
not yet retransmitted, the same request (same transaction id, so its answer still matches) is sent now; the
retransmission schedule is left as it was. Private attributes of aioice are read defensively: if they change,
the patch does nothing and aioice behaves as before.

Equal pairs, nearest first (#18): aioice gives every host candidate the same priority, so pairs of equal
priority are checked in the order the interfaces were listed, 20 ms apart. `sort_check_list` is wrapped to
break those ties by the longest prefix the two addresses share (as RFC 6724 rule 9 orders destinations): a
pair within one subnet is checked before a pair across an unrelated interface. The order of unequal pairs is
aioice's own. This matters beyond the 20 ms: a browser answers our first check with a triggered check of
its own on that pair, so a first check sent from an address the browser cannot reach back (another
interface the kernel happened to route through) left the browser pinging a dead pair while the live one
waited for its next round, ~50–100 ms.

No idle pacing wait (#18): aioice's `connect()` starts at most one check every 20 ms (the Ta timer) and
sleeps those 20 ms even when there was nothing to check — the remote candidates still on their way — and
after the check list completed, so a candidate trickled in just after the answer waited up to 20 ms for its
first check and a completed ICE up to 20 ms more before DTLS could start. For aioice 0.13.0 only,
`connect()` is replaced by the same steps with one change: the wait between two ticks ends early when the
check list completes or fails, and, when the last tick started no check, as soon as a pair is formed. Checks
still go out at most one per 20 ms.

How to drop them once aioice has the behaviour: `docs/live-link.md §10`.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from typing import Any, Final

import aioice.ice
import aioice.stun

log = logging.getLogger(__name__)

_MARK = "_madoguchi_triggered"
_WAKE = "_madoguchi_wake"
_TA_S: Final = 0.02  # aioice's pacing of checks
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


def shared_prefix(local: str, remote: str) -> int:
    """How many leading bits two addresses of one family share; 0 across families or for a name (mDNS)."""
    try:
        a, b = ipaddress.ip_address(local), ipaddress.ip_address(remote)
    except ValueError:
        return 0
    if a.version != b.version:
        return 0
    differ = int(a) ^ int(b)
    return a.max_prefixlen - differ.bit_length()


def nearest_first(connection: aioice.ice.Connection) -> None:
    """Sort the check list as aioice does, ties broken by the addresses' shared prefix (longest first); stable."""
    controlling = connection.ice_controlling

    def key(pair: aioice.ice.CandidatePair) -> tuple[int, int]:
        local, remote = pair.local_candidate, pair.remote_candidate
        priority = aioice.ice.candidate_pair_priority(local, remote, controlling)
        return -priority, -shared_prefix(local.host, remote.host)

    connection._check_list.sort(key=key)


async def connect(self: aioice.ice.Connection) -> None:
    """aioice 0.13.0's `Connection.connect`, its pacing wait ending early (see the module's docstring)."""
    if not self._local_candidates_end:
        raise ConnectionError("Local candidates gathering was not performed")
    if self.remote_username is None or self.remote_password is None:
        raise ConnectionError("Remote username or password is missing")
    for remote_candidate in self._remote_candidates:
        self._pair_remote_candidate(remote_candidate)
    self.sort_check_list()
    self._unfreeze_initial()
    for early_check in self._early_checks:
        self.check_incoming(*early_check)
    self._early_checks.clear()
    self._early_checks_done = True

    wake = asyncio.Event()
    setattr(self, _WAKE, wake)
    outcome: asyncio.Task[int] = asyncio.ensure_future(self._check_list_state.get())
    try:
        while True:
            idle = [pair for pair in self._check_list if pair.task is None]
            wake.clear()
            if not self._check_periodic():
                break
            waits: set[asyncio.Future[Any]] = {outcome}
            if not any(pair.task is not None for pair in idle):
                waits.add(asyncio.ensure_future(wake.wait()))  # nothing checked this tick: until a pair forms
            try:
                await asyncio.wait(waits, timeout=_TA_S, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for waiter in waits - {outcome}:
                    waiter.cancel()
        if self._check_list:
            res = await outcome
        else:
            res = aioice.ice.ICE_FAILED
    finally:
        setattr(self, _WAKE, None)
        if not outcome.done():
            outcome.cancel()

    for check in self._check_list:
        if check.task:
            check.task.cancel()
    if res != aioice.ice.ICE_COMPLETED:
        raise ConnectionError("ICE negotiation failed")
    self._query_consent_task = asyncio.create_task(self.query_consent())


def install() -> None:
    """Wrap aioice's incoming-check handler and check-list sort once per process (idempotent)."""
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
    original_sort = aioice.ice.Connection.sort_check_list

    def sort_check_list(self: aioice.ice.Connection) -> None:
        original_sort(self)
        try:
            nearest_first(self)
        except Exception:  # the patch must never break ICE: aioice's own order stands
            log.debug("aioice patch: nearest-first order skipped", exc_info=True)
        wake = getattr(
            self, _WAKE, None
        )  # pairs were formed or re-ordered: a waiting connect() may check now
        if wake is not None:
            wake.set()

    aioice.ice.Connection.sort_check_list = sort_check_list  # type: ignore[method-assign]
    if aioice.__version__ == "0.13.0":  # the copy of connect() above is of this version's
        aioice.ice.Connection.connect = connect  # type: ignore[method-assign]
    _installed = True
