"""Counter UI routes for the Japanese chip documents (docs/id-documents.md §Japanese), mounted by create_ui.

The access data comes as a raw request body straight into a bytearray, never parsed as text or JSON, and is wiped
by the flow after the read: the residence card number from the clerk's screen, the licence's two PINs from the
applicant's screen (newline-separated). The applicant's screen asks for the tries left first.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from clerk_agent.card.idchips.base import wipe
from clerk_agent.errors import AgentError
from clerk_agent.flows.idchips import DocumentChips
from clerk_agent.flows.idchips_jp import licence_tries, read_licence, read_residence_card

Handler = Callable[[Request], Awaitable[Response]]


class HasChips(Protocol):
    """The part of the counter flow these routes use."""

    @property
    def chips(self) -> DocumentChips: ...


def _split_pins(buffer: bytearray) -> tuple[bytearray, bytearray]:
    """`pin1\\npin2` into two bytearrays (copies; the caller wipes the buffer)."""
    cut = buffer.find(b"\n")
    if cut < 0:
        raise ValueError("two PINs, newline-separated")
    return bytearray(buffer[:cut]), bytearray(buffer[cut + 1 :].rstrip(b"\r\n"))


def jp_chip_routes(
    flow: HasChips,
    action: Callable[[Callable[[Request], Awaitable[None]]], Handler],
    csrf_ok: Callable[[Request], bool],
) -> list[Route]:
    """The clerk's residence-card read and the applicant's licence PIN entry."""

    async def residence(request: Request) -> None:
        buffer = bytearray(await request.body())
        try:
            await read_residence_card(flow.chips, buffer)
        finally:
            wipe(buffer)

    async def tries(request: Request) -> Response:
        del request
        try:
            status = await licence_tries(flow.chips)
        except AgentError as exc:
            return JSONResponse({"error": exc.code}, status_code=409)
        return JSONResponse(
            {"pins_set": status.pins_set, "pin1_tries": status.pin1_tries, "pin2_tries": status.pin2_tries}
        )

    async def licence_pins(request: Request) -> Response:
        if not csrf_ok(request):
            return JSONResponse({"error": "csrf"}, status_code=403)
        buffer = bytearray(await request.body())
        confirm = request.query_params.get("confirm_last_try") == "1"
        try:
            pin1, pin2 = _split_pins(buffer)
            last = await read_licence(flow.chips, pin1, pin2, confirm_last_try=confirm)
        except (LookupError, ValueError) as exc:
            return JSONResponse({"error": type(exc).__name__}, status_code=409)
        finally:
            wipe(buffer)
        # The applicant's screen learns only how it went: no holder data, no access data.
        shown = {k: last[k] for k in ("verdict", "refusal_reason", "pin", "tries_left") if k in last}
        return JSONResponse(shown)

    return [
        Route("/api/chip/residence", action(residence), methods=["POST"]),
        Route("/api/applicant/licence-tries", tries),
        Route("/api/applicant/licence-pins", licence_pins, methods=["POST"]),
    ]
