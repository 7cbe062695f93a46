"""Every hub problem code and every agent error the clerk can meet has Japanese and English wording."""

from __future__ import annotations

import ast
import importlib
import pkgutil
from pathlib import Path
from typing import TypeVar

import clerk_agent
import service
from clerk_agent.errors import AgentError
from clerk_agent.wording import problems, texts
from service.errors import HubError

_E = TypeVar("_E", bound=Exception)

FLOWS = Path(clerk_agent.__file__).parent / "flows"
# Codes the exception handlers produce without a HubError class (service/errors.py).
HANDLER_CODES = {"validation_error", "not_found", "method_not_allowed", "payload_too_large"}
# Agent errors that never become a clerk notice: the call's own failures show as the call phase.
CALL_ONLY = {"peer_error", "peer_timeout", "peer_failed", "ice_config", "capture_error", "signaling_refused",
             "signaling_lost", "receipt_unavailable"}  # fmt: skip


def _all_subclasses(base: type[_E]) -> set[type[_E]]:
    found: set[type[_E]] = set()
    todo = [base]
    while todo:
        for sub in todo.pop().__subclasses__():
            if sub not in found:
                found.add(sub)
                todo.append(sub)
    return found


def _import_all(package: object) -> None:
    path = getattr(package, "__path__", None)
    name = getattr(package, "__name__", "")
    for module in pkgutil.walk_packages(path, prefix=f"{name}."):
        if ".virtual." in module.name or module.name.endswith(("__main__", ".cli")):
            continue
        importlib.import_module(module.name)


def test_every_hub_problem_code_is_worded_or_placed_out_of_the_counters_reach() -> None:
    _import_all(service)
    codes = {cls.code for cls in _all_subclasses(HubError)} | {HubError.code} | HANDLER_CODES
    unplaced = codes - set(problems.PROBLEMS) - problems.NOT_AT_THE_COUNTER
    assert not unplaced, (
        f"hub codes with no clerk wording and not marked NOT_AT_THE_COUNTER: {sorted(unplaced)}"
    )
    assert not set(problems.PROBLEMS) & problems.NOT_AT_THE_COUNTER
    stale = (set(problems.PROBLEMS) | problems.NOT_AT_THE_COUNTER) - codes
    assert not stale, f"wording for codes the hub no longer has: {sorted(stale)}"
    for code, (ja, en) in problems.PROBLEMS.items():
        assert ja, code
        assert en, code
        assert ja != en, code


def test_an_unknown_code_still_reads_plainly_and_names_the_code() -> None:
    ja, en = problems.problem_text("brand_new_code")
    assert "brand_new_code" in ja
    assert "brand_new_code" in en
    assert problems.problem_text("shinseisho_id_in_use")[0].startswith("この申請書IDは使用済み")


def test_every_agent_error_and_every_notice_the_flow_sets_has_wording() -> None:
    _import_all(clerk_agent)
    agent_codes = {cls.code for cls in _all_subclasses(AgentError)} | {AgentError.code}
    missing = agent_codes - CALL_ONLY - set(texts.NOTICES)
    assert not missing, f"agent errors with no notice text: {sorted(missing)}"
    # Every literal `notice = "..."` in the flows names a text.
    literals: set[str] = set()
    for source in FLOWS.glob("*.py"):
        for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Assign | ast.AnnAssign):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                named = any(isinstance(t, ast.Attribute) and t.attr == "notice" for t in targets)
                for value in ast.walk(node.value) if named and node.value is not None else ():
                    if isinstance(value, ast.Constant) and isinstance(value.value, str):
                        literals.add(value.value)
    assert {"qr_not_found", "documents_required", "photo_required", "pin_not_open"} <= literals
    assert not literals - set(texts.NOTICES), sorted(literals - set(texts.NOTICES))


def test_every_abort_reason_the_hub_knows_is_explained() -> None:
    from service.cases.lifecycle import REASONS, Action

    assert set(texts.ABORT_REASONS) == set(REASONS[Action.abort])
    assert set(texts.PROCEDURES) <= {
        p.value for p in __import__("service.tenancy.codes").tenancy.codes.Procedure
    }
    assert set(texts.NEXT_STEPS) == set(texts.PROCEDURES)


def test_the_counter_sends_the_consent_versions_the_hub_publishes() -> None:
    from clerk_agent.flows.case import CONSENT_VERSIONS
    from service.wire.consents import CURRENT

    assert CONSENT_VERSIONS == CURRENT


def test_a_rejection_or_referral_is_explained_unless_the_reason_must_be_withheld() -> None:
    from clerk_agent.ui.views import _decision_reason
    from service.cases.lifecycle import REASONS, Action

    known = REASONS[Action.reject] | REASONS[Action.refer_to_counter]
    assert set(texts.DECISION_REASONS) <= known
    # Withheld: what would tip off an impostor or judge the person, and the catch-all.
    assert known - set(texts.DECISION_REASONS) == {"face_mismatch", "suspected_impersonation", "other"}
    for code in ("face_mismatch", "suspected_impersonation", "other", None):
        assert _decision_reason("rejected", code) == {"code": "withheld", **texts.pair(texts.WITHHELD_REASON)}
    told = _decision_reason("referred_to_counter", "document_unreadable")
    assert told is not None
    assert told["code"] == "document_unreadable"
    assert "窓口" in told["ja"]
    assert _decision_reason("approved", None) is None
    assert _decision_reason("aborted", "network") is None  # aborts have their own wording
    # A withdrawal names its reason too, unless the eligibility answers list theirs one by one.
    assert set(texts.WITHDRAW_REASONS) <= REASONS[Action.withdraw]
    assert _decision_reason("withdrawn", "applicant_request") == {
        "code": "applicant_request",
        **texts.pair(texts.WITHDRAW_REASONS["applicant_request"]),
    }
    assert _decision_reason("withdrawn", "proxy_not_allowed", ["proxy_not_allowed"]) is None


def test_every_reason_the_ocr_route_gives_is_worded_on_the_clerk_screen() -> None:
    """The clerk screen tells why the camera gave no fields in words (clerk.js OCR_REASONS): each reason the route
    can answer has a Japanese and an English sentence, and the screen has no wording for a reason that is gone."""
    import re

    from clerk_agent.card.idchips.ocr import OcrFailure

    source = (Path(clerk_agent.__file__).parent / "ui" / "static" / "clerk.js").read_text(encoding="utf-8")
    block = source.split("const OCR_REASONS = {", 1)[1].split("\n};", 1)[0]
    worded = dict(re.findall(r"^  (\w+): \['([^']+)',", block, re.MULTILINE))
    answered = {f.value for f in OcrFailure} | {"camera_unavailable"}  # 409 from the route (ocr_routes.py)
    assert set(worded) == answered | {"failed"}  # failed: no answer at all (the agent restarting)
    for reason, ja in worded.items():
        assert re.search(r"[\u3040-\u30ff]", ja), reason
        assert "入力" in ja or reason == "busy", reason  # every dead end offers typing instead
    routes = (Path(clerk_agent.__file__).parent / "ui" / "ocr_routes.py").read_text(encoding="utf-8")
    assert '"camera_unavailable"' in routes
