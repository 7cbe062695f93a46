"""The counter's Japanese chip reads (clerk_agent/flows/idchips_jp.py) on the virtual documents in process, with a
hub stand-in that runs the hub's own verifiers: what the clerk sees, and that no access data survives or leaves.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import re
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from clerk_agent.card.transport import Transport
from clerk_agent.card.virtual.idchips.jp_people import LICENCE_HOLDERS, RESIDENCE_HOLDERS
from clerk_agent.card.virtual.idchips.jp_pki import signer_from_dev_pki
from clerk_agent.card.virtual.idchips.licence import build_virtual_licence
from clerk_agent.card.virtual.idchips.slot import InProcessChipSlot
from clerk_agent.flows.desk import Desk
from clerk_agent.flows.idchips import DocumentChips
from clerk_agent.flows.idchips_jp import (
    VirtualDocuments,
    detect_document,
    licence_tries,
    read_licence,
    read_residence_card,
    virtual_jp_chip_source,
)
from clerk_agent.ui.idchips_jp_routes import jp_chip_routes
from clerk_agent.wording.chips import read_outcome, wrong_licence_pin
from service.idchips.anchors import load_chip_anchors
from service.idchips.devpki_jp import write_jp_pki
from service.idchips.verifiers import VERIFIERS
from service.wire.idchips import ChipKind, ChipReadout, ChipRefusal, ChipVerificationRead

SATO = LICENCE_HOLDERS["sato_ichiro"]
LAN = RESIDENCE_HOLDERS["nguyen_lan"]


@dataclass
class HubStandIn:
    """Verifies each upload with the hub's verifier and remembers what was uploaded."""

    pki: Path
    uploads: list[ChipReadout] = field(default_factory=list)

    async def submit_chip_readout(self, case_id: str, readout: ChipReadout) -> ChipVerificationRead:
        del case_id
        self.uploads.append(readout)
        objects = {name: base64.b64decode(raw) for name, raw in readout.objects.items()}
        anchors = load_chip_anchors(None, self.pki, allow_test=True)
        result = VERIFIERS[readout.kind](objects, anchors, dt.datetime.now(dt.UTC))
        return ChipVerificationRead(
            evidence_id="ev-1",
            kind=readout.kind,
            checks=[],
            verdict=result.verdict,
            refusal_reason=result.refusal,
        )


@dataclass
class CaseStandIn:
    case_id: str | None = "case-1"


@dataclass
class DeskStandIn:
    client: HubStandIn
    case: CaseStandIn = field(default_factory=CaseStandIn)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("jp-pki")
    write_jp_pki(out)
    return out


def chips_for(pki: Path, document: str) -> tuple[DocumentChips, HubStandIn]:
    hub = HubStandIn(pki)
    desk = cast(Desk, DeskStandIn(hub))
    return DocumentChips(desk, virtual_jp_chip_source(pki, document)), hub


async def test_residence_card_read_is_verified_and_its_number_is_wiped(pki: Path) -> None:
    chips, hub = chips_for(pki, "residence_card")
    number = bytearray(LAN.card_number.encode())
    answer = await read_residence_card(chips, number)
    assert answer["verdict"] == "verified", answer
    assert number == bytearray()
    assert LAN.card_number not in hub.uploads[0].model_dump_json()
    assert chips.reading is False


async def test_a_mistyped_card_number_is_named_and_nothing_is_uploaded(pki: Path) -> None:
    chips, hub = chips_for(pki, "residence_card")
    answer = await read_residence_card(chips, bytearray(b"XX00000000ZZ"))
    assert answer == {"kind": "residence_card", "verdict": "refused", "refusal_reason": "access_denied"}
    assert hub.uploads == []


async def test_licence_tries_then_read_with_the_applicants_pins(pki: Path) -> None:
    chips, hub = chips_for(pki, "driving_licence")
    status = await licence_tries(chips)
    assert (status.pin1_tries, status.pin2_tries) == (3, 3)
    pins = bytearray(SATO.pin1.encode()), bytearray(SATO.pin2.encode())
    answer = await read_licence(chips, *pins)
    assert answer["verdict"] == "verified", answer
    assert all(not any(pin) for pin in pins)
    uploaded = hub.uploads[0].model_dump_json()
    assert SATO.pin1 not in uploaded
    assert SATO.pin2 not in uploaded


async def test_a_wrong_licence_pin_says_which_and_the_tries_left(pki: Path) -> None:
    chips, hub = chips_for(pki, "driving_licence")
    answer = await read_licence(chips, bytearray(SATO.pin1.encode()), bytearray(b"0000"))
    assert answer == {
        "kind": "driving_licence",
        "verdict": "refused",
        "refusal_reason": "access_denied",
        "pin": 2,
        "tries_left": 2,
    }
    assert hub.uploads == []


async def test_detection_on_the_counter_reader(pki: Path) -> None:
    chips, _hub = chips_for(pki, "residence_card")
    found = await detect_document(chips)
    assert found.kind == "residence_card"
    assert found.combined is None


@dataclass
class FlowStandIn:
    chips: DocumentChips


def ui_for(pki: Path, document: str) -> tuple[httpx.AsyncClient, HubStandIn]:
    chips, hub = chips_for(pki, document)
    flow = FlowStandIn(chips)

    def action(work: Callable[[Request], Awaitable[None]]) -> Callable[[Request], Awaitable[Response]]:
        async def handle(request: Request) -> Response:
            await work(request)
            return JSONResponse({"chip": flow.chips.last})

        return handle

    app = Starlette(routes=jp_chip_routes(flow, action, lambda _request: True))
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://counter"), hub


async def test_the_counter_routes_take_raw_access_data_and_answer_without_it(pki: Path) -> None:
    ui, hub = ui_for(pki, "driving_licence")
    async with ui:
        # Until the clerk says the document is a licence, the applicant's screen can neither ask nor read.
        assert (await ui.get("/api/applicant/licence-tries")).status_code == 409
        closed = await ui.post("/api/applicant/licence-pins", content=f"{SATO.pin1}\n{SATO.pin2}".encode())
        assert closed.json() == {"error": "licence_not_chosen"}
        await ui.post("/api/chip/document", json={"document": "driving_licence"})
        tries = (await ui.get("/api/applicant/licence-tries")).json()
        assert tries == {"pins_set": True, "pin1_tries": 3, "pin2_tries": 3}
        wrong = await ui.post("/api/applicant/licence-pins", content=f"{SATO.pin1}\n9999".encode())
        assert wrong.json() == {
            "verdict": "refused",
            "refusal_reason": "access_denied",
            "pin": 2,
            "tries_left": 2,
            "ja": "暗証番号2が違います。暗証番号2の残りは2回です。",
            "en": "PIN 2 is wrong. 2 tries left for PIN 2.",
        }
        # The chip is the same licence across reads: the wrong try still counts.
        assert (await ui.get("/api/applicant/licence-tries")).json()["pin2_tries"] == 2
        right = await ui.post("/api/applicant/licence-pins", content=f"{SATO.pin1}\n{SATO.pin2}".encode())
        assert right.json()["verdict"] == "verified"
        assert right.json()["refusal_reason"] is None
        assert "確認しました" in right.json()["ja"]
    assert len(hub.uploads) == 1
    ui, hub = ui_for(pki, "residence_card")
    async with ui:
        read = await ui.post("/api/chip/residence", content=LAN.card_number.encode())
    assert read.json()["chip"]["verdict"] == "verified"
    assert LAN.card_number not in read.text


def _routes(chips: DocumentChips) -> httpx.AsyncClient:
    flow = FlowStandIn(chips)

    def action(work: Callable[[Request], Awaitable[None]]) -> Callable[[Request], Awaitable[Response]]:
        async def handle(request: Request) -> Response:
            try:
                await work(request)
            except ValueError as exc:
                return JSONResponse({"error": type(exc).__name__}, status_code=409)
            return JSONResponse({"document": chips.document, "last": chips.last})

        return handle

    app = Starlette(routes=jp_chip_routes(flow, action, lambda _request: True))
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://counter")


async def test_the_demo_reader_holds_the_document_the_clerk_laid_on_it(pki: Path) -> None:
    hub = HubStandIn(pki)
    reader = VirtualDocuments(pki, "yamada_hanako", "residence_card")
    chips = DocumentChips(cast(Desk, DeskStandIn(hub)), reader)
    async with _routes(chips) as ui:
        assert (await ui.post("/api/virtual-document", json={"document": "floppy_disk"})).status_code == 409
        assert reader.document == "residence_card"  # bad input: no change
        number = bytearray(RESIDENCE_HOLDERS["kim_minjun"].card_number.encode())
        # The residence card lies there: the special permanent resident's number does not open it.
        assert (await read_residence_card(chips, number))["refusal_reason"] == "access_denied"
        await ui.post("/api/virtual-document", json={"document": "special_permanent_resident"})
        number = bytearray(RESIDENCE_HOLDERS["kim_minjun"].card_number.encode())
        answer = await read_residence_card(chips, number)
        assert (answer["kind"], answer["verdict"]) == ("special_permanent_resident", "verified")
        await ui.post("/api/virtual-document", json={"document": "driving_licence"})
        await ui.post("/api/chip/document", json={"document": "driving_licence"})
        await ui.post("/api/applicant/licence-pins", content=b"0000\n0000")
        # Laid aside and back: the same licence, its wrong try still counted.
        await ui.post("/api/virtual-document", json={"document": "passport"})
        await ui.post("/api/virtual-document", json={"document": "driving_licence"})
        assert (await ui.get("/api/applicant/licence-tries")).json()["pin1_tries"] == 2
    assert reader.choices == ("passport", "driving_licence", "residence_card", "special_permanent_resident")


async def test_the_virtual_reader_switch_is_the_demos_only(pki: Path) -> None:
    chips, _hub = chips_for(pki, "residence_card")
    async with _routes(chips) as ui:
        refused = await ui.post("/api/virtual-document", json={"document": "passport"})
    assert refused.json() == {"error": "ValueError"}
    with pytest.raises(ValueError, match="no virtual"):
        virtual_jp_chip_source(pki, "passport")


async def test_a_licence_without_pins_opens_with_stars_and_a_stop_is_told_to_the_clerk(pki: Path) -> None:
    hub = HubStandIn(pki)
    unset = build_virtual_licence(
        "sato_ichiro", signer=signer_from_dev_pki(pki, "driving_licence"), pins_set=False
    )

    @contextlib.contextmanager
    def source() -> Iterator[Transport]:
        yield InProcessChipSlot(unset)

    chips = DocumentChips(cast(Desk, DeskStandIn(hub)), source)
    async with _routes(chips) as ui:
        await ui.post("/api/chip/document", json={"document": "driving_licence"})
        assert (await ui.get("/api/applicant/licence-tries")).json()["pins_set"] is False
        opened = await ui.post("/api/applicant/licence-pins", content=b"****\n****")
        assert opened.json()["verdict"] == "verified"
        await ui.post("/api/applicant/licence-decline")
        assert chips.declined is True
        await ui.post("/api/chip/document", json={"document": "passport"})
        assert chips.declined is False  # the clerk chose again


@pytest.mark.parametrize("kind", [*ChipKind, None])
def test_every_read_outcome_is_words_never_a_code(kind: ChipKind | None) -> None:
    reasons = [*ChipRefusal, "pin_blocked", "last_try_confirmation_required", "invalid_pin_format",
               "not_this_document", "reader_unavailable", "transaction_failed", "brand_new_code"]  # fmt: skip
    for reason in reasons:
        for applicant in (False, True):
            last = {"kind": kind.value if kind else None, "verdict": "refused", "refusal_reason": str(reason)}
            ja, en = read_outcome(last, applicant=applicant)
            assert not re.search(r"[a-z]+_[a-z]+", ja + en), (reason, ja, en)
            assert not re.search(r"[A-Za-z]{3,}", ja.replace("IC", "")), (reason, ja)
    assert (
        wrong_licence_pin(2, 1)[0]
        == "暗証番号2が違います。暗証番号2の残りは1回です。次に間違えるとロックされます。"
    )
    assert "警察" in wrong_licence_pin(1, 0)[0]
