"""The clerk screen's wording for every hub problem code the counter can meet (application/problem+json `code`).

Plain words for a post-office clerk, Japanese first: what happened and what to do now. Codes only the officer's
console, an administrator or the back office can meet are listed in NOT_AT_THE_COUNTER, so a new hub code
must be placed in one of the two (tests/clerk_agent/app/test_counter_problems.py).
"""

from __future__ import annotations

from typing import Final

Text = tuple[str, str]

_CALL_SUPPORT = ("市区町村の担当窓口に連絡してください。", "Call the municipality's help desk.")


def _with_support(ja: str, en: str) -> Text:
    return f"{ja}{_CALL_SUPPORT[0]}", f"{en} {_CALL_SUPPORT[1]}"


PROBLEMS: Final[dict[str, Text]] = {
    # Case creation and the clerk's steps.
    "shinseisho_id_in_use": (
        "この申請書IDは使用済みです。市区町村から新しい申請書を受け取ってください。",
        "This form ID was already used; the municipality must issue a new form.",
    ),
    "invalid_case": (
        "受付の内容が正しくありません（手続きと申請書IDの組み合わせなど）。入力を確認してください。",
        "The case details are not valid (e.g. procedure and form ID). Check what was entered.",
    ),
    "designation_not_in_force": (
        "この郵便局は、今この手続きを取り扱えません（指定の期間・時間外）。",
        "This post office may not handle this procedure now (outside its designation or hours).",
    ),
    "designation_not_found": _with_support(
        "この郵便局にはこの手続きの指定がありません。", "This office has no designation for this procedure."
    ),
    "municipality_not_found": _with_support(
        "市区町村が見つかりません。", "The municipality is not known to the system."
    ),
    "post_office_not_found": _with_support(
        "この郵便局が登録されていません。", "This post office is not registered."
    ),
    "procedure_mismatch": (
        "この手続きではその操作はできません。",
        "That step does not belong to this procedure.",
    ),
    "not_eligible": (
        "確認事項の回答により、郵便局ではお手続きできません。",
        "By the eligibility answers, this cannot be done at the post office.",
    ),
    "consents_missing": (
        "同意の記録がまだです。同意の画面で、すべての項目にお客さまの同意をいただいてください。",
        "The consents are not recorded yet: go back to the consents step and ask the applicant for each one.",
    ),
    "reason_code_invalid": _with_support(
        "理由コードが受け付けられませんでした。", "The reason code was not accepted."
    ),
    "invalid_transition": (
        "この操作は今の状態ではできません。画面の表示が最新になるまでお待ちください。",
        "That step is not possible in the case's current state; wait for the screen to update.",
    ),
    "version_conflict": (
        "同時に別の操作があったため、やり直しが必要です。画面の表示が最新になるまでお待ちください。",
        "Someone else changed the case at the same moment; wait for the screen to update and retry.",
    ),
    "conflict": (
        "今の状態ではこの操作はできません。",
        "That step conflicts with the case's current state.",
    ),
    "pin_request_required": (
        "新しいカードの暗証番号（または顔認証マイナンバーカード）の選択が必要です。",
        "The new card's PINs (or the face-authentication card) must be chosen first.",
    ),
    # Evidence: card proof, stills, the sealed PIN request.
    "challenge_expired": (
        "カード確認の有効時間（5分）が過ぎました。照合番号Bをもう一度入力してください。",
        "The card check expired (5 minutes). Type code B again.",
    ),
    "challenge_used": (
        "このカード確認は使用済みです。照合番号Bをもう一度入力してください。",
        "This card check was already used. Type code B again.",
    ),
    "challenge_not_found": (
        "カード確認が見つかりません。照合番号Bをもう一度入力してください。",
        "The card check is unknown. Type code B again.",
    ),
    "malformed_card_proof": (
        "カードから読んだ内容が正しくありません。カードを置き直してもう一度お試しください。",
        "What was read from the card is malformed. Put the card back and try again.",
    ),
    "malformed_chip_readout": (
        "書類のICチップから読んだ内容が正しくありません。書類を置き直してもう一度お試しください。",
        "What was read from the document's chip is malformed. Lay the document on the reader again and retry.",
    ),
    "chip_kind_unsupported": (
        "この種類の書類のICチップは、まだ確認できません。書類の提示（撮影）で確認してもらってください。",
        "The hub cannot verify this kind of document chip yet; show the document on camera instead.",
    ),
    "evidence_closed": (
        "今は確認情報を送れません（通話中のみ）。職員の案内に従ってください。",
        "Evidence cannot be sent now (only during the session); follow the officer.",
    ),
    "evidence_integrity_failed": _with_support(
        "保存された確認情報が壊れています。", "Stored evidence failed its integrity check."
    ),
    "not_an_image": (
        "写真の形式または大きさが受け付けられませんでした。もう一度撮影してください。",
        "The picture's format or size was refused; take it again.",
    ),
    "payload_too_large": (
        "写真のデータが大きすぎます。もう一度撮影してください。",
        "The picture is too large; take it again.",
    ),
    # Card work after approval (docs/card-procedures.md).
    # The outreach booth's laptop (docs/booths.md): the officer at the booth reads these.
    "booth_forwarding_not_accepted": (
        "お住まいの市区町村は、このブースからの申請の回送を受け付けていません。お住まいの市区町村での手続きをご案内ください。",
        "The applicant's municipality does not accept applications forwarded from this booth; refer them to "
        "their own municipality.",
    ),
    "booth_not_found": _with_support("ブースの予定が見つかりません。", "The booth's schedule was not found."),
    "booth_office_not_designated": _with_support(
        "この郵便局は、このブースの手続きの指定を受けていません。",
        "This post office is not designated for the booth's procedure.",
    ),
    "booth_officer_not_scheduled": (
        "このアカウントは、このブースの担当職員として予定されていません。",
        "This account is not scheduled as an officer of this booth.",
    ),
    "booth_only": (
        "この操作は出張申請受付（ブース）の端末からだけ行えます。",
        "Only a booth laptop can do this.",
    ),
    "booth_outside_dates": (
        "ブースの開設日以外には受け付けられません。",
        "Cases are accepted only on the booth's days.",
    ),
    "booth_session_not_found": (
        "ブースのセッションが見つかりません。ネットワークのある所で、もう一度ログインしてください。",
        "The booth session was not found. Log in again where there is a network.",
    ),
    "booth_session_revoked": (
        "このブースのセッションは取り消されました。端末内の受付データは消去されます。",
        "This booth session was revoked; the cases held on this laptop are wiped.",
    ),
    "booth_slot_full": ("この時間枠は満員です。", "This time slot is full."),
    "booth_sync_in_progress": (
        "同じ受付を送信中です。しばらくすると自動で送り直します。",
        "This case is being sent already; it is sent again automatically.",
    ),
    "booth_sync_mismatch": _with_support(
        "送り直した受付の内容が、前に送った内容と一致しません。",
        "A case sent again does not match what was sent before.",
    ),
    "booth_wrong_device": (
        "この端末は、このブースに登録された端末ではありません。",
        "This laptop is not the one registered for this booth.",
    ),
    "card_work_proxy_not_allowed": (
        "郵便局では、ご本人以外（代理人）による電子証明書・暗証番号の手続きはできません。市区町村の窓口をご案内ください。",
        "A post office does e-certificate and PIN procedures only for the holder in person; refer a proxy to the "
        "municipality.",
    ),
    "card_work_wrong_case": (
        "この手続きは、職員の承認の後にだけ行えます。画面の案内に従ってください。",
        "This card work follows the officer's approval of this procedure; follow the screen.",
    ),
    "ecert_sign_under_15": (
        "15歳未満の方には署名用電子証明書を発行できません。利用者証明用電子証明書だけを選んでください。",
        "No signing certificate for a holder under 15; choose the user authentication certificate only.",
    ),
    "ecert_sign_adult_ward": (
        "成年被後見人の方には署名用電子証明書を発行できません。利用者証明用電子証明書だけを選んでください。",
        "No signing certificate for an adult ward; choose the user authentication certificate only.",
    ),
    "ecert_renewal_not_open": (
        "電子証明書はまだ有効で、更新できる期間（有効期限の3か月前から）になっていません。",
        "The certificates are still valid and renewal is not open yet (it opens three months before expiry).",
    ),
    "ecert_unknown_profile": _with_support(
        "このカードの世代に対応していません。", "This card generation is not supported."
    ),
    "card_work_invalid_done": _with_support(
        "カードへの処理結果を記録できませんでした。", "What was done on the card could not be recorded."
    ),
    "application_photo_missing": (
        "申請用顔写真がまだ届いていません。撮影してお客さまの確認を受けてください。",
        "The application photo has not arrived; take it and have the applicant approve it.",
    ),
    "pin_sealing_key_missing": _with_support(
        "市区町村の暗号鍵が設定されていないため、暗証番号を受け付けられません。",
        "The municipality has no sealing key, so PINs cannot be accepted.",
    ),
    "image_too_large": (
        "画像が大きすぎます（画素数の上限を超えています）。カメラの解像度を下げて撮り直してください。",
        "The picture is too large (too many pixels); lower the camera resolution and take it again.",
    ),
    "pin_sealing_key_mismatch": (
        "市区町村の暗号鍵が更新されました。お客さまにもう一度暗証番号を設定していただいてください。",
        "The municipality's key changed; ask the applicant to choose the PINs again.",
    ),
    # The device itself and the request.
    "unauthenticated": _with_support(
        "この端末が認証されませんでした。", "This device was not authenticated."
    ),
    "invalid_device_signature": _with_support(
        "端末の署名が確認できません（時計のずれの可能性）。",
        "The device signature was refused (the clock may be off).",
    ),
    "device_timestamp_malformed": _with_support(
        "端末の要求の時刻の形式が正しくありません（端末のソフトウェアの不具合の可能性）。",
        "The device's request time was not in the expected form (a fault of the counter software).",
    ),
    "device_nonce_malformed": _with_support(
        "端末の要求の形式が正しくありません（端末のソフトウェアの不具合の可能性）。",
        "The device's request was not in the expected form (a fault of the counter software).",
    ),
    "device_request_replayed": (
        "同じ要求が二度送られたため受け付けられませんでした。もう一度操作してください。",
        "The same request arrived twice and was refused; take the step again.",
    ),
    "device_revoked": _with_support(
        "この端末の登録は取り消されています。", "This device's registration was revoked."
    ),
    "device_not_found": _with_support("この端末は登録されていません。", "This device is not registered."),
    "device_certificate_required": _with_support(
        "この端末の証明書（クライアント証明書）が提示されていません。",
        "This device did not present its client certificate.",
    ),
    "device_certificate_mismatch": _with_support(
        "この端末の証明書が登録内容と一致しません。",
        "This device's client certificate does not match its registration.",
    ),
    "permission_denied": _with_support(
        "この端末にはその操作の権限がありません。", "This device may not take that step."
    ),
    "action_not_allowed_for_role": (
        "その操作は市区町村の職員だけが行えます。",
        "Only the municipal officer may take that step.",
    ),
    "case_not_found": _with_support("受付が見つかりません。", "The case was not found."),
    "not_found": _with_support("見つかりません。", "Not found."),
    "too_many_requests": (
        "操作が多すぎます。少し待ってからもう一度お試しください。",
        "Too many attempts; wait a moment and try again.",
    ),
    "idempotency_key_reused": _with_support(
        "同じ受付の再送が一致しませんでした。", "A resent request did not match the original."
    ),
    "validation_error": _with_support(
        "送信した内容の形式が正しくありません。", "The request was not in the expected form."
    ),
    "bad_request": _with_support("要求が正しくありません。", "The request was not valid."),
    "unprocessable": _with_support("要求を処理できませんでした。", "The request could not be processed."),
    "method_not_allowed": _with_support("要求が正しくありません。", "The request was not valid."),
}

# Codes the counter device never gets: people's logins, the officer's queue and review, the back office,
# administration. Listed so that a new hub code has to be placed deliberately.
NOT_AT_THE_COUNTER: Final = frozenset(
    {
        "account_not_found",
        "account_not_pending",
        "api_key_not_accepted",
        "card_face_unbound",
        "evidence_unreadable",
        "scope_missing",
        "webhook_destination_refused",
        "webhook_url_invalid",
        "already_exists",
        "attestation_required",
        "case_not_finalized",
        "connection_metrics_limit",
        "device_key_taken",
        "evidence_not_found",
        "evidence_purged",
        "hold_not_expired",
        "integration_client_not_found",
        "invalid_credentials",
        "invalid_enrolment_code",
        "invalid_period",
        "invalid_token",
        "liveness_not_found",
        "mail_already_dispatched",
        "mail_not_dispatched",
        "mail_tracking_conflict",
        "not_an_officer",
        "not_assigned",
        "offer_closed",
        "offer_expired",
        "offer_not_found",
        "offer_required",
        "officer_busy",
        "reassign_refused",
        "report_not_found",  # reports are read by supervisors, managers and the ministry in the console
        "reports_not_allowed",
        "resident_check_closed",
        "resident_check_unavailable",
        "review_closed",
        "review_incomplete",
        "totp_required",
        "tracking_number_in_use",
        "username_taken",
        "webhook_delivery_not_found",
        "webhook_delivery_pending",
        "webhook_subscription_invalid",
        "webhook_subscription_not_found",
        # Certificates at the post office: met by the lobby terminal and the back office's print station, which
        # say them in their own words (clerk_agent/wording/kiosk.py, clerk_agent/wording/station.py).
        "binding_mismatch",
        "certificate_challenge_expired",
        "certificate_challenge_used",
        "certificate_choice_refused",
        "certificate_job_not_found",
        "certificate_request_not_found",
        "certificate_service_not_designated",
        "certificate_system_unavailable",
        "document_destroyed",
        "fee_mismatch",
        "invalid_job_transition",
        "not_a_post_office_device",
        "receipt_closed",
        "receipt_expired",
        "receipt_not_found",
        # The issuer's relay: the card work's seam (clerk_agent/flows/cardadmin.py RelayIssuerChannel) turns these
        # into its own notices (card_admin_unavailable, card_admin_refused) or counts a finished renewal as done.
        "card_admin_done",
        "card_admin_job_not_found",
        "card_admin_not_allowed",
        "card_admin_stale_run",
    }
)

UNKNOWN: Final[Text] = _with_support(
    "市区町村のシステムがこの操作を受け付けませんでした。", "The municipal system refused this step."
)


def problem_text(code: str) -> Text:
    """The wording for a hub problem code (a generic one, naming the code, for a code this agent does not know)."""
    return PROBLEMS.get(code, (f"{UNKNOWN[0]}（{code}）", f"{UNKNOWN[1]} ({code})"))
