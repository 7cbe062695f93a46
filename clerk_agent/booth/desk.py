"""The booth desk: one applicant at a time through the officer's steps, and the day's progress (docs/booths.md).

Steps: residence (asked first, so a resident whose municipality accepts no forwarding is told before anything is
captured) → 申請書ID (typed, or the form's QR code read by the camera as at the counter) → eligibility answers →
application photo with the counter's framing advice, and the ID document stills → the officer's checklist and
decision → PINs (sealed at once to the municipality) or 顔認証 → recorded, encrypted, waiting for the network.
The draft lives in memory only; what is recorded goes into the encrypted store.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from clerk_agent.booth.day import BoothDay, BoothWiped, Capture, NotReceivable, SyncReport
from clerk_agent.errors import AgentError
from clerk_agent.link.hub import HubRefused, HubUnavailable
from clerk_agent.photo.camera import CounterCamera, SceneCamera
from clerk_agent.photo.faces import portrait_box
from clerk_agent.photo.guidance import ADVICE_TEXT, Advice, Box
from clerk_agent.photo.preview import Detector, PhotoPreview
from clerk_agent.photo.qr import form_id_in, scan_form_id
from clerk_agent.photo.scenes import application_form, id_card
from clerk_agent.wording.problems import problem_text
from clerk_agent.wording.texts import NOTICES
from service.wire import booths as wire
from service.wire.cases import REASONS, Action
from service.wire.labels import REASON_LABELS
from service.wire.pin_seal import PinChoiceError, validate_pins

log = logging.getLogger(__name__)

STEPS = ("residence", "form", "answers", "photo", "decision", "pins")
STEP_LABELS: dict[str, tuple[str, str]] = {
    "residence": ("住所地", "Residence"),
    "form": ("申請書ID", "Form ID"),
    "answers": ("確認事項", "Questions"),
    "photo": ("写真・書類", "Photo & ID"),
    "decision": ("本人確認", "Identity check"),
    "pins": ("暗証番号", "PINs"),
}
DEFAULT_ANSWERS: dict[str, bool] = {
    "applicant_present": True,
    "resident_of_municipality": True,
    "proxy_applicant": False,
    "minor_or_adult_ward": False,
    "legal_representative_present": False,
    "moving_or_name_change_before_delivery": False,
    "mail_forwarding_registered": False,
    "special_handling_required": False,
}


@dataclass
class Draft:
    """The applicant at the desk now (memory only)."""

    residence: str = ""
    shinseisho_id: str = ""
    answers: dict[str, bool] = field(default_factory=lambda: dict(DEFAULT_ANSWERS))
    photo: bytes | None = None
    advice: tuple[Advice, ...] = ()
    documents: dict[str, bytes] = field(default_factory=dict)
    decision: wire.Decision | None = None


def _jpeg(frame: Any) -> bytes:
    import cv2

    ok, encoded = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, 85])
    if not ok:
        raise ValueError("the still could not be encoded")
    data: bytes = encoded.tobytes()
    return data


def scene_detector(camera: SceneCamera) -> Detector:
    """Where the synthetic camera drew its person's face (faces.py geometry): the demo's stand-in for the cascade,
    which does not take the drawn face for a real one. A real camera keeps the counter's Haar cascade."""

    def detect(gray: NDArray[np.uint8]) -> tuple[Box, ...]:
        look = camera.person
        if look is None or camera.scene is not None:
            return ()
        height, width = gray.shape[:2]
        left, top, right, bottom = portrait_box(width, height)
        w, h = right - left, bottom - top
        x = left + (0.5 - look.head_width) * w
        y = top + (0.44 - look.head_height) * h
        return (Box(int(x), int(y), int(2 * look.head_width * w), int(2 * look.head_height * h)),)

    return detect


def worded(exc: Exception) -> tuple[str, str]:
    """What the officer at the booth reads for a refused step: the hub's problem or the agent's notice, in words."""
    if isinstance(exc, HubRefused):
        return problem_text(exc.problem_code)
    if isinstance(exc, AgentError):
        return NOTICES.get(exc.code) or problem_text(exc.code)
    return ("入力内容を確認してください。", "Check what was entered.")


class Desk:
    """The booth UI's state and actions around one BoothDay."""

    def __init__(
        self, day: BoothDay, camera: CounterCamera, *, booth_id: str = "", sync_every_s: float = 10.0
    ) -> None:
        self.day = day
        self.camera = camera
        self.booth_id = booth_id
        self.sync_every_s = sync_every_s
        self.step = "login"
        self.draft = Draft()
        self.notice: tuple[str, str] | None = None
        self.online: bool | None = None
        self.last_sync: SyncReport | None = None
        self.hub_cases: list[wire.BoothCase] = []
        self._lock = asyncio.Lock()

    # ---- session --------------------------------------------------------------------------------------------

    async def login(self, *, username: str, password: str, totp: str | None, booth_id: str) -> None:
        try:
            await self.day.login(
                username=username, password=password, totp=totp, booth_id=booth_id or self.booth_id
            )
        except HubUnavailable:
            self.notice = (
                "ハブに接続できません。出発前にネットワークのある所でログインしてください。",
                "Cannot reach the hub: log in where there is a network, before leaving.",
            )
            return
        except HubRefused as exc:
            self.notice = worded(exc)
            return
        self.online, self.notice, self.step = True, None, "day"

    async def resume(self) -> None:
        """On start: if this laptop already holds a session, get its key back from the hub."""
        if not self.day.store.meta("session_id"):
            return
        with contextlib.suppress(HubUnavailable, HubRefused, AgentError):
            await self.day.resume()
            self.step, self.online = "day", True

    # ---- one applicant --------------------------------------------------------------------------------------

    def start(self) -> None:
        self.draft, self.notice, self.step = Draft(), None, "residence"

    def cancel(self) -> None:
        self.draft, self.notice, self.step = Draft(), None, "day"

    def residence(self, code: str) -> None:
        if not self.day.can_receive(code):
            # Said before anything is captured (docs/booths.md §Forwarding).
            self.notice = (
                "この市区町村にお住まいの方の申請は、このブースでは受け付けられません（転送の取り決めがありません）。お住まいの市区町村の窓口をご案内してください。",
                "Applicants living in this municipality cannot be received at this booth (no forwarding agreement). "
                "Refer them to their own municipality.",
            )
            return
        self.draft.residence, self.notice, self.step = code, None, "form"

    def form_id(self, text: str) -> None:
        found = form_id_in(text.replace(" ", "").replace("-", ""))
        if found is None:
            self.notice = ("申請書IDは23桁の数字です。", "The form ID is 23 digits.")
            return
        self.draft.shinseisho_id, self.notice, self.step = found, None, "answers"

    async def scan_form(self) -> None:
        found = await scan_form_id(self.camera, timeout_s=3.0)
        if found is None:
            self.notice = ("QRコードを読み取れませんでした。", "No QR code could be read.")
            return
        self.form_id(found)

    def demo_hold_form(self, shinseisho_id: str) -> None:
        """(Demo camera) hold the application form up to the camera."""
        if isinstance(self.camera, SceneCamera):
            self.camera.show(application_form(shinseisho_id))

    def answers(self, given: dict[str, Any]) -> None:
        self.draft.answers = {k: bool(given.get(k, v)) for k, v in DEFAULT_ANSWERS.items()}
        self.notice, self.step = None, "photo"

    async def take_photo(self) -> None:
        if isinstance(self.camera, SceneCamera):
            self.camera.show(None)
        preview = (
            PhotoPreview(self.camera, detector=scene_detector(self.camera))
            if isinstance(self.camera, SceneCamera)
            else PhotoPreview(self.camera)
        )
        jpeg, advice = await preview.take()
        self.draft.photo, self.draft.advice = jpeg, advice

    async def take_document(self, kind: str) -> None:
        if isinstance(self.camera, SceneCamera):
            self.camera.show(id_card(tilted=kind == "document_tilt"))
        frame = await self.camera.frame()
        self.draft.documents[kind] = await asyncio.to_thread(_jpeg, frame)
        if isinstance(self.camera, SceneCamera):
            self.camera.show(None)

    def photos_done(self) -> None:
        if self.draft.photo is None:
            self.notice = ("申請用の顔写真を撮影してください。", "Take the application photo first.")
            return
        self.notice, self.step = None, "decision"

    def decide(self, given: dict[str, Any]) -> None:
        action = wire.DecisionAction(str(given.get("action", "")))
        reason = given.get("reason_code") or None
        checklist = wire.Checklist(
            id_combination=str(given.get("id_combination", "A1_with_pin")),
            face_match=bool(given.get("face_match")),
            attributes_match=bool(given.get("attributes_match")),
            eligibility_confirmed=bool(given.get("eligibility_confirmed")),
            documents_authentic=bool(given.get("documents_authentic")),
        )
        if not given.get("attested"):
            self.notice = (
                "判断の確認（宣誓）にチェックしてください。",
                "Confirm your decision (attestation).",
            )
            return
        if action is wire.DecisionAction.approve and not all(
            (
                checklist.face_match,
                checklist.attributes_match,
                checklist.eligibility_confirmed,
                checklist.documents_authentic,
            )
        ):
            self.notice = ("承認にはすべての確認項目が必要です。", "Approval needs every check ticked.")
            return
        if action is not wire.DecisionAction.approve and reason not in REASONS.get(
            Action(action.value), frozenset()
        ):
            self.notice = ("理由を選んでください。", "Choose a reason.")
            return
        self.draft.decision = wire.Decision(
            action=action,
            reason_code=str(reason) if reason else None,
            attested=True,
            checklist=checklist,
            decided_at=self.day.now(),
        )
        self.notice = None
        if action is wire.DecisionAction.approve:
            self.step = "pins"
        else:
            self._record(pins=None, face_auth=False)

    def pins(self, given: dict[str, Any]) -> None:
        if given.get("face_auth"):
            self._record(pins=None, face_auth=True)
            return
        buffers = {
            k: bytearray(str(given.get(k, "")).encode())
            for k in ("sign_password", "auth_pin", "juki_pin", "kenhojo_pin")
        }
        try:
            validate_pins(**buffers)
        except PinChoiceError as exc:
            for b in buffers.values():
                b[:] = bytes(len(b))
            self.notice = ("暗証番号の条件を満たしていません。", f"The PINs do not meet the rules: {exc}")
            return
        self._record(pins=buffers, face_auth=False)

    def _record(self, *, pins: dict[str, bytearray] | None, face_auth: bool) -> None:
        draft = self.draft
        if draft.decision is None:  # pragma: no cover - the steps set it first
            return
        stills: list[tuple[str, str, bytes]] = []
        if draft.photo is not None:
            stills.append(("application_photo", "image/jpeg", draft.photo))
        stills += [(kind, "image/jpeg", data) for kind, data in sorted(draft.documents.items())]
        try:
            self.day.record(
                Capture(
                    residence_municipality_code=draft.residence,
                    shinseisho_id=draft.shinseisho_id,
                    answers=draft.answers,
                    decision=draft.decision,
                    stills=stills,
                    pins=pins,
                    face_auth=face_auth,
                )
            )
        except NotReceivable:
            self.residence(draft.residence)
            return
        self.draft, self.step = Draft(), "day"
        self.notice = (
            "記録しました。ネットワークが戻ると送信されます。",
            "Recorded; it is sent when the network returns.",
        )

    # ---- the network ---------------------------------------------------------------------------------------

    async def sync(self) -> None:
        async with self._lock:
            if self.day.session is None:
                return
            try:
                self.last_sync = await self.day.sync()
                self.online = not self.last_sync.offline
                if self.online and self.step == "day":
                    self.notice = None  # "recorded, sent when the network returns" is done with
                if self.online:
                    self.hub_cases = await self.day.hub_cases()
                    self.online = self.day.hub.link.status.online is not False
            except BoothWiped:
                self.step, self.online = "wiped", False
                self.notice = (
                    "この端末は失効しました。記録は消去されました。",
                    "This laptop was revoked; its records are wiped.",
                )

    async def run(self) -> None:
        """Try to sync every few seconds while cases wait (the network comes back by itself)."""
        await self.resume()
        while True:
            await asyncio.sleep(self.sync_every_s)
            if self.day.session is not None and (
                self.day.store.cases(status="recorded") or self.online is None
            ):
                await self.sync()

    # ---- what the page shows ----------------------------------------------------------------------------

    def view(self) -> dict[str, Any]:
        session = self.day.session
        out: dict[str, Any] = {
            "step": self.step,
            "notice": {"ja": self.notice[0], "en": self.notice[1]} if self.notice else None,
            "online": self.online,
            "steps": [{"key": s, "ja": STEP_LABELS[s][0], "en": STEP_LABELS[s][1]} for s in STEPS],
            "booth_id": self.booth_id,
        }
        if session is None:
            return out
        booth = session.booth
        held = {c.client_case_id: c for c in self.hub_cases}
        cases = []
        for stored in self.day.store.cases():
            listed = held.get(stored.case_id)
            answer = stored.answer or {}
            cases.append(
                {
                    "sequence": stored.sequence,
                    "status": stored.status,
                    "reference": (listed.reference if listed else None) or answer.get("reference"),
                    "state": (listed.state if listed else None) or answer.get("state"),
                    "hold": listed.hold.value if listed and listed.hold else None,
                    "hold_reason": listed.hold_reason if listed else None,
                    "code": answer.get("code"),
                }
            )
        out.update(
            {
                "booth": {
                    "office_name": booth.office_name,
                    "municipality_name": booth.municipality_name,
                    "municipality_code": booth.municipality_code,
                    "starts_on": booth.starts_on.isoformat(),
                    "ends_on": booth.ends_on.isoformat(),
                    "note": booth.note,
                    "slots": [s.model_dump(mode="json") for s in booth.slots],
                },
                "forwarding_from": session.forwarding_from,
                "forwarding_names": session.forwarding_names,
                "progress": self.day.progress(self.hub_cases),
                "cases": cases,
                "applicant": {
                    "residence": self.draft.residence,
                    "shinseisho_id": self.draft.shinseisho_id,
                    "answers": self.draft.answers,
                    "photo": self.draft.photo is not None,
                    "advice": [
                        {"ja": ADVICE_TEXT[a][0], "en": ADVICE_TEXT[a][1], "ok": a is Advice.ok}
                        for a in self.draft.advice
                    ],
                    "documents": sorted(self.draft.documents),
                },
                "reasons": {
                    a: [
                        {
                            "code": r,
                            "ja": REASON_LABELS.get(r, (r, r))[0],
                            "en": REASON_LABELS.get(r, (r, r))[1],
                        }
                        for r in sorted(REASONS.get(Action(a), frozenset()))
                    ]
                    for a in ("reject", "refer_to_counter")
                },
            }
        )
        return out

    def photo_jpeg(self) -> bytes | None:
        return self.draft.photo
