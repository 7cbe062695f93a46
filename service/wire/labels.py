"""Officer-facing ja/en labels of case states and reason codes: the one place a person's word for a code is kept.

The console reads them from the generated browser module (docs/architecture.md §3); its own
dictionary (municipal_console/static/js/strings.js) keeps only the screen's text. Procedures carry their one
label in service/wire/cases.py (PROCEDURE_LABELS), hold reasons theirs in service/wire/evidence.py.
"""

from __future__ import annotations

from typing import Final

from service.wire.cases import CaseState

# (Japanese, English) per case state.
STATE_LABELS: Final[dict[CaseState, tuple[str, str]]] = {
    CaseState.draft: ("下書き", "draft"),
    CaseState.checked_in: ("受付済み", "checked in"),
    CaseState.eligibility_precheck: ("要件確認中", "eligibility check"),
    CaseState.queued_for_officer: ("職員待ち", "waiting for an officer"),
    CaseState.session_live: ("ライブ接続中", "live"),
    CaseState.evidence_captured: ("証拠取得済み（審査開始待ち）", "evidence captured (review not started)"),
    CaseState.officer_review: ("審査中", "in review"),
    CaseState.approved: ("承認", "approved"),
    CaseState.rejected: ("却下", "rejected"),
    CaseState.aborted: ("中断", "aborted"),
    CaseState.referred_to_counter: ("交付時来庁へ切替", "referred to the counter"),
    CaseState.pin_request_sealed: ("暗証番号設定依頼 封緘済み", "PIN request sealed"),
    CaseState.submitted_to_jlis: ("J-LISへ送信済み", "submitted to J-LIS"),
    CaseState.card_produced: ("カード作成済み", "card produced"),
    CaseState.card_received_by_municipality: ("市区町村でカード受領", "card received by the municipality"),
    CaseState.pre_issue_setup_done: ("交付前設定済み", "pre-issue setup done"),
    CaseState.mailed: ("本人限定受取郵便で発送済み", "mailed (restricted delivery)"),
    CaseState.delivered: ("配達済み", "delivered"),
    CaseState.returned_undelivered: ("返戻（未配達）", "returned undelivered"),
    CaseState.awaiting_counter_pickup: ("窓口での受取待ち", "awaiting pickup at the counter"),
    CaseState.closed: ("完了", "closed"),
    CaseState.withdrawn: ("取り下げ", "withdrawn"),
    CaseState.cancelled_address_change: ("転居・氏名変更により取消", "cancelled (address or name change)"),
}

# (Japanese, English) per reason code, whichever action takes it (service/wire/cases.py REASONS).
REASON_LABELS: Final[dict[str, tuple[str, str]]] = {
    "face_mismatch": ("顔が一致しない", "Face does not match"),
    "attribute_mismatch": ("券面事項が住民記録と一致しない", "Attributes do not match the resident record"),
    "document_invalid": ("書類が無効", "Document invalid"),
    "document_expired": ("書類の有効期限切れ", "Document expired"),
    "ineligible": ("申請要件を満たさない", "Not eligible"),
    "suspected_impersonation": ("なりすましの疑い", "Suspected impersonation"),
    "other": ("その他", "Other"),
    "network": ("通信障害", "Network"),
    "picture_quality": ("映像の品質不良", "Picture quality"),
    "audio_quality": ("音声の品質不良", "Audio quality"),
    "applicant_left": ("申請者が離席した", "Applicant left"),
    "officer_unavailable": ("職員が対応できない", "Officer unavailable"),
    "document_unreadable": ("書類が読み取れない", "Document unreadable"),
    "id_combination_not_accepted": ("書類の組合せが認められない", "ID combination not accepted"),
    "applicant_preference": ("申請者の希望", "Applicant's preference"),
    "special_handling": ("特別な取扱いが必要（支援措置など）", "Needs special handling"),
    "applicant_request": ("申請者の申出", "Applicant's request"),
    "proxy_not_allowed": ("代理人による手続きはできない", "Proxy not allowed"),
    "legal_representative_absent": ("法定代理人の同伴がない", "Legal representative absent"),
    "moving_before_delivery": ("カード郵送前に転居の予定", "Moving before delivery"),
    "mail_forwarding_registered": ("郵便の転送届あり", "Mail forwarding registered"),
    "duplicate_application": ("重複した申請", "Duplicate application"),
    "address_change": ("転居", "Address change"),
    "name_change": ("氏名変更", "Name change"),
    "hold_expired": ("保管期間満了", "Hold period expired"),
    "addressee_unknown": ("宛所不明", "Addressee unknown"),
    "refused": ("受取拒否", "Refused"),
}
