"""The contract (docs/architecture.md §3): one definition in service/wire, one generated ES module.

The generated contract.js of both browser UIs must be what `python -m service.wire.es` writes now, and neither
the UIs nor the clerk agent may keep their own copy of what the contract defines.
"""

from __future__ import annotations

import re
from pathlib import Path

from service.cases import consents as case_consents
from service.evidence import retention, stills
from service.evidence.router import HoldRequest
from service.wire import es
from service.wire.cases import LIVE_STATES, PROCEDURE_LABELS, REASONS, Action, CaseState, Procedure
from service.wire.consents import CATALOGUE
from service.wire.evidence import (
    DOCUMENT_STILL_KINDS,
    HOLD_ON_DECISION,
    HOLD_REASON_LABELS,
    HOLD_REASONS,
    OFFICER_FLAGS,
    EvidenceKind,
    StillKind,
)
from service.wire.labels import REASON_LABELS, STATE_LABELS

ROOT = Path(__file__).resolve().parents[1]


def test_generated_modules_are_up_to_date() -> None:
    stale = [str(path.relative_to(ROOT)) for path in es.stale()]
    assert stale == [], (
        f"{', '.join(stale)} differ from service/wire: regenerate with `{es.COMMAND}` and commit"
    )


def test_every_code_has_its_labels_and_the_sets_agree() -> None:
    assert set(STATE_LABELS) == set(CaseState)
    assert set(REASON_LABELS) == set().union(*REASONS.values())
    assert all(
        ja and en
        for ja, en in [*STATE_LABELS.values(), *REASON_LABELS.values(), *HOLD_REASON_LABELS.values()]
    )
    assert set(OFFICER_FLAGS) <= HOLD_REASONS
    assert HOLD_ON_DECISION <= HOLD_REASONS
    assert set(StillKind) >= DOCUMENT_STILL_KINDS
    assert {k.value for k in StillKind} <= {k.value for k in EvidenceKind}
    codes = [c.code for c in CATALOGUE]
    assert len(codes) == len(set(codes))
    assert all(c.version and c.ja and c.en for c in CATALOGUE)


def test_the_hub_uses_the_contract_definitions() -> None:
    # The hub's modules hold the contract's own objects (looked up by name: they import, not re-export, them).
    assert vars(case_consents)["CATALOGUE"] is CATALOGUE
    assert vars(retention)["HOLD_REASONS"] is HOLD_REASONS
    assert vars(retention)["OFFICER_FLAGS"] is OFFICER_FLAGS
    assert vars(stills)["StillKind"] is StillKind
    for code in HOLD_REASONS:
        assert HoldRequest(reason_code=code).reason_code == code
    pattern = re.compile(HoldRequest.model_fields["reason_code"].metadata[0].pattern)
    assert not pattern.match("face_mismatch")


# Where a second copy would hide: both UIs and the clerk agent (its Python, its HTML and scripts).
SCANNED = [
    *sorted((ROOT / "municipal_console" / "static").rglob("*.js")),
    *sorted((ROOT / "municipal_console" / "static").rglob("*.html")),
    *sorted((ROOT / "clerk_agent").rglob("*.py")),
    *sorted((ROOT / "clerk_agent" / "ui" / "static").rglob("*.js")),
    *sorted((ROOT / "clerk_agent" / "ui" / "static").rglob("*.html")),
]
GENERATED = set(es.TARGETS)
# The counter's own words for the applicant and the clerk, keyed by reason code: a different audience from the
# officer's labels, so not a copy, but its keys must be the contract's codes (test_counter_wording_names_contract_codes).
WORDING = "clerk_agent/wording/texts.py"
PENDING: dict[str, set[str]] = {
    WORDING: {"abort reasons", "refer_to_counter reasons", "reject reasons", "withdraw reasons"},
}
WINDOW = 400  # characters: a literal list or table fits in this


def _groups() -> dict[str, set[str]]:
    groups = {"live states": {s.value for s in LIVE_STATES}, "hold reasons": set(HOLD_REASONS)}
    groups |= {f"{action.value} reasons": set(codes) for action, codes in REASONS.items() if len(codes) >= 3}
    groups["consent codes"] = {c.code for c in CATALOGUE}
    return groups


def _copies(text: str) -> set[str]:
    """Names of the contract's lists of which `text` carries a literal copy (3+ quoted members close together)."""
    found = set()
    for name, members in _groups().items():
        hits = sorted(
            (m.start(), m.group(1))
            for m in re.finditer(r"""["']([a-z_]+)["']""", text)
            if m.group(1) in members
        )
        need = min(3, len(members))
        for i, (start, _) in enumerate(hits):
            if len({code for at, code in hits[i:] if at - start <= WINDOW}) >= need:
                found.add(name)
                break
    versions = {c.version for c in CATALOGUE}
    if any(re.search(rf"""["'](?:[^"'\n]*\s)?{re.escape(v)}["')）]""", text) for v in versions):
        found.add("consent versions")
    return found


def test_no_second_definition_in_the_uis_or_the_agent() -> None:
    found = {}
    for path in SCANNED:
        if path in GENERATED:
            continue
        rel = str(path.relative_to(ROOT))
        copies = _copies(path.read_text(encoding="utf-8")) - PENDING.get(rel, set())
        if copies:
            found[rel] = sorted(copies)
    assert found == {}, f"copies of the contract (import contract.js or service.wire instead): {found}"


def test_the_scan_sees_a_copy() -> None:
    assert _copies('const LIVE = new Set(["session_live", "evidence_captured", "officer_review"]);') == {
        "live states"
    }
    assert "consent versions" in _copies("CONSENT_VERSIONS = {'recording': '2026-04'}")
    assert "reject reasons" in _copies('["face_mismatch", "attribute_mismatch", "document_invalid"]')


def test_counter_wording_names_contract_codes() -> None:
    from clerk_agent.wording import texts

    assert set(texts.ABORT_REASONS) <= REASONS[Action.abort]
    assert set(texts.WITHDRAW_REASONS) <= REASONS[Action.withdraw]
    assert set(texts.DECISION_REASONS) <= REASONS[Action.reject] | REASONS[Action.refer_to_counter]
    assert all(texts.PROCEDURES[code] == PROCEDURE_LABELS[Procedure(code)] for code in texts.PROCEDURES)


def test_the_back_office_schema_takes_the_contracts_return_reasons() -> None:
    from service.integrations.schemas import MailTrackingUpdate

    schema = MailTrackingUpdate.model_json_schema()["properties"]["reason_code"]["anyOf"][0]
    assert set(schema["enum"]) == REASONS[Action.record_returned]


def test_every_certificate_code_has_its_words() -> None:
    from service.wire import certificates as cert

    assert set(cert.KIND_LABELS) == set(cert.CertificateKind)
    assert set(cert.OPTION_LABELS) == set(cert.CertificateOption)
    assert set(cert.REFUSAL_WORDING) == set(cert.RefusalCode)
    assert set(cert.JOB_STATE_LABELS) == set(cert.JobState)
    assert set(cert.VERDICT_LABELS) == set(cert.Verdict)
    # The terminal never tells a 支援措置 or other record-based refusal apart: one neutral sentence for all.
    assert len({cert.REFUSAL_WORDING[code] for code in cert.RECORD_REFUSALS}) == 1
