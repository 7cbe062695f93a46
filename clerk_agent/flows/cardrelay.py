"""The counter's relay of the issuer's card management: hub → card → hub, opaque, and the new PIN card-only.

The hub (for the issuer) produces SCP03-wrapped command APDUs; this module hands each to the card exactly as it
came and returns the card's answers exactly as they came. It holds no key and imports nothing that could unwrap
them (tests/test_boundaries.py). The one thing it adds is the new PIN of a reset: after the issuer's channel opened
a one-time authorisation on the card, the PIN the applicant typed goes in a plain RESET RETRY COUNTER from here to
the card and nowhere else, and its buffer is wiped (docs/card-admin.md §Agent).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

from clerk_agent.card.transport import Transport
from clerk_agent.errors import ApduFailed, CardError
from clerk_agent.link.client import case_path
from clerk_agent.link.hub import HubLink
from service.wire.cardadmin import (
    PIN_TARGETS,
    CardState,
    Operation,
    PinName,
    RelayTurn,
    reset_retry_counter,
)

# Called with the running count of relayed commands before each is sent (tests interrupt the relay with it).
StepHook = Callable[[int], None]


class PinRefusedByCard(CardError):
    """The card refused the new PIN (wrong form, or no authorisation open)."""

    retriable = True
    code = "pin_refused_by_card"


class CardAdminRefused(CardError):
    """The run ended refused (the card or the hub found a relayed exchange not authentic); the card is unchanged."""

    retriable = True
    code = "card_admin_refused"

    def __init__(self, outcome: str, card_state: CardState) -> None:
        super().__init__(f"card management refused ({outcome}); the card is {card_state.value}")
        self.outcome = outcome
        self.card_state = card_state


@dataclass(frozen=True)
class RelayResult:
    """How a run ended: its outcome code, what the card holds, and how many commands were relayed."""

    outcome: str
    card_state: CardState
    commands: int


def _base(case_id: str) -> str:
    return case_path(case_id, "card-admin/runs")


async def relay(
    link: HubLink,
    transport: Transport,
    case_id: str,
    operation: Operation,
    *,
    pin: PinName | None = None,
    on_step: StepHook | None = None,
    step_offset: int = 0,
) -> RelayResult:
    """One run: start it at the hub, then relay every command to the card and every answer back until done."""
    body: dict[str, object] = {"operation": operation.value}
    if pin is not None:
        body["pin"] = pin.value
    turn = RelayTurn.model_validate(await link.request("POST", _base(case_id), body))
    sent = step_offset
    while not turn.done:
        responses = []
        for command in turn.commands:
            if on_step is not None:
                on_step(sent)
            sent += 1
            # Blocking PC/SC call: off the event loop. The bytes go to the card exactly as the hub made them.
            answer = await asyncio.to_thread(transport.transmit, bytes.fromhex(command))
            responses.append(answer.hex())
        turn = RelayTurn.model_validate(
            await link.request(
                "POST", f"{_base(case_id)}/{turn.run_id}/answers", {"responses": responses}, retry=False
            )
        )
    outcome = turn.outcome or ""
    if outcome.startswith("refused"):
        raise CardAdminRefused(outcome, turn.card_state)
    return RelayResult(outcome, turn.card_state, sent - step_offset)


async def renew_certificates(
    link: HubLink, transport: Transport, case_id: str, *, on_step: StepHook | None = None
) -> RelayResult:
    """電子証明書の発行・更新: new key pairs on the card, certificates from the issuer, the old ones revoked.

    Call after the officer approved an `ecert_issue_renew` case, with the applicant's card connected. Calling it
    again after an interruption (card lifted, agent restarted, hub unreachable) continues from what the case
    recorded; the card is always either as it was or fully renewed.
    """
    return await relay(link, transport, case_id, Operation.renew_certificates, on_step=on_step)


async def reset_pin(
    link: HubLink,
    transport: Transport,
    case_id: str,
    pin: PinName,
    new_pin: bytearray,
    *,
    on_step: StepHook | None = None,
) -> RelayResult:
    """暗証番号の初期化: the issuer authorises one reset of `pin`; the applicant's `new_pin` goes only to the card.

    `new_pin` is wiped (overwritten with zeros) before this returns, whatever happens. Raises PinRefusedByCard
    when the card does not take it (its form is checked first, with the rules of PIN_TARGETS).
    """
    target = PIN_TARGETS[pin]
    command = bytearray()
    try:
        if not target.valid(new_pin):
            raise PinRefusedByCard(f"the new {target.label_en} does not have the required form")
        authorised = await relay(
            link, transport, case_id, Operation.authorise_pin_reset, pin=pin, on_step=on_step
        )
        select = bytes((0x00, 0xA4, 0x04, 0x0C, len(target.aid))) + target.aid
        answer = await asyncio.to_thread(transport.transmit, select)
        if answer[-2:] != b"\x90\x00":
            raise ApduFailed(int.from_bytes(answer[-2:], "big"))
        command = reset_retry_counter(target, new_pin)
        answer = await asyncio.to_thread(transport.transmit, command)
        if answer[-2:] != b"\x90\x00":
            raise PinRefusedByCard(f"the card refused the new PIN ({answer[-2:].hex()})")
    finally:
        for buffer in (new_pin, command):
            buffer[:] = bytes(len(buffer))
    confirmed = await relay(
        link,
        transport,
        case_id,
        Operation.confirm_pin_reset,
        pin=pin,
        on_step=on_step,
        step_offset=authorised.commands,
    )
    return RelayResult(confirmed.outcome, confirmed.card_state, authorised.commands + confirmed.commands)
