"""After a whole counter case through a real hub, the synthetic person's secrets and attributes are only where allowed.

The hub runs under uvicorn (`hub demo`, its JSON logs and uvicorn's access log captured to a file), the counter agent
in process with the virtual card of 山田 花子, and an officer client through the hub's REST API. A card renewal goes
end to end: card check, 照合番号B, the PIN on the applicant's screen, the officer's review (with the evidence view) and
approval, and the new card's PINs chosen and sealed at the counter.

Captured: every hub log line, every agent log record (message, extras, exception), every HTTP response body the agent
(hub and local UI) and the officer receive, every row of every hub table (and SQLite's iterdump), every agent file.
Searched in plain, JSON-escaped, URL-encoded, hex and base64 forms:
- the PINs, the signature password, 照合番号B and the chosen PINs: nowhere;
- the My Number: nowhere at all;
- the passport's number and MRZ access data: nowhere (the officer sees the number masked);
- the IC driving licence's two PINs and the residence card's number (the access keys of the Japanese documents,
  read on the same case) and the licence's number in clear: nowhere (the hub keeps a keyed hash and the number
  masked to its last three digits, docs/id-documents.md §Evidence);
- the name, address and birth date: in no log line, no database column (evidence is encrypted; audit holds no personal
  data) and no hub response except the officer's evidence view.

Runs on SQLite by default; with HUB_TEST_DB=postgresql the hub and the row dump use a fresh PostgreSQL database.
"""

from __future__ import annotations

import base64
import datetime as dt
import io
import json
import logging
import re
import sqlite3
import sys
import urllib.parse
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from clerk_agent.card.idchips.sm import mrz_information
from clerk_agent.card.virtual.build import person
from clerk_agent.card.virtual.idchips.jp_people import LICENCE_HOLDERS, RESIDENCE_HOLDERS
from clerk_agent.card.virtual.idchips.lds import HOLDERS as PASSPORT_HOLDERS
from clerk_agent.card.virtual.people import era_yymmdd
from clerk_agent.flows.idchips import ChipSource
from clerk_agent.flows.idchips_jp import virtual_jp_chip_source
from service.db import create_engine
from service.models import metadata
from service.wire.card_profiles import CardGeneration
from tests._procs import free_port
from tests.clerk_agent.app._pdf import pdf_lines
from tests.clerk_agent.app.conftest import (
    Agent,
    CounterClient,
    Hub,
    Officer,
    agent_running,
    until_view,
)
from tests.factories import ELIGIBLE
from tests.plugins.cardkit import GENERATIONS, card_face_code

pytestmark = pytest.mark.e2e

HOLDER = person("yamada_hanako")
FORM_ID = "12345678901234567890123"
# The new card's PINs the applicant chooses (署名用, 利用者証明用, 住基, 券面事項入力補助用): invented for the test.
CHOSEN = ("SWEEP2026Q", "3917", "6048", "2759")
# Hub responses that may carry the person's attributes: the assigned officer's evidence view.
EVIDENCE_VIEW = re.compile(r"/api/v1/cases/[^/]+/(evidence|stills)(/|$|\?)")


@dataclass
class Exchange:
    """One HTTP response as a client received it."""

    url: str
    status: int
    body: str


@dataclass
class Capture:
    """Everything the run produced that the sweep searches."""

    responses: list[Exchange] = field(default_factory=list)
    agent_log: list[str] = field(default_factory=list)


class _RecordEverything(logging.Handler):
    """Keeps each record's message, extras and exception text (the agent's logs are not masked)."""

    def __init__(self, sink: list[str]) -> None:
        super().__init__(logging.DEBUG)
        self.sink = sink

    def emit(self, record: logging.LogRecord) -> None:
        extras = {k: v for k, v in record.__dict__.items() if k not in _STANDARD}
        text = f"{record.name} {record.getMessage()} {extras!r}"
        if record.exc_info:
            text += "\n" + logging.Formatter().formatException(record.exc_info)
        self.sink.append(text)


_STANDARD = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "taskName"}


@pytest.fixture(scope="module")
def sweep_pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A `hub dev-pki` directory shared by the hub and the virtual card."""
    from service.cardproof.devpki import main as devpki_main

    out = tmp_path_factory.mktemp("sweep-pki")
    assert devpki_main(["--out", str(out), "--force"]) == 0
    return out


@pytest.fixture
def hub(fresh_database_url: str, tmp_path: Path, sweep_pki: Path) -> Iterator[Hub]:
    """`hub demo` under uvicorn on a free port (development settings, access log on); stopped by PID."""
    import os

    data = tmp_path / "hub"
    env = {
        **os.environ,
        "HUB_DATABASE_URL": fresh_database_url,
        "HUB_DATA_DIR": str(data),
        "HUB_ENVIRONMENT": "development",
        "HUB_DEV_PKI_DIR": str(sweep_pki),
    }
    server = Hub(free_port(), env, data)
    server.start(demo=True)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def capture(monkeypatch: pytest.MonkeyPatch) -> Iterator[Capture]:
    """Every httpx response in this process (agent → hub, agent UI, officer) and every agent log record."""
    captured = Capture()
    original = httpx.AsyncClient.send

    async def send(self: httpx.AsyncClient, request: httpx.Request, **kwargs: Any) -> httpx.Response:
        response = await original(self, request, **kwargs)
        if not kwargs.get("stream"):
            captured.responses.append(
                Exchange(str(request.url), response.status_code, response.content.decode("utf-8", "replace"))
            )
        return response

    monkeypatch.setattr(httpx.AsyncClient, "send", send)
    handler = _RecordEverything(captured.agent_log)
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield captured
    finally:
        root.removeHandler(handler)


@pytest.fixture(params=GENERATIONS, ids=lambda g: str(g.value))
def card_generation(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> CardGeneration:
    """The sweep runs with each card generation: the agent's settings read it from CLERK_VIRTUAL_CARD_GENERATION."""
    generation = CardGeneration(request.param)
    monkeypatch.setenv("CLERK_VIRTUAL_CARD_GENERATION", generation.value)
    return generation


@dataclass
class DocumentReader:
    """What lies on the counter's document reader: the virtual passport, licence or residence card."""

    holds: str = "passport"


@pytest.fixture
def document_reader(monkeypatch: pytest.MonkeyPatch) -> DocumentReader:
    """The agent's chip source follows `holds`, so one case reads all three documents (the virtual ones in process)."""
    import clerk_agent.app as agent_app

    reader = DocumentReader()
    passport_source = agent_app.chip_source

    def switching(settings: Any) -> ChipSource:
        sources: dict[str, ChipSource | None] = {
            "passport": passport_source(settings),
            "driving_licence": virtual_jp_chip_source(settings.pki_dir, "driving_licence", LICENCE.key),
            "residence_card": virtual_jp_chip_source(settings.pki_dir, "residence_card", RESIDENCE.key),
        }

        def open_chip() -> Any:
            source = sources[reader.holds]
            assert source is not None
            return source()

        return open_chip

    monkeypatch.setattr(agent_app, "chip_source", switching)
    return reader


@pytest.fixture
async def agent(
    hub: Hub,
    tmp_path: Path,
    sweep_pki: Path,
    capture: Capture,
    card_generation: CardGeneration,
    document_reader: DocumentReader,
) -> AsyncIterator[Agent]:
    """The counter agent in process, with the virtual card of `card_generation`."""
    async with agent_running(hub, tmp_path / "agent", sweep_pki) as running:
        yield running


def _forms(secret: str) -> list[str]:
    """The secret as text, JSON-escaped, URL-encoded; if long enough, hex and the middle of its base64 at each offset."""
    raw = secret.encode()
    forms = {secret, json.dumps(secret)[1:-1], urllib.parse.quote(secret)}
    # Encoded forms only of longer secrets: the hex of a 4-digit PIN turns up by chance in a dump of ciphertexts.
    if len(raw) >= 9:
        forms |= {raw.hex(), raw.hex().upper()}
        for offset in range(3):
            for encode in (base64.b64encode, base64.urlsafe_b64encode):
                text = encode(b"\0" * offset + raw).decode().rstrip("=")
                forms.add(text[4 if offset else 0 : -4])
    return sorted(f for f in forms if f)


def _token(secret: str) -> re.Pattern[str]:
    """A short secret as a token of its own (a 4-digit PIN also occurs by chance inside ids and base64)."""
    return re.compile(rf"(?<![0-9A-Za-z+/=_-]){re.escape(secret)}(?![0-9A-Za-z+/=_-])")


def _patterns(secrets: list[str]) -> list[re.Pattern[str]]:
    out: list[re.Pattern[str]] = []
    for secret in secrets:
        for form in _forms(secret):
            out.append(_token(form) if len(form) < 8 else re.compile(re.escape(form)))
    return out


def _birth_date_forms(day: dt.date) -> list[str]:
    return [
        day.isoformat(),
        day.strftime("%Y%m%d"),
        day.strftime("%Y/%m/%d"),
        f"{day.year}年{day.month}月{day.day}日",
        f"昭和{day.year - 1925}年{day.month}月{day.day}日",
        era_yymmdd(day),
    ]


# The passport's access data (BAC is keyed by its MRZ fields) and its number in clear: nowhere, not even in the
# officer's view, which shows the number masked (docs/id-documents.md §Evidence).
PASSPORT = PASSPORT_HOLDERS[HOLDER.key]
PASSPORT_ACCESS = [
    PASSPORT.document_number,
    mrz_information(PASSPORT.document_number, PASSPORT.birth, PASSPORT.expiry_yymmdd),
    PASSPORT.mrz()[44:],
]
# The Japanese documents' access keys (a licence's two PINs, a residence card's number) and the licence's number,
# which the hub keeps only as a keyed hash and masked (docs/id-documents.md §Evidence): nowhere in clear.
LICENCE = LICENCE_HOLDERS["sato_ichiro"]
RESIDENCE = RESIDENCE_HOLDERS["nguyen_lan"]
JP_ACCESS = [
    LICENCE.pin1,
    LICENCE.pin2,
    f"{LICENCE.pin1}\n{LICENCE.pin2}",
    RESIDENCE.card_number,
    LICENCE.number,
]
SECRETS = _patterns(
    [
        HOLDER.auth_pin,
        HOLDER.sign_password,
        HOLDER.kenhojo_pin,
        HOLDER.security_code,
        HOLDER.code_b,
        *CHOSEN,
        *PASSPORT_ACCESS,
        *JP_ACCESS,
    ]
)
MY_NUMBER = _patterns(
    [
        HOLDER.my_number,
        " ".join(re.findall("....", HOLDER.my_number)),
        "-".join(re.findall("....", HOLDER.my_number)),
    ]
)
# The 照合番号 printed on the next-generation card (docs/card.md §3.2) is an access code like 照合番号B: nowhere.
SECRETS += _patterns([card_face_code(HOLDER.key, CardGeneration.GEN2028)])
_surname, _given = HOLDER.name.split("\u3000")
ATTRIBUTES = _patterns(
    [
        HOLDER.name,
        f"{_surname} {_given}",
        f"{_surname}{_given}",
        HOLDER.address,
        HOLDER.address[len("東京都千代田区") :],
        *_birth_date_forms(HOLDER.birth_date),
        f"{PASSPORT.surname} {PASSPORT.given_names}",
        PASSPORT.mrz()[:44].rstrip("<"),
    ]
)


def _found(patterns: list[re.Pattern[str]], text: str) -> list[str]:
    return [p.pattern for p in patterns if p.search(text)]


async def _database_rows(url: str) -> dict[str, list[str]]:
    """Every row of every hub table as text (bytes also as hex), by table."""
    engine = create_engine(url)
    out: dict[str, list[str]] = {}
    try:
        async with engine.connect() as conn:
            for table in metadata.sorted_tables:
                rows = (await conn.execute(select(table))).all()
                out[table.name] = [
                    " | ".join(
                        f"{v.decode('utf-8', 'replace')} {v.hex()}" if isinstance(v, bytes) else str(v)
                        for v in row
                    )
                    for row in rows
                ]
    finally:
        await engine.dispose()
    return out


async def _read_japanese_documents(
    counter: CounterClient, applicant: CounterClient, reader: DocumentReader
) -> None:
    """The licence (the applicant types both PINs on their screen) and the residence card (the clerk its number)."""
    reader.holds = "driving_licence"
    # The clerk names the document first: the applicant's screen asks for a licence's PINs only then.
    await counter.post("/api/chip/document", {"document": "driving_licence"})
    tries = await applicant.client.get("/api/applicant/licence-tries")
    assert tries.json() == {"pins_set": True, "pin1_tries": 3, "pin2_tries": 3}, tries.text
    licence = await applicant.post(
        "/api/applicant/licence-pins", raw=f"{LICENCE.pin1}\n{LICENCE.pin2}".encode()
    )
    assert (licence["verdict"], licence["refusal_reason"]) == ("verified", None), licence
    reader.holds = "residence_card"
    await counter.post("/api/chip/document", {"document": "residence_card"})
    residence = await counter.post("/api/chip/residence", raw=RESIDENCE.card_number.encode())
    assert residence["chip"]["last"]["verdict"] == "verified", residence["chip"]  # type: ignore[index]
    reader.holds = "passport"


async def _renewal_to_sealed_pins(
    hub: Hub, agent: Agent, generation: CardGeneration, reader: DocumentReader
) -> str:
    """The whole counter case; returns its id."""
    async with httpx.AsyncClient(base_url=agent.base) as ui, httpx.AsyncClient() as officer_http:
        counter = CounterClient(ui)
        officer = await Officer.login(hub, officer_http)
        await counter.open()
        await counter.post("/api/cases", {"procedure": "card_renewal", "shinseisho_id": FORM_ID})
        await counter.until("checked_in")
        await counter.post(
            "/api/eligibility",
            ELIGIBLE,
        )
        await counter.until("step:consents")
        await counter.post("/api/consents", {"recording": True, "id_copy": True, "pin_entry": True})
        await counter.post("/api/card/check")
        await counter.post("/api/request-verification")
        queued = await counter.until("queued_for_officer")
        case_id = str(queued["case"]["case_id"])  # type: ignore[index]
        await counter.until("step:queue")
        await officer.accept(case_id)
        await counter.until("session_live")
        await counter.post("/api/code-b", {"code_b": card_face_code(HOLDER.key, generation)})
        # The applicant's passport on the document reader: the clerk types its MRZ fields (BAC access data).
        chip = await counter.post(
            "/api/chip/passport",
            {
                "document_number": PASSPORT.document_number,
                "birth": PASSPORT.birth,
                "expiry": PASSPORT.expiry_yymmdd,
            },
        )
        assert chip["chip"]["last"]["verdict"] == "verified", chip["chip"]  # type: ignore[index]
        applicant = CounterClient(ui)
        await applicant.open("/applicant")
        await _read_japanese_documents(counter, applicant, reader)
        await until_view(applicant, "/api/applicant/state", lambda v: bool(v["pin"]["open"]))  # type: ignore[index]
        await applicant.post("/api/applicant/pin", raw=HOLDER.auth_pin.encode())
        captured = await counter.until("evidence_captured")
        assert captured["case"]["proof_ok"] is True  # type: ignore[index]
        # The officer looks at the evidence (the one place the attributes may appear), then decides.
        evidence = await officer_http.get(f"/api/v1/cases/{case_id}/evidence")
        assert evidence.status_code == 200, evidence.text
        chip_kinds: list[str] = []
        for item in evidence.json()["items"]:
            if item["kind"] == "card_face":
                face = await officer_http.get(f"/api/v1/cases/{case_id}/evidence/{item['id']}/card-face")
                assert face.status_code == 200, face.text
            if item["kind"] == "chip_document":
                chip_view = await officer_http.get(
                    f"/api/v1/cases/{case_id}/evidence/{item['id']}/chip-document"
                )
                assert chip_view.status_code == 200, chip_view.text
                chip_kinds.append(chip_view.json()["kind"])
                if chip_view.json()["kind"] == "passport":
                    assert chip_view.json()["name"] == f"{PASSPORT.surname} {PASSPORT.given_names}", (
                        chip_view.text
                    )
                if chip_view.json()["kind"] == "driving_licence":
                    # The control for the licence number: the officer sees it masked, never in clear.
                    assert chip_view.json()["document_number_masked"] == "*" * 9 + LICENCE.number[-3:]
        assert sorted(chip_kinds) == ["driving_licence", "passport", "residence_card"], chip_kinds
        await officer.review_and_approve(case_id)
        await counter.until("approved")
        await until_view(applicant, "/api/applicant/state", lambda v: bool(v["choose_pins"]))
        # Each PIN typed twice (then confirmed), as the applicant's form sends them.
        await applicant.post(
            "/api/applicant/pin-request", raw="\n".join(p for p in CHOSEN for _ in "12").encode()
        )
        done = await counter.until("step:receipt")
        assert done["case"]["state"] == "pin_request_sealed"  # type: ignore[index]
        await officer_http.get(f"/api/v1/cases/{case_id}")
        await officer_http.get(f"/api/v1/cases/{case_id}/history")
    return case_id


async def _report_texts(hub: Hub) -> dict[str, str]:
    """The supervisor's report of this month in every format, as text: JSON, xlsx cells, CSV, the PDF's strings."""
    logins = hub.credentials["logins"]
    assert isinstance(logins, dict)
    async with httpx.AsyncClient(base_url=hub.base) as client:
        token = await client.post(
            "/api/v1/auth/login", json={"username": "demo-supervisor", "password": logins["demo-supervisor"]}
        )
        assert token.status_code == 200, token.text
        client.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
        scope = (await client.get("/api/v1/reports/scope")).json()
        base = f"/api/v1/reports/municipalities/{scope['municipality_code']}/months/{scope['months'][0]}"
        bodies = {}
        for suffix in ("", "/report.xlsx", "/report.csv", "/report.pdf"):
            response = await client.get(base + suffix)
            assert response.status_code == 200, response.text
            bodies[suffix or "json"] = response.content
    assert json.loads(bodies["json"])["totals"]["received"] >= 1, "the report does not count the swept case"
    book = load_workbook(io.BytesIO(bodies["/report.xlsx"]), read_only=True)
    cells = [str(v) for sheet in book.worksheets for row in sheet.iter_rows(values_only=True) for v in row]
    return {
        "json": bodies["json"].decode(),
        "xlsx": "\n".join(cells),
        "csv": bodies["/report.csv"].decode("utf-8-sig"),
        "pdf": "\n".join(pdf_lines(bodies["/report.pdf"])),
    }


async def test_no_pin_my_number_or_attribute_where_it_must_not_be(
    hub: Hub, agent: Agent, capture: Capture, card_generation: CardGeneration, document_reader: DocumentReader
) -> None:
    case_id = await _renewal_to_sealed_pins(hub, agent, card_generation, document_reader)
    reports = await _report_texts(hub)
    hub.stop()  # flush the hub's log and release the database
    leaks: list[str] = []

    def check(where: str, text: str, *, attributes: bool) -> None:
        for kind, patterns in (("secret", SECRETS), ("my number", MY_NUMBER)):
            if found := _found(patterns, text):
                leaks.append(f"{kind} {found} in {where}")
        if attributes and (found := _found(ATTRIBUTES, text)):
            leaks.append(f"attribute {found} in {where}")

    # HTTP responses: hub responses carry no attribute except the officer's evidence view.
    hub_responses = [r for r in capture.responses if r.url.startswith(hub.base)]
    assert any(EVIDENCE_VIEW.search(r.url) for r in hub_responses), "the officer never opened the evidence"
    assert len(hub_responses) > 20, "the agent's and the officer's hub responses were not captured"
    for exchange in capture.responses:
        from_hub = exchange.url.startswith(hub.base)
        check(
            f"response {exchange.status} {exchange.url}",
            exchange.body,
            attributes=from_hub and not EVIDENCE_VIEW.search(exchange.url),
        )
    # Logs: the hub's JSON lines (uvicorn's access log included) and the agent's records.
    hub_lines = [line for log in hub.log for line in log.read_text(errors="replace").splitlines()]
    assert any('"uvicorn.access"' in line for line in hub_lines), "uvicorn's access log was not captured"
    assert capture.agent_log, "the agent's log records were not captured"
    for number, line in enumerate(hub_lines):
        check(f"hub log line {number}: {line[:200]}", line, attributes=True)
    for record in capture.agent_log:
        check(f"agent log: {record[:200]}", record, attributes=True)
    # The hub's database: every row of every table (the audit chain included), and SQLite's own dump.
    rows = await _database_rows(hub.env["HUB_DATABASE_URL"])
    assert any(case_id in row for row in rows["counter_case"]), "the dump is not of this run's database"
    for table, table_rows in rows.items():
        for row in table_rows:
            check(f"table {table}: {row[:200]}", row, attributes=True)
    if hub.env["HUB_DATABASE_URL"].startswith("sqlite"):
        with sqlite3.connect(hub.env["HUB_DATABASE_URL"].removeprefix("sqlite+aiosqlite:///")) as db:
            check("sqlite iterdump", "\n".join(db.iterdump()), attributes=True)
    # The reports in every format (docs/reports.md §Privacy): no attribute, and not even the case's ids.
    for fmt, text in reports.items():
        check(f"report {fmt}", text, attributes=True)
        for ident in (case_id, FORM_ID):
            if ident in text:
                leaks.append(f"identifier {ident} in report {fmt}")
    # The agent's files: no secret and no My Number (its local store is the counter's, not the hub's).
    for path in agent.data_dir.rglob("*"):
        if path.is_file():
            text = path.read_bytes().decode("latin-1")
            if path.suffix in (".sqlite3", ".db"):
                with sqlite3.connect(path) as db:
                    text += "\n".join(db.iterdump())
            check(f"agent file {path.name}", text, attributes=False)

    # Controls: the search does find the attributes where they are allowed, and in every encoded form it claims.
    evidence_bodies = [r.body for r in hub_responses if EVIDENCE_VIEW.search(r.url)]
    assert any(_found(ATTRIBUTES, body) for body in evidence_bodies), "the evidence view shows no attribute?"
    for planted in (
        json.dumps({"n": HOLDER.name}),
        base64.b64encode(b"x" + HOLDER.address.encode()).decode(),
    ):
        assert _found(ATTRIBUTES, planted), planted
    assert _found(MY_NUMBER, HOLDER.my_number.encode().hex())
    for planted in (
        f"pin2: {LICENCE.pin2}",
        json.dumps({"no": RESIDENCE.card_number}),
        LICENCE.number.encode().hex(),
    ):
        assert _found(SECRETS, planted), planted
    sys.stdout.write(
        f"\npii sweep: {len(capture.responses)} responses, {len(hub_lines)} hub log lines, {len(capture.agent_log)} agent "
        f"records, {sum(len(r) for r in rows.values())} rows in {len(rows)} tables\n"
    )
    assert not leaks, "\n".join(leaks[:40])
