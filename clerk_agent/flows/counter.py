"""One counter case at a time, guided step by step (窓口の手続き): the clerk's and the applicant's screens read it.

Hub writes go through the durable store first (clerk_agent/link/store.py) and are sent by one worker, in order,
retried while the hub is down, so the UI never waits on the network and nothing a clerk entered is lost.
The PIN never waits on the hub: the card challenge is fetched before the applicant's PIN pad opens, the PIN
goes to the card in a worker thread and is wiped, and only the card's signature goes to the hub.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import dataclasses
import datetime as dt
import logging
import uuid
from collections.abc import Awaitable
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey

from clerk_agent.card.protocol import PinKind, PinStatus
from clerk_agent.card.reading import CounterRead, PossessionChallenge, read_at_counter
from clerk_agent.errors import AgentError, CardError, LinkError, PinIncorrect
from clerk_agent.flows import texts
from clerk_agent.flows.call import CallStatus, run_call
from clerk_agent.flows.cardslot import CardSlot
from clerk_agent.link.hub import HubLink, HubRefused, JsonObject
from clerk_agent.link.store import LocalStore
from service.wire.device_auth import b64url_decode as _b64url

logger = logging.getLogger(__name__)

CARD_PROCEDURES = frozenset({"card_renewal", "pin_reset"})
FORM_ID_PROCEDURES = frozenset({"card_renewal", "card_application"})
MAILED = frozenset({"card_renewal", "card_application"})
WAITING_STATES = frozenset({"queued_for_officer", "session_live", "evidence_captured", "officer_review"})
CONSENT_VERSIONS = {"recording": "2026-04", "id_copy": "2026-04", "pin_entry": "2026-04"}
# The hub's withdraw reasons that name an eligibility rule; any other ineligibility is withdrawn as `ineligible`.
_WITHDRAW_REASONS = frozenset(
    {
        "proxy_not_allowed",
        "legal_representative_absent",
        "moving_before_delivery",
        "mail_forwarding_registered",
    }
)


def steps_of(procedure: str) -> list[str]:
    """The progress bar's steps for a procedure."""
    if procedure == "application_support":
        return ["procedure", "eligibility", "consents", "receipt"]
    steps = ["procedure"]
    if procedure in FORM_ID_PROCEDURES:
        steps.append("form_id")
    steps += ["eligibility", "consents"]
    if procedure in CARD_PROCEDURES:
        steps.append("card")
    return [*steps, "queue", "call", "decision", "receipt"]


@dataclass
class CounterCase:
    """The local record of one counter case: ids, codes and step flags only (never a PIN or code B)."""

    local_id: str
    procedure: str
    idempotency_key: str
    municipality_code: str
    shinseisho_id: str | None = None
    case_id: str | None = None
    hub_state: str = "new"
    precheck_reasons: list[str] = field(default_factory=list)
    consents: dict[str, dict[str, str]] = field(default_factory=dict)
    pin_retries: int | None = None
    pin_blocked: bool = False
    proof_ok: bool | None = None
    photo_sent: bool = False
    evidence_sent: bool = False
    started_at: str = ""
    finished: bool = False


@dataclass
class PinPrompt:
    """What the applicant's PIN pad shows; `challenge` is fetched before it opens."""

    open: bool = False
    needs_clerk_confirm: bool = False
    confirmed: bool = False
    challenge: JsonObject | None = None
    retries_left: int | None = None


class CounterFlow:
    """The counter's state and the clerk's actions; `run` owns the hub worker, the poller and the call."""

    def __init__(
        self,
        link: HubLink,
        store: LocalStore,
        slot: CardSlot,
        *,
        municipality_code: str = "",
        poll_s: float = 1.0,
        call_enabled: bool = True,
    ) -> None:
        self.link = link
        self.store = store
        self.slot = slot
        self.municipality_code = municipality_code
        self.poll_s = poll_s
        self.call_enabled = call_enabled
        self.case: CounterCase | None = None
        self.queue: JsonObject = {}
        self.notice: str | None = None
        self.notice_detail = ""
        self.pin = PinPrompt()
        self.call = CallStatus()
        self.office: JsonObject = {}
        self.sealing_key: JsonObject | None = None
        self.photo_advice: list[str] = []
        self._code_b: bytearray | None = None
        self._writes: asyncio.Queue[tuple[int, str, str, str, JsonObject | None]] = asyncio.Queue()
        self._idle = asyncio.Event()
        self._idle.set()
        self._call_task: asyncio.Task[None] | None = None
        self._card_lock = asyncio.Lock()
        self._office_known = asyncio.Event()
        self._keys: dict[int, str | None] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    # --- lifecycle -------------------------------------------------------------------------------

    async def run(self) -> None:
        """Replay pending writes, resume an unfinished case, then serve writes and poll until cancelled."""
        for write in await self.store.pending():
            self._idle.clear()
            self._writes.put_nowait((write.id, write.local_case_id, write.method, write.path, write.body))
            self._keys[write.id] = write.idempotency_key
        record = await self.store.unfinished_case()
        if record is not None:
            self.case = CounterCase(**record)  # type: ignore[arg-type]
        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(self._write_worker(), name="counter-hub-writes")
                group.create_task(self._poller(), name="counter-poller")
                group.create_task(self._office(), name="counter-office")
        finally:
            await self._stop_call()
            for task in list(self._tasks):
                task.cancel()
            if self._tasks:
                await asyncio.gather(*self._tasks, return_exceptions=True)
            self._wipe_code_b()

    async def _office(self) -> None:
        """Learn the device's post office once the hub answers (the municipality the designation covers)."""
        me = await self.link.request("GET", "/api/v1/devices/me")
        self.office = me
        designations = me.get("designations")
        if not self.municipality_code and isinstance(designations, list) and designations:
            first = designations[0]
            if isinstance(first, dict):
                self.municipality_code = str(first.get("municipality_code", ""))
        self._office_known.set()

    async def _enqueue(self, method: str, path: str, body: JsonObject | None, key: str | None = None) -> None:
        """Persist a hub write, then hand it to the worker."""
        case = self._require_case()
        write_id = await self.store.add_write(case.local_id, method, path, body, key)
        self._keys[write_id] = key
        self._idle.clear()
        self._writes.put_nowait((write_id, case.local_id, method, path, body))

    async def _write_worker(self) -> None:
        while True:
            write_id, local_id, method, path, body = await self._writes.get()
            key = self._keys.pop(write_id, None)
            if path == "/api/v1/cases" and body is not None and not body.get("municipality_code"):
                # A case started before the hub first answered: the office's municipality is known only now.
                await self._office_known.wait()
                body = {**body, "municipality_code": self.municipality_code}
            try:
                result = await self.link.request(method, path, body, idempotency_key=key)
            except HubRefused as exc:
                result = None
                self._refused(exc)
            if result is not None:
                await self._applied(local_id, path, result)
            # Only an answer retires a write, after its follow-ups are stored: a stopped agent replays it
            # (a replayed create returns the same case; a repeated action is a 409 that _refused ignores).
            await self.store.done(write_id)
            if self._writes.empty():
                self._idle.set()

    def _refused(self, exc: HubRefused) -> None:
        # An action the hub already applied before a lost answer comes back as a wrong-state 409: nothing to do.
        if exc.status == 409 and exc.problem_code == "invalid_transition":
            logger.info("hub already past this step (%s)", exc.problem_code)
            return
        self.notice = "form_id_in_use" if exc.problem_code == "shinseisho_id_in_use" else "hub_refused"
        self.notice_detail = exc.problem_code
        logger.warning("hub refused a counter write: %s", exc.problem_code)

    async def _applied(self, local_id: str, path: str, result: JsonObject) -> None:
        case = self.case
        if case is None or case.local_id != local_id:
            return
        if "state" in result and "id" in result:
            case.case_id = str(result["id"])
            case.hub_state = str(result["state"])
            if path == "/api/v1/cases" and case.hub_state == "draft":
                # Checked in from the create's answer (also a replayed one), so a restart cannot skip it.
                await self._enqueue("POST", f"/api/v1/cases/{case.case_id}/check-in", {})
            precheck = result.get("precheck")
            if path.endswith("/precheck") and isinstance(precheck, dict):
                reasons = precheck.get("reasons")
                case.precheck_reasons = [str(r) for r in reasons] if isinstance(reasons, list) else []
                if case.precheck_reasons:
                    first = case.precheck_reasons[0]
                    reason = first if first in _WITHDRAW_REASONS else "ineligible"
                    await self._enqueue(
                        "POST", f"/api/v1/cases/{case.case_id}/withdraw", {"reason_code": reason}
                    )
        await self._save()

    async def settle(self, timeout_s: float = 30.0) -> None:
        """Wait until every queued hub write has been answered (tests, and before a new case)."""
        async with asyncio.timeout(timeout_s):
            await self._idle.wait()

    async def _poller(self) -> None:
        while True:
            await asyncio.sleep(self.poll_s)
            case = self.case
            if case is None or case.case_id is None or not self._idle.is_set():
                continue
            if case.hub_state not in WAITING_STATES and case.hub_state not in {"approved", "aborted"}:
                continue
            try:
                read = await self.link.request("GET", f"/api/v1/cases/{case.case_id}")
                case.hub_state = str(read["state"])
                if case.hub_state == "queued_for_officer":
                    self.queue = await self.link.request(
                        "GET", f"/api/v1/cases/{case.case_id}/queue-position"
                    )
            except HubRefused as exc:
                logger.warning("polling the case failed: %s", exc.problem_code)
                continue
            await self._on_state(case)

    async def _on_state(self, case: CounterCase) -> None:
        if case.hub_state == "session_live":
            if self.call_enabled and self._call_task is None and case.case_id:
                self.call = CallStatus()
                # Owned here and cancelled in _stop_call (on decision, withdraw or shutdown).
                self._call_task = asyncio.create_task(
                    run_call(self.link.http, case.case_id, self.call), name=f"call-{case.case_id}"
                )
            if case.procedure in CARD_PROCEDURES and self._code_b is not None and self.pin.challenge is None:
                await self._prepare_pin()
        elif case.hub_state not in {"queued_for_officer", "evidence_captured"}:
            await self._stop_call()
        if case.hub_state == "approved" and case.procedure in MAILED and self.sealing_key is None:
            # Fetched before the applicant chooses PINs, so chosen PINs never wait on the network.
            try:
                self.sealing_key = await self.link.request(
                    "GET", f"/api/v1/municipalities/{case.municipality_code}/pin-sealing-key"
                )
            except HubRefused as exc:
                self._refused(exc)
        await self._save()

    async def _stop_call(self) -> None:
        task, self._call_task = self._call_task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _save(self) -> None:
        if self.case is not None:
            await self.store.save_case(
                self.case.local_id, dataclasses.asdict(self.case), finished=self.case.finished
            )

    # --- the clerk's actions -----------------------------------------------------------------------

    async def start(self, procedure: str, shinseisho_id: str | None = None) -> None:
        """Open a case (and check it in: the applicant is at the counter)."""
        if procedure not in texts.PROCEDURES:
            raise ValueError(f"unknown procedure {procedure}")
        if procedure in FORM_ID_PROCEDURES and not (
            shinseisho_id and len(shinseisho_id) == 23 and shinseisho_id.isdigit()
        ):
            self.notice = "invalid_form_id"
            return
        await self.new_case()
        key = f"agent-{uuid.uuid4()}"
        self.case = CounterCase(
            local_id=uuid.uuid4().hex,
            procedure=procedure,
            idempotency_key=key,
            municipality_code=self.municipality_code,
            shinseisho_id=shinseisho_id if procedure in FORM_ID_PROCEDURES else None,
            started_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        )
        self.notice = None
        await self._save()
        body: JsonObject = {"municipality_code": self.municipality_code, "procedure": procedure}
        if self.case.shinseisho_id:
            body["shinseisho_id"] = self.case.shinseisho_id
        await self._enqueue("POST", "/api/v1/cases", body, key)

    async def _case_action(self, action: str, body: JsonObject | None = None) -> None:
        """Queue an action on the current case; the case id is resolved when the worker sends it."""
        case = self._require_case()
        await self.settle(timeout_s=3600)  # the create must be answered before its id is known
        if case.case_id is None:
            return
        await self._enqueue("POST", f"/api/v1/cases/{case.case_id}/{action}", body or {})

    async def answer_eligibility(self, answers: dict[str, bool]) -> None:
        """Record the eligibility answers (precheck); ineligible cases are withdrawn with the matching code."""
        self._task_of(self._case_action("precheck", {"answers": dict(answers)}))

    async def give_consents(self, consents: dict[str, bool]) -> None:
        """Record the applicant's versioned consents locally (the hub is not told: nothing to summarise yet)."""
        case = self._require_case()
        if not all(consents.get(name) for name in CONSENT_VERSIONS):
            self.notice = "consents_required"
            return
        now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        case.consents = {name: {"version": v, "at": now} for name, v in CONSENT_VERSIONS.items()}
        self.notice = None
        await self._save()

    async def check_card(self) -> None:
        """Read the card's retry counters (no try spent) and show them before any PIN is asked for."""
        case = self._require_case()
        try:
            async with self._card_lock:
                statuses = await asyncio.to_thread(self._statuses)
        except CardError as exc:
            self.notice = exc.code
            return
        except AgentError as exc:
            self.notice = exc.code
            return
        auth = statuses[PinKind.JPKI_AUTH]
        case.pin_retries = auth.retries_left
        case.pin_blocked = auth.blocked
        self.notice = "pin_blocked" if auth.blocked else None
        await self._save()

    def _statuses(self) -> dict[PinKind, PinStatus]:
        with self.slot.session() as card:
            card.detect()
            return dict(card.pin_statuses([PinKind.JPKI_AUTH]))

    async def request_verification(self) -> None:
        """Put the case in the municipality's officer queue."""
        self._task_of(self._case_action("request-verification"))

    async def requeue(self) -> None:
        """After an abort: queue again (evidence is taken afresh)."""
        self.pin = PinPrompt()
        if self.case:
            self.case.proof_ok = None
            self.case.evidence_sent = False
        self._task_of(self._case_action("requeue"))

    async def withdraw(self, reason_code: str = "applicant_request") -> None:
        """The applicant or clerk ends the case before a decision."""
        await self._stop_call()
        self._task_of(self._case_action("withdraw", {"reason_code": reason_code}))

    async def set_code_b(self, code_b: str) -> None:
        """照合番号B typed by the clerk from the card face; kept in memory only until the card read."""
        if len(code_b) != 14 or not code_b.isdigit():
            self.notice = "invalid_code_b"
            return
        self._wipe_code_b()
        self._code_b = bytearray(code_b.encode())
        self.notice = None
        if self.case and self.case.hub_state == "session_live":
            await self._prepare_pin()

    async def confirm_last_try(self) -> None:
        """The clerk confirmed spending the last PIN try (「残り1回です…」)."""
        self.pin.confirmed = True
        self.pin.needs_clerk_confirm = False

    async def _prepare_pin(self) -> None:
        """Fetch the card challenge, read the counters, then open the applicant's PIN pad."""
        case = self._require_case()
        try:
            self.pin.challenge = await self.link.request(
                "POST", f"/api/v1/cases/{case.case_id}/card-challenges"
            )
        except HubRefused as exc:
            self._refused(exc)
            return
        await self.check_card()
        self.pin.retries_left = case.pin_retries
        self.pin.needs_clerk_confirm = case.pin_retries == 1 and not self.pin.confirmed
        self.pin.open = not case.pin_blocked

    async def submit_pin(self, pin: bytearray) -> None:
        """The applicant's PIN, once: to the card in a worker thread, wiped; the signature goes to the hub."""
        case = self._require_case()
        try:
            if not self.pin.open or self.pin.challenge is None or self._code_b is None:
                self.notice = "hub_refused"
                return
            if self.pin.needs_clerk_confirm and not self.pin.confirmed:
                self.notice = "last_try_confirmation_required"
                return
            challenge = self.pin.challenge
            code_b = bytearray(self._code_b)
            try:
                async with self._card_lock:
                    read = await asyncio.to_thread(
                        self._read,
                        pin,
                        code_b,
                        PossessionChallenge(
                            str(challenge["origin"]), str(challenge["nonce"]), str(challenge["case_id"])
                        ),
                    )
            except PinIncorrect as exc:
                self.notice = exc.code
                case.pin_retries = self.pin.retries_left = exc.retries_left
                self.pin.needs_clerk_confirm = exc.retries_left == 1
                self.pin.confirmed = False
                return
            except AgentError as exc:
                self.notice = exc.code
                if exc.code == "pin_blocked":
                    case.pin_blocked, self.pin.open = True, False
                return
        finally:
            pin[:] = bytes(len(pin))
        self.pin = PinPrompt()
        self._wipe_code_b()
        self.notice = None
        await self._post_proof(case, challenge, read)

    def _read(self, pin: bytearray, code_b: bytearray, challenge: PossessionChallenge) -> CounterRead:
        with self.slot.session() as card:
            return read_at_counter(
                card, auth_pin=pin, code_b=code_b, challenge=challenge, confirm_last_try=self.pin.confirmed
            )

    async def _post_proof(self, case: CounterCase, challenge: JsonObject, read: CounterRead) -> None:
        body: JsonObject = {
            "challenge_id": challenge["challenge_id"],
            "certificate": base64.b64encode(read.auth_certificate).decode(),
            "signature": base64.b64encode(read.signature).decode(),
            "atr": read.atr.hex(),
            "card_face": base64.b64encode(read.card_face.raw).decode() if read.card_face else None,
        }
        try:
            outcome = await self.link.request("POST", f"/api/v1/cases/{case.case_id}/card-proofs", body)
        except HubRefused as exc:
            self._refused(exc)
            case.proof_ok = False
            return
        evidence = outcome.get("evidence")
        case.proof_ok = bool(isinstance(evidence, dict) and evidence.get("ok"))
        if not case.proof_ok:
            self.notice = "proof_failed"
        await self.capture_evidence()

    async def capture_evidence(self) -> None:
        """Tell the hub the evidence is in (documents shown, card read)."""
        case = self._require_case()
        if case.evidence_sent:
            return
        case.evidence_sent = True
        await self._save()
        self._task_of(self._case_action("capture-evidence"))

    async def choose_face_auth(self) -> None:
        """顔認証マイナンバーカード: no PINs are set; the hub records the choice and the case is finalized."""
        self._task_of(self._case_action("pin-request", {"face_auth": True}))

    async def submit_pin_choice(self, raw: bytearray) -> None:
        """The applicant's four chosen PINs (暗証番号設定依頼), sealed here to the municipality's key, then wiped.

        `raw` is "署名用\n利用者証明用\n住基\n券面事項入力補助用" as typed on the applicant screen.
        """
        from service.wire.pin_seal import PinChoiceError, seal, validate_pins

        case = self._require_case()
        parts = [bytearray(p) for p in raw.split(b"\n")]
        raw[:] = bytes(len(raw))
        try:
            if len(parts) != 4 or self.sealing_key is None or case.case_id is None:
                self.notice = "invalid_pin_choice" if len(parts) != 4 else "hub_refused"
                return
            sign, auth, juki, kenhojo = parts
            try:
                validate_pins(sign_password=sign, auth_pin=auth, juki_pin=juki, kenhojo_pin=kenhojo)
            except PinChoiceError:
                self.notice = "invalid_pin_choice"
                return
            key = X25519PublicKey.from_public_bytes(_b64url(str(self.sealing_key["public_key"])))
            sealed = seal(
                key,
                case_id=case.case_id,
                pins={"sign_password": sign, "auth_pin": auth, "juki_pin": juki, "kenhojo_pin": kenhojo},
            )
        finally:
            for part in parts:
                part[:] = bytes(len(part))
        self.notice = None
        self._task_of(self._case_action("pin-request", {"sealed": sealed.model_dump()}))

    async def capture_application_photo(self) -> None:
        """申請用顔写真 from the camera at full resolution: advice shown to the clerk, the still sent to the hub."""
        from clerk_agent.rtc.relay import CameraFeed
        from clerk_agent.rtc.sources import SyntheticCamera
        from clerk_agent.rtc.stills import capture_still

        case = self._require_case()
        feed = CameraFeed(SyntheticCamera(1280, 960, fps=5), call_size=None)
        try:
            still = await capture_still(feed)
        finally:
            await feed.close()
        self.photo_advice = await asyncio.to_thread(_advice_of, still.data)
        await self.settle(timeout_s=3600)
        await self.link.upload(
            f"/api/v1/cases/{case.case_id}/stills",
            still.data,
            still.media_type,
            {"kind": "application_photo"},
        )
        case.photo_sent = True
        await self._save()

    async def close_case(self) -> None:
        """Approved procedures that are not mailed end at the counter."""
        self._task_of(self._case_action("close"))

    async def complete_support(self) -> None:
        """申請サポート done: photo and form only, no identity decision."""
        self._task_of(self._case_action("complete"))

    async def new_case(self) -> None:
        """Finish the current case locally and clear every screen."""
        await self._stop_call()
        self._wipe_code_b()
        self.pin = PinPrompt()
        self.queue = {}
        if self.case is not None:
            self.case.finished = True
            await self._save()
        self.case = None

    # --- helpers -------------------------------------------------------------------------------------

    def _task_of(self, work: Awaitable[None]) -> None:
        """Run a queued action without holding the clerk's HTTP request; kept until done (owned here)."""

        async def guarded() -> None:
            try:
                await work
            except LinkError as exc:
                self.notice = exc.code

        task = asyncio.create_task(guarded())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _require_case(self) -> CounterCase:
        if self.case is None:
            raise LookupError("no case at the counter")
        return self.case

    def _wipe_code_b(self) -> None:
        if self._code_b is not None:
            self._code_b[:] = bytes(len(self._code_b))
            self._code_b = None

    def current_step(self) -> str:
        """Where the progress bar stands."""
        case = self.case
        if case is None:
            return "procedure"
        state = case.hub_state
        if state in {"new", "draft", "checked_in"}:
            return "eligibility"
        if state == "eligibility_precheck":
            if not case.consents:
                return "consents"
            if case.procedure == "application_support":
                return "consents"
            return "card" if case.procedure in CARD_PROCEDURES else "queue"
        if state == "queued_for_officer":
            return "queue"
        if state in {"session_live", "evidence_captured"}:
            return "call"
        if state in {"officer_review", "aborted"}:
            return "decision"
        return "receipt" if state in {"pin_request_sealed", "submitted_to_jlis", "closed"} else "decision"

    def code_b_entered(self) -> bool:
        """Whether the clerk has typed code B (the digits themselves are never shown back)."""
        return self._code_b is not None


def _advice_of(data: bytes) -> list[str]:
    """Decode a still and advise on it (worker thread: decoding and detection block)."""
    import cv2
    import numpy as np

    from clerk_agent.photo.guidance import advise, measure

    image = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        return ["no_face"]
    return [advice.value for advice in advise(measure(image.astype(np.uint8)))]
