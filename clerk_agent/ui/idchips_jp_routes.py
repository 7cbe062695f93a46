"""Counter UI routes for the Japanese chip documents (docs/id-documents.md §Japanese), mounted by create_ui.

The access data comes as a raw request body straight into a bytearray, never parsed as text or JSON, and is wiped
by the flow after the read: the residence card number from the clerk's screen, the licence's two PINs from the
applicant's screen (newline-separated). The applicant's screen asks for the tries left first. The clerk says which
document the applicant brought (`/api/chip/document`), which decides the screen that asks for its access data; in
the demo the clerk also chooses which virtual document lies on the reader (`/api/virtual-document`).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Protocol

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from clerk_agent.card.idchips.base import wipe
from clerk_agent.errors import AgentError
from clerk_agent.flows.idchips import DocumentChips
from clerk_agent.flows.idchips_jp import VirtualDocuments, licence_tries, read_licence, read_residence_card
from clerk_agent.wording.chips import read_outcome, tries_failure
from service.wire.idchips import ChipKind

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


async def _document_field(request: Request) -> str | None:
    """The `document` of a small JSON body (a kind's name, or null)."""
    try:
        data = json.loads(await request.body() or b"{}")
    except ValueError as exc:
        raise ValueError("body is not JSON") from exc
    if not isinstance(data, dict):
        raise ValueError("body is not an object")
    document = data.get("document")
    return str(document) if document else None


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

    async def document(request: Request) -> None:
        flow.chips.choose(await _document_field(request))

    async def virtual_document(request: Request) -> None:
        source = flow.chips.source
        if not isinstance(source, VirtualDocuments):
            raise ValueError("not the demo's virtual documents")
        source.present(await _document_field(request) or "")

    def licence_closed() -> Response | None:
        # The applicant's screen asks for a licence's PINs only once the clerk said the document is one.
        if flow.chips.document is not ChipKind.driving_licence:
            return JSONResponse({"error": "licence_not_chosen"}, status_code=409)
        return None

    async def tries(request: Request) -> Response:
        del request
        if closed := licence_closed():
            return closed
        try:
            status = await licence_tries(flow.chips)
        except AgentError as exc:
            ja, en = tries_failure(exc.code)
            return JSONResponse({"error": exc.code, "ja": ja, "en": en}, status_code=409)
        except OSError:  # the demo's virtual licence without its test PKI
            ja, en = tries_failure("reader_unavailable")
            return JSONResponse({"error": "reader_unavailable", "ja": ja, "en": en}, status_code=409)
        return JSONResponse(
            {"pins_set": status.pins_set, "pin1_tries": status.pin1_tries, "pin2_tries": status.pin2_tries}
        )

    async def licence_pins(request: Request) -> Response:
        if not csrf_ok(request):
            return JSONResponse({"error": "csrf"}, status_code=403)
        buffer = bytearray(await request.body())
        if closed := licence_closed():
            wipe(buffer)
            return closed
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
        ja, en = read_outcome(last, applicant=True)
        return JSONResponse({**shown, "ja": ja, "en": en})

    async def licence_decline(request: Request) -> Response:
        if not csrf_ok(request):
            return JSONResponse({"error": "csrf"}, status_code=403)
        if closed := licence_closed():
            return closed
        flow.chips.declined = True
        return JSONResponse({"declined": True})

    return [
        Route("/api/chip/document", action(document), methods=["POST"]),
        Route("/api/virtual-document", action(virtual_document), methods=["POST"]),
        Route("/api/chip/residence", action(residence), methods=["POST"]),
        Route("/api/applicant/licence-tries", tries),
        Route("/api/applicant/licence-pins", licence_pins, methods=["POST"]),
        Route("/api/applicant/licence-decline", licence_decline, methods=["POST"]),
    ]
