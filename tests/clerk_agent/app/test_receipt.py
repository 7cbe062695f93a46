"""The printed 受付票: the 受付番号 people read, never the case id; Tokyo dates in Japanese; kinsoku line breaks.

Before the 受付番号 the receipt printed `case_…` and an ISO date, and cut the next steps every 30 characters, so the
renewal's text put 「。」 at the start of its second line.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

from clerk_agent.flows.case import CounterCase
from clerk_agent.ui.display import NO_LINE_END, NO_LINE_START, en_datetime, ja_datetime, wrap
from clerk_agent.ui.receipt import render_receipt
from clerk_agent.wording import texts
from service.wire.cases import CaseState
from tests.clerk_agent.app._pdf import pdf_lines

ISO = re.compile(r"\d{4}-\d{2}-\d{2}")


def _case(procedure: str) -> CounterCase:
    return CounterCase(
        local_id="local",
        procedure=procedure,
        idempotency_key="agent-key",
        municipality_code="999997",
        shinseisho_id="12345678901234567890123" if procedure.startswith("card_") else None,
        case_id="case_xqzGq6TestOnly",
        reference="12345-1202-007",
        hub_state=CaseState.pin_request_sealed if procedure.startswith("card_") else CaseState.closed,
        # 23:30 UTC on 1 December: the applicant came at 08:30 on 2 December, Tokyo time.
        started_at="2026-12-01T23:30:00+00:00",
    )


@pytest.mark.parametrize("procedure", sorted(texts.NEXT_STEPS))
def test_receipt_shows_the_reference_and_japanese_dates(procedure: str) -> None:
    lines = pdf_lines(render_receipt(_case(procedure), "https://hub.test"))
    text = "\n".join(lines)
    assert "受付番号 Reference: 12345-1202-007" in lines
    assert "受付日時 Date: 2026年12月2日 08:30" in lines
    assert "case_" not in text
    assert not ISO.search(text), text
    assert not [line for line in lines if line[:1] in NO_LINE_START], lines
    if procedure in ("card_application", "card_renewal"):
        assert "郵送予定（目安） Expected mailing: 2027年1月1日頃" in lines
    # The next steps arrive whole, only broken into lines (after card work: whether anything was done).
    next_ja = texts.next_steps_after(procedure, [], closed=True)[0]
    assert next_ja in "".join(lines)


def test_the_card_works_receipt_is_its_notice_and_names_what_was_done() -> None:
    case = _case("ecert_issue_renew")
    case.card_work_done = ["renew_auth", "reset_sign"]
    lines = pdf_lines(render_receipt(case, "https://hub.test"))
    text = "".join(lines)
    assert "交付通知・受付票 / Notice" in lines
    assert "・利用者証明用電子証明書を更新しました" in lines
    assert "User authentication certificate renewed" in [line.strip("\u3000 ") for line in lines]
    assert "署名用電子証明書のパスワードを初期化（再設定）しました" in text
    assert texts.CARD_WORK_NEXT["done"][0] in text


def test_wrap_keeps_punctuation_off_the_start_of_a_line() -> None:
    text = "新しいカードは約1か月後に本人限定受取郵便でご自宅に届きます。転居の予定ができたら（必ず）ご連絡ください、"
    for width in range(4, 40):
        lines = wrap(text, _no_longer_than(width))
        assert "".join(lines) == text
        assert not [line for line in lines if line[0] in NO_LINE_START], (width, lines)
        assert not [line for line in lines if line[-1] in NO_LINE_END], (width, lines)


def test_wrap_breaks_latin_text_at_spaces() -> None:
    lines = wrap("Tell the municipality if you plan to move.", lambda line: len(line) <= 16)
    assert lines == ["Tell the", "municipality if", "you plan to", "move."]


def test_dates_are_tokyo_time_in_japanese() -> None:
    assert ja_datetime("2026-12-02T05:05:00Z") == "2026年12月2日 14:05"
    assert ja_datetime("2026-12-02T15:00:00+00:00") == "2026年12月3日 00:00"
    assert (
        en_datetime("2026-12-02T15:00:00+00:00") == "3 Dec 2026, 00:00"
    )  # the English screen's receipt date
    assert ja_datetime("") == "—"


def _no_longer_than(width: int) -> Callable[[str], bool]:
    return lambda line: len(line) <= width
