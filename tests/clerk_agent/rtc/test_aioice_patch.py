"""The aioice patches: a triggered check for a pair in progress, equal pairs nearest first, no idle pacing wait."""

from __future__ import annotations

from typing import Any

import aioice.ice
import aioice.stun

from clerk_agent.rtc import aioice_patch

REMOTE = ("10.213.0.2", 50000)


class RecordingProtocol:
    """Below the unit under test: what aioice's StunProtocol offers a transaction (send_stun, transactions)."""

    def __init__(self) -> None:
        self.local_candidate = aioice.Candidate(
            foundation="1",
            component=1,
            transport="udp",
            priority=1,
            host="10.213.0.1",
            port=40000,
            type="relay",
        )
        self.transactions: dict[bytes, aioice.stun.Transaction] = {}
        self.sent: list[tuple[bytes, tuple[str, int]]] = []

    def send_stun(self, message: aioice.stun.Message, addr: tuple[str, int]) -> None:
        self.sent.append((message.transaction_id, addr))


def _binding() -> aioice.stun.Message:
    return aioice.stun.Message(
        message_method=aioice.stun.Method.BINDING, message_class=aioice.stun.Class.REQUEST
    )


async def test_an_incoming_check_resends_the_unanswered_first_check_once() -> None:
    aioice_patch.install()
    aioice_patch.install()  # idempotent
    connection = aioice.ice.Connection(ice_controlling=True)
    protocol = RecordingProtocol()
    remote = aioice.Candidate(
        foundation="2", component=1, transport="udp", priority=1, host=REMOTE[0], port=REMOTE[1], type="relay"
    )
    pair = aioice.ice.CandidatePair(protocol, remote)  # type: ignore[arg-type]
    pair.state = aioice.ice.CandidatePair.State.IN_PROGRESS
    connection._check_list.append(pair)
    request = _binding()
    transaction = aioice.stun.Transaction(request, REMOTE, protocol)
    protocol.transactions[request.transaction_id] = transaction
    transaction._Transaction__retry()  # type: ignore[attr-defined]  # the first send, as run() does
    try:
        assert protocol.sent == [(request.transaction_id, REMOTE)]
        aioice_patch._nudge(connection, REMOTE, protocol)
        # The same request again (its answer still matches the transaction), at once.
        assert protocol.sent == [(request.transaction_id, REMOTE)] * 2
        aioice_patch._nudge(connection, REMOTE, protocol)
        assert len(protocol.sent) == 2  # once per transaction, not once per incoming check

        # A pair that is not in progress (waiting, succeeded) is left to aioice.
        other = aioice.Candidate(
            foundation="3", component=1, transport="udp", priority=1, host="10.213.0.3", port=1, type="relay"
        )
        waiting = aioice.ice.CandidatePair(protocol, other)  # type: ignore[arg-type]
        waiting.state = aioice.ice.CandidatePair.State.WAITING
        connection._check_list.append(waiting)
        aioice_patch._nudge(connection, ("10.213.0.3", 1), protocol)
        assert len(protocol.sent) == 2
    finally:
        handle: Any = transaction._Transaction__timeout_handle  # type: ignore[attr-defined]
        handle.cancel()
    await connection.close()


def _host(host: str, port: int) -> aioice.Candidate:
    return aioice.Candidate(
        foundation=host, component=1, transport="udp", priority=2130706431, host=host, port=port, type="host"
    )


class LocalProtocol:
    """Below the unit under test: the one attribute a pair reads from its protocol (the local candidate)."""

    def __init__(self, host: str) -> None:
        self.local_candidate = _host(host, 40000)


def test_shared_prefix_counts_leading_bits_of_one_family_only() -> None:
    assert aioice_patch.shared_prefix("10.213.4.1", "10.213.4.2") == 30
    assert aioice_patch.shared_prefix("192.0.2.2", "10.213.4.2") == 0
    assert aioice_patch.shared_prefix("10.0.0.1", "10.0.0.1") == 32
    assert aioice_patch.shared_prefix("fd00::2", "10.213.4.2") == 0  # across families
    assert aioice_patch.shared_prefix("10.0.0.1", "abc.local") == 0  # an mDNS name


async def test_equal_pairs_are_checked_nearest_first_and_unequal_ones_keep_their_order() -> None:
    aioice_patch.install()
    connection = aioice.ice.Connection(ice_controlling=True)
    browser = _host("10.213.4.2", 50000)
    far, near = LocalProtocol("192.0.2.2"), LocalProtocol("10.213.4.1")
    relayed = LocalProtocol("10.213.4.1")
    relayed.local_candidate = aioice.Candidate(
        foundation="r",
        component=1,
        transport="udp",
        priority=16777215,
        host="10.213.4.1",
        port=1,
        type="relay",
    )
    for protocol in (relayed, far, near):  # aioice lists them as the interfaces come
        connection._check_list.append(aioice.ice.CandidatePair(protocol, browser))  # type: ignore[arg-type]
    connection.sort_check_list()
    order: list[object] = [pair.protocol for pair in connection._check_list]
    # The two host pairs tie on priority: the one within the browser's subnet first; the relayed pair,
    # lower in priority, stays last whatever its address.
    assert order == [near, far, relayed]
    await connection.close()


def test_connect_is_replaced_only_for_the_aioice_it_was_copied_from() -> None:
    aioice_patch.install()
    replaced = aioice.ice.Connection.connect is aioice_patch.connect
    assert replaced == (aioice.__version__ == "0.13.0")
