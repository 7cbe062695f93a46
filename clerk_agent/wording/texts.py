"""Labels and messages of the counter screens, Japanese first with English (the UI switches between them)."""

from __future__ import annotations

from typing import Final

from clerk_agent.wording.printing import PRINTER_PROBLEMS
from clerk_agent.wording.station import STATION_NOTICES
from service.wire.cases import PROCEDURE_LABELS, CaseState, Procedure

Text = tuple[str, str]

# The procedures this counter offers, in the order of its buttons, each by the contract's one label.
PROCEDURES: Final[dict[str, Text]] = {
    p.value: PROCEDURE_LABELS[p]
    for p in (
        Procedure.card_renewal,
        Procedure.pin_reset,
        Procedure.ecert_issue_renew,
        Procedure.card_application,
        Procedure.application_support,
        Procedure.certificate_request,
    )
}

STEPS: Final[dict[str, Text]] = {
    "procedure": ("手続き選択", "Procedure"),
    "form_id": ("申請書ID", "Form ID"),
    "eligibility": ("確認事項", "Eligibility"),
    "consents": ("同意", "Consents"),
    "card": ("カード確認", "Card check"),
    "queue": ("職員の対応待ち", "Waiting for an officer"),
    "call": ("本人確認（ビデオ通話）", "Identity check (video call)"),
    "decision": ("結果", "Decision"),
    "card_work": ("カードの手続き", "Card work"),
    "receipt": ("受付票", "Receipt"),
}

# Why the case cannot go on at the post office, by the hub's reason code (docs/domain.md §B7).
INELIGIBLE: Final[dict[str, Text]] = {
    "applicant_absent": (
        "ご本人が窓口にいらっしゃらない場合は受け付けできません。",
        "The applicant must be present.",
    ),
    "proxy_not_allowed": (
        "郵便局では代理人による手続きはできません。市区町村の窓口をご案内してください。",
        "A proxy cannot apply at the post office; refer the applicant to the municipal office.",
    ),
    "legal_representative_absent": (
        "15歳未満の方・成年被後見人の方は、法定代理人の同伴が必要です。",
        "A minor or adult ward needs the legal representative present.",
    ),
    "not_resident": (
        "この市区町村に住民登録のある方のみ受け付けできます。",
        "Only residents of this municipality can be served here.",
    ),
    "special_handling": (
        "特別な取扱いが必要なため、市区町村の窓口をご案内してください。",
        "Special handling is needed; refer the applicant to the municipal office.",
    ),
    "moving_before_delivery": (
        "カードの郵送前に転居・氏名変更の予定がある場合は郵送できません。市区町村の窓口で受け取りになります。",
        "A move or name change before delivery defeats mailing; the card must be collected at the municipal office.",
    ),
    "mail_forwarding_registered": (
        "転送届が出ていると本人限定受取郵便は届きません。市区町村の窓口をご案内してください。",
        "Mail forwarding is registered, so restricted-delivery mail cannot arrive; refer to the municipal office.",
    ),
}

_COUNTER_NOTICES: Final[dict[str, Text]] = {
    "hub_offline": (
        "市区町村のシステムにつながりません。自動で再接続しています。入力内容は保存されています。",
        "Cannot reach the municipal system. Reconnecting automatically; nothing entered is lost.",
    ),
    "licence_pin_incorrect": (
        "運転免許証の暗証番号が違います。残りの回数を確かめてから、もう一度入力してください。",
        "The driving licence PIN is wrong. Check the tries left, then enter it again.",
    ),
    # The outreach booth's laptop (docs/booths.md).
    "booth_forwarding_not_accepted": (
        "お住まいの市区町村は、このブースからの申請の回送を受け付けていません。お住まいの市区町村での手続きをご案内ください。",
        "The applicant's municipality does not accept applications forwarded from this booth; refer them to "
        "their own municipality.",
    ),
    "booth_not_logged_in": (
        "ブースにログインしていません。出発前に、職員のアカウントでログインしてください。",
        "Not logged in to a booth. Log in with your officer account before leaving.",
    ),
    "booth_store_locked": (
        "端末内の受付データを開く鍵がありません。ネットワークのある所で、もう一度ログインしてください。",
        "The key to this laptop's cases is not here. Log in again where there is a network.",
    ),
    "booth_wiped": (
        "この端末またはブースのセッションは取り消されました。端末内の受付データは消去しました。",
        "This laptop or its booth session was revoked; the cases held on it were wiped.",
    ),
    "card_absent": ("カードをカードリーダーに置いてください。", "Place the card on the reader."),
    "card_removed": (
        "カードが取り外されました。もう一度置いてから、暗証番号を入れ直してください。",
        "The card was removed. Put it back and enter the PIN again.",
    ),
    "reader_unavailable": (
        "カードリーダーが見つかりません。接続を確認してください。",
        "The card reader is not available. Check its cable.",
    ),
    "transaction_failed": (
        "カードの読み取りに失敗しました。もう一度お試しください。",
        "Card read failed; try again.",
    ),
    "pin_incorrect": ("暗証番号が違います。", "Wrong PIN."),
    "card_error": (
        "カードとの通信に失敗しました。カードを置き直してもう一度お試しください。",
        "The card exchange failed; put the card back and try again.",
    ),
    "apdu_failed": (
        "カードが想定外の応答をしました。カードを置き直してもう一度お試しください。続く場合は市区町村の窓口をご案内してください。",
        "The card answered unexpectedly; put it back and retry. If it persists, refer to the municipal office.",
    ),
    "card_data_malformed": (
        "カードの内容が読み取れません。市区町村の窓口をご案内してください。",
        "The card's data cannot be read; refer the applicant to the municipal office.",
    ),
    "forbidden_file_access": (
        "個人番号の読み取りは禁止されているため中止しました。",
        "Stopped: reading the My Number is forbidden.",
    ),
    # ID-document chips (docs/id-documents.md §Counter).
    "chip_access_denied": (
        "ICチップを開けませんでした。書類の記載（旅券番号・生年月日・有効期間満了日）を確かめて、もう一度入力してください。",
        "The chip did not open. Check the fields on the document (number, birth date, expiry) and type them again.",
    ),
    "not_this_document": (
        "読み取り機の上の書類は、選んだ種類のICチップではありません。書類を確かめて置き直してください。",
        "The document on the reader is not of the kind chosen. Check it and lay it on the reader again.",
    ),
    "agent_error": (
        "窓口端末でエラーが起きました。もう一度お試しください。",
        "The counter agent failed; try again.",
    ),
    "link_error": (
        "市区町村のシステムとの通信に失敗しました。自動で再試行します。",
        "Talking to the municipal system failed; retrying automatically.",
    ),
    "hub_unavailable": (
        "市区町村のシステムにつながりません。自動で再接続しています。入力内容は保存されています。",
        "Cannot reach the municipal system. Reconnecting automatically; nothing entered is lost.",
    ),
    "pin_blocked": (
        "暗証番号がロックされています。市区町村の窓口で初期化が必要です。",
        "The PIN is blocked; it must be reset at the municipal office.",
    ),
    "last_try_confirmation_required": (
        "残り1回です。市区町村窓口での初期化が必要になる前に、暗証番号をご本人に確認してください。",
        "One try left. Before the card has to be reset at the municipal office, confirm the PIN with the applicant.",
    ),
    "invalid_pin_format": ("暗証番号は数字4桁です。", "The PIN is 4 digits."),
    "invalid_code_b": (
        "照合番号Bは数字14桁です（生年月日を和暦で6桁＋有効期限の西暦4桁＋セキュリティコード4桁）。",
        "Code B is 14 digits (birth date in the Japanese era, 6 digits + expiry year, 4 + security code, 4).",
    ),
    "code_b_incorrect": (
        "照合番号Bが違います（暗証番号ではありません）。生年月日は西暦ではなく和暦の年月日6桁です"
        "（例: 昭和55年2月17日→550217）。カードの表面を見て、もう一度入力してください。",
        "Code B is wrong (not the PIN). The birth date is in the Japanese era, YYMMDD "
        "(e.g. Shōwa 55, 17 Feb → 550217). Read the card face and type it again.",
    ),
    "code_b_last_try": (
        "照合番号Bの残りは1回です。カードの表面をお客さまと一緒に確認してから、確認の欄にチェックして入力してください。",
        "One code-B try left. Check the card face with the applicant, tick the confirmation, then type it.",
    ),
    "code_b_blocked": (
        "照合番号Bがロックされています（券面の確認ができません）。市区町村の窓口での手続きをご案内してください。",
        "Code B is blocked, so the card face cannot be checked; refer the applicant to the municipal office.",
    ),
    "not_my_number_card": ("マイナンバーカードではありません。", "This is not a My Number Card."),
    "proof_failed": (
        "カードの確認ができませんでした。職員の指示に従ってください。",
        "The card could not be verified; follow the officer's instructions.",
    ),
    "hub_refused": ("この操作は受け付けられませんでした。", "The municipal system refused this step."),
    "invalid_form_id": (
        "申請書IDは数字23桁です（空白やハイフンは入れても構いません）。",
        "The form ID is 23 digits (spaces and hyphens may be typed).",
    ),
    "certificate_required": (
        "請求する証明書（種類・通数・範囲・記載事項）を選んでください。",
        "Choose the certificate asked for (kind, copies, scope, entries).",
    ),
    "consents_required": ("すべての同意が必要です。", "Every consent is needed to go on."),
    "qr_not_found": (
        "申請書のQRコードが読み取れませんでした。カメラに近づけてもう一度読み取るか、申請書IDを入力してください。",
        "The form's QR code could not be read. Hold it closer and scan again, or type the form ID.",
    ),
    "camera_unavailable": (
        "カメラの映像が取れません。カメラの接続を確認してください。",
        "No picture from the camera. Check its cable.",
    ),
    "documents_closed": (
        "書類の撮影は職員との通話中にだけできます。",
        "Documents can be photographed only during the call with the officer.",
    ),
    "documents_required": (
        "本人確認書類の表面を撮影してから、提示の終了を押してください。",
        "Photograph the front of the ID document before finishing.",
    ),
    "photo_required": (
        "申請用顔写真をお客さまに確認していただいてから進んでください。",
        "The applicant must approve the application photo first.",
    ),
    "pin_not_open": (
        "暗証番号の入力はまだできません。係員の案内をお待ちください。",
        "The PIN cannot be entered yet; wait for the clerk.",
    ),
    "sealing_key_pending": (
        "市区町村の暗号鍵を取得しています。少し待ってからもう一度押してください。",
        "Fetching the municipality's key; wait a moment and press again.",
    ),
    # The card work after approval (clerk_agent/flows/cardwork.py).
    "card_admin_unavailable": (
        "この端末では、この処理（初期化・電子証明書の書き込み）を行えません。カードは変更されていません。市区町村の窓口をご案内ください。",
        "This counter cannot do this (a reset or a certificate write). The card was not changed; refer the "
        "applicant to the municipal office.",
    ),
    "card_admin_refused": (
        "発行元との通信でカードへの書き込みが完了しませんでした。カードは元のままか、新しい証明書に入れ替わっています（中途半端にはなりません）。もう一度お試しください。",
        "The issuer's channel did not complete the card write. The card is either as it was or fully renewed, never "
        "half; try again.",
    ),
    "pin_refused_by_card": (
        "カードが新しい暗証番号を受け付けませんでした。決まりに合う番号をもう一度入力していただいてください。",
        "The card did not accept the new PIN; ask the applicant to enter one that follows the rule again.",
    ),
    "card_work_busy": (
        "カードに書き込み中です。終わるまでカードを動かさずにお待ちください。",
        "Writing to the card. Do not move the card until it finishes.",
    ),
    "card_work_choice_required": (
        "手続きの内容（証明書の種類または暗証番号）を選んでください。",
        "Choose the work first (which certificates, or which PIN).",
    ),
    "card_work_hub_unreachable": (
        "市区町村のシステムにつながらないため、カードの手続きを始められませんでした。カードは変更されていません。もう一度お試しください。",
        "The municipal system could not be reached, so the card work did not start. The card was not changed; try again.",
    ),
    "pin_work_rule_current": (
        "現在の暗証番号の形式が違います。もう一度入力してください。",
        "The current PIN has the wrong format. Please enter it again.",
    ),
    "pin_work_rule_new": (
        "新しい暗証番号が決まりに合っていません。表示された決まりに合わせて、もう一度入力してください。",
        "The new PIN does not follow the rule shown. Please enter it again.",
    ),
    "pin_work_mismatch_new": (
        "新しい暗証番号の1回目と確認の入力が違います。もう一度2回入力してください。",
        "The two entries of the new PIN differ. Please enter it twice again.",
    ),
    "pin_work_same_new": (
        "新しい暗証番号が現在のものと同じです。別の暗証番号を決めてください。",
        "The new PIN is the same as the current one. Please choose another.",
    ),
    "pin_work_current_incorrect": (
        "現在の暗証番号が違います。もう一度入力してください。",
        "The current PIN is not correct. Please enter it again.",
    ),
}

# The card work's words: the long steps, the plan's reasons and what was done (screens and the receipt).
CARD_WORK_STEPS: Final[dict[str, Text]] = {
    "reading_card": ("カードを読み取っています…", "Reading the card…"),
    "asking_hub": ("市区町村のシステムに確認しています…", "Checking with the municipal system…"),
    "writing_certificates": (
        "電子証明書をカードに書き込んでいます。カードを動かさないでください…",
        "Writing the certificates to the card. Do not move the card…",
    ),
    "writing_pin": (
        "暗証番号をカードに設定しています。カードを動かさないでください…",
        "Setting the PIN on the card. Do not move the card…",
    ),
    "recording": ("結果を記録しています…", "Recording the result…"),
}
CERTIFICATES: Final[dict[str, Text]] = {
    "sign": ("署名用電子証明書", "Signing certificate"),
    "auth": ("利用者証明用電子証明書", "User authentication certificate"),
}
PLAN_REASONS: Final[dict[str, Text]] = {
    "no_certificate": ("カードに証明書がないため、新しく発行します", "None on the card: a new issue"),
    "expired": ("有効期限が過ぎているため、新しく発行します", "Expired: a new issue"),
    "basic4_changed": (
        "氏名・住所などの変更で失効しているため、新しく発行します",
        "Revoked by a change of name, address etc.: a new issue",
    ),
    "within_window": ("更新できる期間です。更新します", "Within the renewal window: renewed"),
}
# After the card work: the receipt's and the receipt step's next steps (nothing more to do, or where to go).
CARD_WORK_NEXT: Final[dict[str, Text]] = {
    "done": (
        "カードへの手続きが完了しました。カードはこの場でお返しします。暗証番号は他人に知られないよう大切に保管してください。",
        "The card work is done and the card is returned now. Keep your PINs to yourself.",
    ),
    "none": (
        "カードへの手続きは行っていません。カードは変更されていません。お手続きは市区町村の窓口でお願いします。",
        "No work was done on the card and it is unchanged. Please complete the procedure at the municipal office.",
    ),
}
DONE: Final[dict[str, Text]] = {
    "issue_sign": ("署名用電子証明書を発行しました", "Signing certificate issued"),
    "renew_sign": ("署名用電子証明書を更新しました", "Signing certificate renewed"),
    "issue_auth": ("利用者証明用電子証明書を発行しました", "User authentication certificate issued"),
    "renew_auth": ("利用者証明用電子証明書を更新しました", "User authentication certificate renewed"),
    "change_auth": ("利用者証明用電子証明書の暗証番号を変更しました", "User authentication PIN changed"),
    "reset_auth": (
        "利用者証明用電子証明書の暗証番号を初期化（再設定）しました",
        "User authentication PIN reset",
    ),
    "change_sign": ("署名用電子証明書のパスワードを変更しました", "Signing password changed"),
    "reset_sign": ("署名用電子証明書のパスワードを初期化（再設定）しました", "Signing password reset"),
    "change_juki": ("住民基本台帳用の暗証番号を変更しました", "Resident registry PIN changed"),
    "reset_juki": ("住民基本台帳用の暗証番号を初期化（再設定）しました", "Resident registry PIN reset"),
    "change_kenhojo": ("券面事項入力補助用の暗証番号を変更しました", "Card-face input support PIN changed"),
    "reset_kenhojo": (
        "券面事項入力補助用の暗証番号を初期化（再設定）しました",
        "Card-face input support PIN reset",
    ),
}

# Why the officer interrupted the session (the hub's abort reason codes, lifecycle.REASONS[abort]).
# The back office's print station and the office printer say these (clerk_agent/flows/station.py); the counter's
# own words win where a code is shared.
NOTICES: Final[dict[str, Text]] = {**PRINTER_PROBLEMS, **STATION_NOTICES, **_COUNTER_NOTICES}

ABORT_REASONS: Final[dict[str, Text]] = {
    "network": (
        "通信が不安定なため中断しました。通信が戻ったら、もう一度職員につないでください。",
        "Interrupted by an unstable network. Once it is back, connect to the officer again.",
    ),
    "picture_quality": (
        "映像が不鮮明なため中断しました。照明やカメラの向きを整えて、もう一度つないでください。",
        "Interrupted because the picture was unclear. Fix the light or camera angle and connect again.",
    ),
    "audio_quality": (
        "音声が聞き取れないため中断しました。マイクとスピーカーを確認して、もう一度つないでください。",
        "Interrupted because the sound was unclear. Check the microphone and speaker, then connect again.",
    ),
    "applicant_left": (
        "ご本人が画面から離れたため中断しました。",
        "Interrupted because the applicant left the picture.",
    ),
    "officer_unavailable": (
        "職員が対応できなくなったため中断しました。もう一度つなぐと別の職員が対応します。",
        "The officer became unavailable. Connecting again reaches another officer.",
    ),
    "other": ("職員が通話を中断しました。", "The officer interrupted the session."),
}

DECISIONS: Final[dict[CaseState, Text]] = {
    CaseState.approved: ("本人確認が完了しました。", "Identity confirmed."),
    CaseState.rejected: ("本人確認ができませんでした。", "Identity could not be confirmed."),
    CaseState.referred_to_counter: (
        "市区町村の窓口での手続きに切り替えになりました。",
        "The procedure continues at the municipal office.",
    ),
    CaseState.aborted: (
        "通話が中断されました。もう一度職員につなぐか、手続きを取り下げてください。",
        "The call was interrupted.",
    ),
    CaseState.withdrawn: ("手続きを取り下げました。", "The procedure was withdrawn."),
    CaseState.closed: ("手続きが完了しました。", "The procedure is complete."),
    CaseState.pin_request_sealed: ("受付が完了しました。", "The application is complete."),
}

# The applicant is not the one to act on an abort: the clerk requeues or withdraws.
APPLICANT_ABORTED: Final[Text] = (
    "通話が中断されました。係員の案内をお待ちください。",
    "The call was interrupted. Please wait for the clerk.",
)

NEXT_STEPS: Final[dict[str, Text]] = {
    "card_renewal": (
        "新しいカードは約1か月後に本人限定受取郵便でご自宅に届きます。転居の予定ができたら市区町村にご連絡ください。",
        "The new card arrives by restricted-delivery mail in about a month. Tell the municipality if you plan to move.",
    ),
    "card_application": (
        "カードは約1か月後に本人限定受取郵便でご自宅に届きます。転居の予定ができたら市区町村にご連絡ください。",
        "The card arrives by restricted-delivery mail in about a month. Tell the municipality if you plan to move.",
    ),
    "pin_reset": (
        "本人確認が完了しました。続けてこの窓口で暗証番号を変更・初期化します。新しい暗証番号はお客さまご自身の画面で入力します。カードはこの場でお返しします（郵送はありません）。",
        "Identity confirmed. The PIN is now changed or reset here; the applicant types the new PIN on their own "
        "screen. The card is returned now (nothing is mailed).",
    ),
    "ecert_issue_renew": (
        "本人確認が完了しました。続けてこの窓口で電子証明書を発行・更新します。カードはこの場でお返しします（郵送はありません）。",
        "Identity confirmed. The e-certificates are now issued or renewed here; the card is returned now "
        "(nothing is mailed).",
    ),
    "application_support": (
        "申請書と写真の準備が完了しました。申請書は郵送またはオンラインで提出してください。",
        "The form and photo are ready; submit the application by mail or online.",
    ),
    "certificate_request": (
        "本人確認が完了し、証明書が交付されました。受付番号で印刷し、窓口の手数料をいただいてお渡しします。",
        "Identity confirmed and the certificate issued: print it by the receipt number, take the counter fee and hand it over.",
    ),
}


# What happens next after an outcome that ends the case at the post office (never the mailed card's text).
OUTCOME_NEXT_STEPS: Final[dict[CaseState, Text]] = {
    CaseState.withdrawn: (
        "この受付は終了しました（カードの申請・手続きは行われていません）。続ける場合は、あらためて窓口または市区町村へお越しください。",
        "This case has ended; nothing was applied for. To go on, come back to the counter or go to the municipal office.",
    ),
    CaseState.rejected: (
        "郵便局でのお手続きは終了しました（カードの申請・手続きは行われていません）。市区町村の窓口へお越しください。",
        "The procedure at the post office has ended; nothing was applied for. Please go to the municipal office.",
    ),
    CaseState.referred_to_counter: (
        "この手続きは市区町村の窓口で続けます（郵便局からカードは届きません）。市区町村の窓口へお越しください。",
        "The procedure continues at the municipal office (no card is mailed from here). Please go there.",
    ),
}

# Why the case was withdrawn, for the clerk (ineligibility reasons are listed from the precheck instead).
WITHDRAW_REASONS: Final[dict[str, Text]] = {
    "applicant_request": ("お客さまのご希望により取り下げました。", "Withdrawn at the applicant's request."),
    "duplicate_application": (
        "同じ申請が既にあるため取り下げました。",
        "Withdrawn: the same application exists.",
    ),
    "ineligible": (
        "確認事項の回答により、郵便局では受け付けできませんでした。",
        "Not possible at the post office by the eligibility answers.",
    ),
    "other": ("取り下げました。", "Withdrawn."),
}

# Why the officer rejected or referred the case, as the clerk may tell the applicant: what to bring or where to
# go. Reasons that would tip off an impostor or judge the person (face mismatch, suspected impersonation) and
# "other" are withheld: the municipality explains those itself (WITHHELD_REASON).
DECISION_REASONS: Final[dict[str, Text]] = {
    "document_invalid": (
        "本人確認書類が有効なものと確認できませんでした。有効な書類をお持ちのうえ、市区町村の窓口へお越しください。",
        "The ID document could not be accepted as valid. Bring a valid one to the municipal office.",
    ),
    "document_expired": (
        "本人確認書類の有効期限が切れていました。有効な書類をお持ちのうえ、市区町村の窓口へお越しください。",
        "The ID document has expired. Bring a valid one to the municipal office.",
    ),
    "attribute_mismatch": (
        "カードや書類の記載が住民票と一致しませんでした。市区町村の窓口でご確認ください。",
        "The card or document does not match the resident record. Please check at the municipal office.",
    ),
    "ineligible": (
        "郵便局ではお受けできない手続きでした。市区町村の窓口へお越しください。",
        "This cannot be done at the post office. Please go to the municipal office.",
    ),
    "document_unreadable": (
        "書類の文字が映像で読み取れませんでした。書類をお持ちのうえ、市区町村の窓口へお越しください。",
        "The document could not be read over video. Bring it to the municipal office.",
    ),
    "id_combination_not_accepted": (
        "お持ちの書類の組み合わせでは本人確認ができません。必要な書類は市区町村の窓口でご案内します。",
        "These documents together do not suffice; the municipal office will say which are needed.",
    ),
    "applicant_preference": (
        "ご希望により、市区町村の窓口でのお手続きになります。",
        "As the applicant asked, the procedure continues at the municipal office.",
    ),
    "special_handling": (
        "特別な確認が必要なため、市区町村の窓口でのお手続きになります。",
        "Special checks are needed: the procedure continues at the municipal office.",
    ),
}
WITHHELD_REASON: Final[Text] = (
    "理由は市区町村からご案内します。",
    "The municipality will explain the reason.",
)


def pair(text: Text) -> dict[str, str]:
    """A {ja, en} object for the UI."""
    return {"ja": text[0], "en": text[1]}


def next_steps_after(procedure: str, card_work_done: list[str], *, closed: bool) -> Text:
    """What comes next, once the case is closed: for card work, whether anything was done on the card."""
    if closed and procedure in {"pin_reset", "ecert_issue_renew"}:
        return CARD_WORK_NEXT["done" if card_work_done else "none"]
    return NEXT_STEPS[procedure]
