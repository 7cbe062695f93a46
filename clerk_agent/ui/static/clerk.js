// The clerk screen: one view per step of the guided procedure, re-rendered from /api/state.
import { csrf, el, post, renderFrame, setupLang, t, tr } from './common.js';
import { cardWorkView, resetCardWork } from './cardwork.js';
import { CERTIFICATE_KINDS, CERTIFICATE_OPTIONS, CERTIFICATE_SCOPES, CONSENTS, LIVE_STATES, PROCEDURES } from './contract.js';

let state = null;
let editing = false; // do not re-render under the clerk's fingers while a form is being filled in
let shown = ''; // what the screen shows now; re-rendered only when it changes, so inputs stay put
let extraDocument = 0; // a document row the clerk added before taking its first still
let revising = false; // the clerk re-opened ineligible eligibility answers to correct one
let confirming = null; // the irreversible action waiting for the clerk's confirmation ('withdraw' | 'abort')

// The procedures this counter offers, in the order of its buttons; their labels are the contract's (contract.js).
const OFFERED = ['card_renewal', 'pin_reset', 'ecert_issue_renew', 'card_application', 'application_support', 'certificate_request'];
const offered = OFFERED.map((code) => PROCEDURES.find((p) => p.code === code));
const QUESTIONS = [
  ['applicant_present', 'ご本人が窓口にいらっしゃいますか', 'Is the applicant here in person?', true],
  ['resident_of_municipality', 'この市区町村に住民登録がありますか', 'Registered resident of this municipality?', true],
  ['proxy_applicant', '代理人による手続きですか', 'Is this a proxy applying?', false],
  ['minor_or_adult_ward', '15歳未満、または成年被後見人の方ですか', 'Under 15, or an adult ward?', false],
  ['legal_representative_present', '法定代理人が同伴していますか', 'Is the legal representative present?', false],
  ['moving_or_name_change_before_delivery', 'カード郵送前に転居・氏名変更の予定がありますか', 'A move or name change before delivery?', false],
  ['mail_forwarding_registered', '郵便の転送届を出していますか', 'Is mail forwarding registered?', false],
  ['special_handling_required', 'DV等支援措置など特別な取扱いがありますか', 'Special handling (e.g. DV support measures)?', false],
];

const CODE_B_NOTICES = ['invalid_code_b', 'code_b_incorrect', 'code_b_last_try', 'code_b_blocked'];
const DEMO_FORM_ID = '20260401000000000012345';
const button = (id, label, action, cls = '') => el('button', { id, class: cls, type: 'button', onclick: action }, label);
const act = async (path, body) => {
  editing = false;
  confirming = null;
  ocrNote = null; // a re-render empties the fields: the camera's note and hint go with them
  ocrFilled = false;
  if (path === '/api/new' || path === '/api/requeue') extraDocument = 0;
  if (path === '/api/new') { resetCardWork(); chipNote = null; chipSent = ''; ocrClear(); }
  const next = await post(path, body);
  if (next) render(next);
};

function procedureView(s) {
  // Longer than 23: the form prints the ID in groups, and the agent drops the spaces and hyphens.
  const formId = el('input', { id: 'form-id', type: 'text', inputmode: 'numeric', maxlength: '40', autocomplete: 'off',
    placeholder: tr('申請書ID（23桁）', 'Form ID (23 digits)'), value: s.scan.form_id || '' });
  formId.addEventListener('input', () => { editing = true; });
  const demo = s.camera.synthetic ? el('p', { class: 'demo' }, tr('（デモ）', '(demo) '),
    button('demo-show-form', tr('申請書をカメラにかざす', 'Hold a form up to the camera'),
      () => act('/api/synthetic-camera', { scene: 'form', shinseisho_id: DEMO_FORM_ID }))) : null;
  return el('section', {},
    el('h2', {}, tr('手続きを選んでください', 'Choose the procedure')),
    el('p', {}, tr('更新・交付申請は、申請書のQRコードをカメラで読み取るか、申請書ID（23桁）を入力してから選びます。',
      'For renewal and application, scan the form\'s QR code with the camera or type the 23-digit form ID first.')),
    formId,
    button('scan-form-id', s.scan.scanning ? tr('読み取り中…', 'Scanning…') : tr('QRコードをカメラで読み取る', 'Scan the QR code'),
      () => act('/api/form-id/scan')),
    s.scan.scanning ? cameraPreview() : null,
    s.scan.form_id && !s.scan.scanning ? el('p', { id: 'scan-done', class: 'ok status', role: 'status' },
      tr(`読み取りました（申請書ID ${s.scan.form_id}）`, `Scanned (form ID ${s.scan.form_id})`)) : null,
    demo,
    certificateForm(),
    el('div', {}, offered.map(({ code, ja, en }) =>
      button(`start-${code}`, tr(ja, en), () => act('/api/cases', code === 'certificate_request'
        ? { procedure: code, certificate: certificateChoice() }
        : { procedure: code, shinseisho_id: formId.value.trim() || null }), 'primary'))));
}

// 証明書の交付請求 (a resident without a card): what is asked for, recorded on the case; the hub checks it against
// the municipality's configuration and the officer approves it over the live link (docs/certificates.md §Counter).
function certificateForm() {
  const kind = el('select', { id: 'cert-kind' }, CERTIFICATE_KINDS.map(({ code, ja, en }) => el('option', { value: code }, tr(ja, en))));
  const scope = el('select', { id: 'cert-scope' }, el('option', { value: '' }, tr('（指定なし）', '(none)')),
    CERTIFICATE_SCOPES.map(({ code, ja, en }) => el('option', { value: code }, tr(ja, en))));
  scope.value = 'self';
  const count = el('input', { id: 'cert-count', type: 'number', min: '1', max: '10', value: '1' });
  // 個人番号 is not offered here: the hub refuses it unless the municipality makes it selectable.
  const options = CERTIFICATE_OPTIONS.filter(({ code }) => code !== 'kojin_bango').map(({ code, ja, en }) =>
    el('label', {}, el('input', { type: 'checkbox', name: 'cert-option', value: code, id: `cert-option-${code}` }), ' ', tr(ja, en)));
  for (const input of [kind, scope, count]) input.addEventListener('input', () => { editing = true; });
  return el('fieldset', { id: 'certificate-request' }, el('legend', {}, tr('証明書の交付請求（カードなし）', 'Certificate request (no card)')),
    el('label', { for: 'cert-kind' }, tr('証明書', 'Certificate')), kind,
    el('label', { for: 'cert-scope' }, tr('範囲', 'Scope')), scope,
    el('label', { for: 'cert-count' }, tr('通数', 'Copies')), count,
    el('div', {}, options));
}

function certificateChoice() {
  const scope = document.getElementById('cert-scope').value;
  return {
    kind: document.getElementById('cert-kind').value,
    count: Number(document.getElementById('cert-count').value) || 1,
    scope: scope || null,
    options: [...document.querySelectorAll('input[name=cert-option]:checked')].map((box) => box.value),
  };
}

function eligibilityView(c) {
  if (c.ineligible.length && !revising) {
    return el('section', {},
      el('h2', { class: 'bad' }, tr('郵便局ではお手続きできません', 'This cannot be done at the post office')),
      el('ul', { id: 'ineligible' }, c.ineligible.map((r) => el('li', { 'data-code': r.code }, t(r)))),
      el('p', {}, tr('回答の記録に誤りがあれば、回答を修正してください。誤りがなければ、受付を取り下げます（理由コードを記録）。',
        'If an answer was recorded wrongly, correct it. Otherwise withdraw the case (the reason code is recorded).')),
      button('eligibility-revise', tr('回答を修正する', 'Correct the answers'), () => { revising = true; render(state, true); }),
      withdrawControl());
  }
  // Yes/no as explicit choices with nothing chosen: each answer is the applicant's, never a default.
  const rows = QUESTIONS.map(([key, ja, en, eligible]) => {
    const yes = el('input', { type: 'radio', name: `q-${key}`, id: `q-${key}-yes`, value: 'yes', 'data-eligible': eligible ? 'true' : null });
    const no = el('input', { type: 'radio', name: `q-${key}`, id: `q-${key}-no`, value: 'no', 'data-eligible': eligible ? null : 'true' });
    for (const radio of [yes, no]) radio.addEventListener('change', () => { editing = true; });
    return el('fieldset', { class: 'yesno', 'data-question': key }, el('legend', {}, tr(ja, en)),
      el('label', { class: 'choice' }, yes, tr('はい', 'Yes')), el('label', { class: 'choice' }, no, tr('いいえ', 'No')));
  });
  const error = el('p', { id: 'eligibility-error', class: 'bad', role: 'alert', hidden: true },
    tr('すべての質問に「はい」か「いいえ」で答えてください。', 'Answer every question with Yes or No.'));
  const submit = () => {
    const answers = {};
    for (const [key] of QUESTIONS) {
      const chosen = document.querySelector(`input[name="q-${key}"]:checked`);
      if (!chosen) {
        error.hidden = false;
        document.getElementById(`q-${key}-yes`).focus();
        return;
      }
      answers[key] = chosen.value === 'yes';
    }
    revising = false;
    act('/api/eligibility', answers);
  };
  return el('section', { id: 'eligibility' }, el('h2', {}, tr('ご本人に確認してください', 'Ask the applicant')), rows, error,
    button('eligibility-submit', tr('確認しました', 'Recorded'), submit, 'primary'));
}

// 取り下げ cannot be undone: the button first asks, in the page, and only the second button withdraws.
function withdrawControl() {
  if (confirming !== 'withdraw') {
    return button('withdraw', tr('取り下げ', 'Withdraw'), () => { confirming = 'withdraw'; render(state, true); }, 'danger');
  }
  return el('div', { id: 'withdraw-confirmation', class: 'confirm', role: 'alertdialog' },
    el('p', { id: 'withdraw-question', class: 'bad' }, tr('受付を取り下げると、この受付は終了し、元に戻せません。取り下げますか？',
      'Withdrawing ends this case and cannot be undone. Withdraw?')),
    button('withdraw-confirm', tr('取り下げる', 'Withdraw'), () => act('/api/withdraw', {}), 'danger'),
    button('withdraw-cancel', tr('戻る', 'Go back'), () => { confirming = null; render(state, true); }));
}

// The live call's way out at the counter (the applicant has to leave, or the call cannot go on): interrupting
// is confirmed first; afterwards the clerk connects again or withdraws.
function abortControl() {
  if (confirming !== 'abort') {
    return button('abort-call', tr('通話を中断する', 'Interrupt the call'), () => { confirming = 'abort'; render(state, true); }, 'danger');
  }
  return el('div', { id: 'abort-confirmation', class: 'confirm', role: 'alertdialog' },
    el('p', { id: 'abort-question', class: 'bad' }, tr('通話を中断すると、本人確認は最初からやり直しになります。中断しますか？',
      'Interrupting the call means the identity check starts over. Interrupt?')),
    button('abort-confirm', tr('中断する', 'Interrupt'), () => act('/api/abort', { reason_code: 'applicant_left' }), 'danger'),
    button('abort-cancel', tr('戻る', 'Go back'), () => { confirming = null; render(state, true); }));
}

function consentsView(c) {
  if (Object.keys(c.consents).length) {
    if (c.procedure === 'application_support') {
      return el('section', {}, el('h2', {}, tr('写真と申請書の準備', 'Photo and form')),
        el('p', {}, tr('申請書の記入と写真の確認を手伝ってください。終わったら完了を押します。', 'Help with the form and photo, then press Done.')),
        button('complete', tr('完了', 'Done'), () => act('/api/complete'), 'primary'));
    }
    return null;
  }
  // The catalogue's texts, each with the version the hub records (service/wire/consents.py, via contract.js).
  const boxes = CONSENTS.map(({ code, version, ja, en }) => {
    const box = el('input', { type: 'checkbox', id: `c-${code}` });
    box.addEventListener('change', () => { editing = true; });
    return el('label', { class: 'check' }, box, tr(`${ja}（版 ${version}）`, `${en} (v${version})`));
  });
  const submit = () => act('/api/consents', Object.fromEntries(CONSENTS.map(({ code }) => [code, document.getElementById(`c-${code}`).checked])));
  return el('section', {}, el('h2', {}, tr('同意の確認（お客さまに読み上げてください）', 'Consents (read them to the applicant)')), boxes,
    button('consents-submit', tr('同意を記録', 'Record consents'), submit, 'primary'));
}

function cardView(c, s) {
  const card = s.card;
  const status = !card.reader_ok ? tr('カードリーダーが見つかりません', 'No card reader')
    : card.present ? tr('カードがあります', 'Card present') : tr('カードを置いてください', 'Place the card');
  const retries = c.pin_retries == null ? '' : c.pin_blocked ? tr('暗証番号はロックされています', 'PIN blocked')
    : tr(`利用者証明用暗証番号の残り回数: ${c.pin_retries}回`, `Auth PIN tries left: ${c.pin_retries}`);
  return el('section', {}, el('h2', {}, tr('カードの確認', 'Card check')),
    el('p', { id: 'card-status', class: 'status' }, status),
    el('p', { id: 'pin-retries', class: c.pin_retries === 1 || c.pin_blocked ? 'bad big' : 'big' }, retries),
    button('card-check', tr('カードの状態を確認（暗証番号の残り回数）', 'Check the card (PIN tries left)'), () => act('/api/card/check')),
    c.pin_retries != null ? button('request-verification', tr('市区町村の職員につなぐ', 'Connect to the municipal officer'), () => act('/api/request-verification'), 'primary') : null);
}

function queueView(c, s) {
  if (c.state === 'eligibility_precheck') {
    return el('section', {}, el('h2', {}, tr('市区町村の職員につなぎます', 'Connect to the officer')),
      button('request-verification', tr('市区町村の職員につなぐ', 'Connect to the municipal officer'), () => act('/api/request-verification'), 'primary'));
  }
  const q = s.queue || {};
  const wait = q.estimated_wait_seconds == null ? tr('計算中', 'estimating') : tr(`約${Math.ceil(q.estimated_wait_seconds / 60)}分`, `about ${Math.ceil(q.estimated_wait_seconds / 60)} min`);
  return el('section', {}, el('h2', {}, tr('職員の対応をお待ちください', 'Waiting for an officer')),
    el('p', { id: 'queue-position', class: 'big' }, q.position ? tr(`順番: ${q.position}番目`, `Position: ${q.position}`) : tr('順番を確認しています', 'Checking the queue')),
    el('p', { id: 'queue-wait' }, tr(`待ち時間の目安: ${wait}`, `Estimated wait: ${wait}`)),
    el('p', { id: 'queue-officers' }, officersLine(q.available_officers)));
}

// The hub's count of officers on duty (受付可, console open) for this municipality, read with the queue position;
// before the first reading there is no number to show, and none means the queue waits for one to come on duty.
function officersLine(count) {
  if (typeof count !== 'number') return tr('対応できる職員: 確認しています', 'Officers available: checking');
  if (count === 0) return tr('対応できる職員: 現在いません（職員が受付を始めるとつながります）', 'Officers available: none right now (you will be connected when one starts)');
  return tr(`対応できる職員: ${count}人`, `Officers available: ${count}`);
}

// Demo only: who sits in front of the synthetic camera, so an officer can practise a face that does not match the chip.
function seatSwitch(s) {
  if (!s.camera.synthetic || s.camera.person == null) return null;
  const seat = (id, who, ja, en) => button(id, tr(ja, en) + (s.camera.person === who ? ' ✓' : ''),
    () => act('/api/synthetic-camera', { scene: who }));
  return el('p', { class: 'demo', id: 'demo-seat' }, tr('（デモ）カメラの前にいる人: ', '(demo) In front of the camera: '),
    seat('demo-seat-cardholder', 'cardholder', 'カードの本人', 'the cardholder'),
    seat('demo-seat-other', 'other', '別の人（不一致の練習）', 'someone else (practise a mismatch)'));
}

function callView(c, s, exit) {
  const phases = { idle: ['準備中', 'Preparing'], joining: ['接続中', 'Connecting'], waiting_officer: ['職員の接続待ち', 'Waiting for the officer'],
    offering: ['映像を接続中', 'Starting video'], connected: ['通話中', 'In call'], ended: ['通話終了', 'Call ended'], failed: ['映像の接続に失敗', 'Video failed'] };
  // The call beside the steps: on a counter display the entries the clerk acts on stay in sight under the header.
  const side = [el('h2', {}, tr('本人確認（ビデオ通話）', 'Identity check (video call)')),
    el('p', { id: 'call-phase', class: 'status' }, tr(...(phases[s.call.phase] || [s.call.phase, s.call.phase]))),
    el('figure', { class: 'camera-figure' }, cameraPreview(),
      el('figcaption', {}, tr('窓口のカメラ（職員に見えている映像）', 'The counter camera (what the officer sees)'))),
    seatSwitch(s)];
  const parts = [];
  const actions = [];
  if (s.call.phase === 'connected') {
    side.push(el('p', { id: 'call-audio', class: 'status' }, s.call.officer_audio
      ? tr('職員の音声: 受信中', "Officer's voice: coming through")
      : tr('職員の音声: 届いていません（職員のマイクがオフの可能性があります）', "Officer's voice: not coming through (the officer's microphone may be off)")));
  }
  // A blocked PIN cannot sign: the officer then checks identity from the documents on video alone.
  if (c.card_procedure && !c.evidence_sent && !c.pin_blocked) {
    if (!c.code_b_entered) {
      const code = el('input', { id: 'code-b', type: 'password', inputmode: 'numeric', maxlength: '20', autocomplete: 'off' });
      code.addEventListener('input', () => { editing = true; });
      // Checked against the card as soon as it is entered: a wrong code B is the clerk's to type again, here.
      const error = s.notice && CODE_B_NOTICES.includes(s.notice.code) ? el('p', { id: 'code-b-error', class: 'bad', role: 'alert' }, t(s.notice)) : null;
      const left = c.code_b_retries == null ? null : el('p', { id: 'code-b-retries', class: c.code_b_retries <= 1 ? 'bad big' : 'big' },
        tr(`照合番号Bの残り回数: ${c.code_b_retries}回（暗証番号の回数とは別です）`, `Code B tries left: ${c.code_b_retries} (separate from the PIN's)`));
      const lastTry = c.code_b_retries === 1 ? el('input', { id: 'code-b-confirm', type: 'checkbox' }) : null;
      // The next-generation card prints its 照合番号 instead of 照合番号B (docs/card.md §3.2); the card check found which.
      const nextGen = c.card_generation === 'gen2028';
      parts.push(el('p', { id: 'code-b-hint', 'data-generation': c.card_generation || '' }, nextGen
        ? tr('次期カードです。カードに印字された照合番号（14桁）をそのまま入力してください。',
          'A next-generation card: type the check number printed on the card (14 digits) as it is.')
        : tr('カード表面の照合番号B（14桁）を入力してください: 生年月日を和暦で6桁（例: 昭和55年2月17日 → 550217。西暦ではありません）、続けて有効期限の西暦4桁、最後にセキュリティコード4桁。',
          'Type code B from the card face (14 digits): the birth date in the Japanese era, YYMMDD (e.g. Shōwa 55, 17 Feb → 550217; not the western year), then the expiry year (4 digits), then the 4-digit security code.')),
      error, left, code,
      lastTry ? el('label', { class: 'check' }, lastTry, tr('残り1回です。券面をお客さまと確認しました', 'One try left: checked the card face with the applicant')) : null,
      button('code-b-submit', tr('照合番号Bを確認', 'Check code B'), () => act('/api/code-b', { code_b: code.value.trim(), confirm_last_try: lastTry ? lastTry.checked : false }), 'primary'));
    } else if (s.pin.needs_clerk_confirm) {
      parts.push(el('p', { class: 'bad big', id: 'last-try' }, tr('残り1回です。市区町村窓口での初期化が必要になる前に、暗証番号をご本人に確認してください。', 'One try left. Confirm the PIN with the applicant first.')),
        button('confirm-last-try', tr('ご本人に確認しました', 'Confirmed with the applicant'), () => act('/api/confirm-last-try'), 'danger'));
    } else {
      parts.push(el('p', { id: 'pin-waiting' }, s.pin.open ? tr('お客さま画面で暗証番号を入力していただいてください。', 'Ask the applicant to type the PIN on their screen.') : tr('準備しています…', 'Preparing…')));
    }
  } else if (!c.evidence_sent) {
    if (c.pin_blocked) parts.push(el('p', { class: 'bad', id: 'pin-blocked' }, tr('暗証番号がロックされているため、カードの電子確認はできません。写真付きの本人確認書類を提示してください。', 'The PIN is blocked, so the card cannot be checked electronically; show photo ID instead.')));
    // The document's chip first, so its entry is in sight: the document goes on the reader, then under the camera.
    const documents = c.documents_needed || c.documents.length;
    if (documents) parts.push(chipPart(s));
    if (c.photo_needed) parts.push(photoPart(c, s));
    if (documents) parts.push(documentsPart(c, s));
    actions.push(button('documents-shown', tr('書類の提示が終わりました', 'Documents shown'), () => act('/api/documents-shown'), 'primary'));
  } else {
    parts.push(el('p', { id: 'evidence-done', class: c.proof_ok === false ? 'bad' : 'ok' }, c.proof_ok === false ? tr('カードの確認ができませんでした。職員の判断を待ちます。', 'Card not verified; the officer decides.') : tr('確認情報を送信しました。職員の判断をお待ちください。', 'Evidence sent; waiting for the officer.')));
  }
  // The call's actions in a bar that stays at the window's bottom (counter.css): however long the steps above,
  // 「書類の提示が終わりました」 and 「通話を中断する」 are on screen without scrolling.
  if (exit) actions.push(exit);
  return el('section', { class: 'call' }, el('div', { class: 'call-side' }, side), el('div', { class: 'call-main' }, parts,
    actions.length ? el('div', { class: 'call-actions', id: 'call-actions' }, actions) : null));
}

function photoPart(c, s) {
  const p = s.photo;
  const parts = [el('h3', {}, tr('申請用顔写真（縦45mm×横35mm）', 'Application photo (45×35 mm)'))];
  if (c.photo_sent) parts.push(el('p', { id: 'photo-approved', class: 'ok' }, tr('お客さまが写真を承認しました。', 'The applicant approved the photo.')));
  else if (p.candidate) {
    parts.push(el('img', { id: 'photo-candidate', class: 'photo', src: `/api/photo/candidate.jpg?t=${Date.now()}`, alt: '' }),
      el('p', { id: 'photo-waiting' }, tr('お客さま画面で写真を確認していただいています…', 'The applicant is checking the photo on their screen…')),
      adviceList('photo-candidate-advice', p.candidate_advice));
  } else if (p.preview) {
    parts.push(el('img', { id: 'photo-preview', class: 'photo', src: `/api/photo/preview.jpg?t=${Date.now()}`, alt: '' }),
      el('ul', { id: 'photo-advice' }),
      button('photo-take', tr('撮影する', 'Take the photo'), () => act('/api/photo/take'), 'primary'));
  } else {
    parts.push(el('p', {}, tr('お客さまにカメラの正面を向いていただき、枠に顔を合わせます。', 'The applicant faces the camera; fit the face in the frame.')),
      button('photo-start', tr('カメラで写真を合わせる', 'Frame the photo'), () => act('/api/photo/preview', { on: true })));
  }
  return el('div', { class: 'photo-step' }, parts);
}

// What the counter camera sees now, refreshed while it is on the screen (the call, the 申請書ID scan).
function cameraPreview() {
  const img = el('img', { id: 'camera-preview', class: 'photo camera-preview', alt: tr('窓口のカメラの映像', 'The counter camera') });
  const next = () => { if (img.isConnected || !img.src) img.src = `/api/camera/preview.jpg?t=${Date.now()}`; };
  img.addEventListener('load', () => setTimeout(next, 150));
  img.addEventListener('error', () => setTimeout(next, 1000));
  next();
  return img;
}

const adviceList = (id, advice) => el('ul', { id }, advice.map((a) => el('li', { class: a.code === 'ok' ? 'ok' : 'bad', 'data-code': a.code }, t(a))));

function documentsPart(c, s) {
  const docs = c.documents;
  const count = Math.max(1, extraDocument, ...docs.map((d) => d.document));
  const sent = docs.filter((d) => d.sent).length;
  const rows = [];
  for (let n = 1; n <= count; n += 1) {
    const has = (view) => docs.some((d) => d.document === n && d.view === view);
    rows.push(el('li', { 'data-document': String(n) }, tr(`書類${n}: `, `Document ${n}: `),
      button(`doc-${n}-front`, tr(has('front') ? '表面 ✓ 撮り直す' : '表面を撮影', has('front') ? 'Front ✓ again' : 'Photograph the front'), () => act('/api/documents/capture', { document: n, view: 'front' })),
      button(`doc-${n}-tilt`, tr(has('tilt') ? '傾き ✓ 撮り直す' : '傾けて撮影（ホログラム）', has('tilt') ? 'Tilted ✓ again' : 'Photograph tilted (hologram)'), () => act('/api/documents/capture', { document: n, view: 'tilt' }))));
  }
  const demo = s.camera.synthetic ? el('p', { class: 'demo' }, tr('（デモ）', '(demo) '),
    button('demo-show-document', tr('書類をかざす', 'Hold up a document'), () => act('/api/synthetic-camera', { scene: 'document' })),
    button('demo-show-document-tilt', tr('書類を傾ける', 'Tilt the document'), () => act('/api/synthetic-camera', { scene: 'document_tilt' }))) : null;
  return el('div', { class: 'documents' },
    el('h3', {}, tr('本人確認書類の撮影（表面、ホログラムは傾けて）', 'ID documents (front, then tilted for holograms)')),
    el('ol', { id: 'documents' }, rows),
    count < 3 ? button('doc-add', tr('書類を追加', 'Add a document'), () => { extraDocument = count + 1; render(state, true); }) : null,
    el('p', { id: 'documents-progress', class: sent === docs.length ? 'ok' : '' },
      tr(`撮影 ${docs.length}枚・送信済み ${sent}枚`, `${docs.length} taken, ${sent} sent`)),
    demo);
}

// The applicant's ID document's chip (docs/id-documents.md §Counter). The clerk says which document it is; the
// access data is typed where it belongs: a passport's three MRZ fields and a residence card's number here, a
// licence's two PINs by the applicant on their own screen. Each is checked for shape here (a typo costs nothing),
// sent once, and the field is emptied; the card number is shown afterwards only masked to its last three.
// Every access field carries data-ocr: 「カメラから読み取る」 fills it from the counter camera's still (ocrRead), and
// the clerk compares it with the document before reading, so a prefilled value is sent and emptied like a typed one.
const CARD_NUMBER = /^[A-Z]{2}[0-9]{8}[A-Z]{2}$/;
const MRZ_NUMBER = /^[A-Z0-9]{1,9}$/;
const YYMMDD = /^[0-9]{2}(0[1-9]|1[0-2])(0[1-9]|[12][0-9]|3[01])$/;
const RESIDENCE = ['residence_card', 'special_permanent_resident'];
const chipGroup = (kind) => (RESIDENCE.includes(kind) ? 'residence_card' : kind);
let chipNote = null; // [ja, en]: the clerk's entry refused before sending, or the read could not start
let chipSent = ''; // the card number as sent, masked
let chipBusy = false; // a read this screen started is running
let ocrBusy = false; // the camera's still is being read (up to about a second)
let ocrNote = null; // [reason, ja, en]: why the camera gave no fields; the clerk types them instead
let ocrFilled = false; // the fields were prefilled from the camera: the clerk compares them before reading

// Why the camera's still gave no fields (docs/id-documents.md §OCR, the route's `reason`), told as what to do next.
// Each is also a way back to typing: OCR is a convenience, never the only way to read the chip.
const OCR_REASONS = {
  not_found: ['書類の文字が見つかりませんでした。書類をカメラの前で平らにして動かさずに持ち、もう一度押してください。読めないときは入力してください。',
    'The document\'s characters were not found. Hold the page flat and still in front of the camera and try again, or type them.'],
  check_digit: ['旅券の下部の2行は読めましたが、検査数字が合いませんでした。旅券を見て入力してください。',
    'The passport\'s bottom lines were read but their check digits do not match. Type the fields from the passport.'],
  ambiguous: ['番号らしい文字が二つ以上見つかりました。カードだけをカメラに向けてもう一度押すか、入力してください。',
    'More than one number was found. Hold only the card to the camera and try again, or type it.'],
  timeout: ['読み取りに時間がかかりすぎました。もう一度押すか、入力してください。', 'Reading took too long. Try again, or type them.'],
  busy: ['前の読み取りがまだ終わっていません。少し待ってから、もう一度押してください。', 'The previous reading has not finished. Wait a moment and try again.'],
  too_large: ['カメラの画像が大きすぎて読み取れません。入力してください。', 'The camera picture is too large to read. Type them instead.'],
  unreadable: ['カメラの画像を読み取れませんでした。もう一度押すか、入力してください。', 'The camera picture could not be read. Try again, or type them.'],
  camera_unavailable: ['カメラが使えません。カメラのつながりを確かめるか、入力してください。', 'The camera is not available. Check its connection, or type them.'],
  failed: ['カメラからの読み取りができませんでした。入力してください。', 'Reading from the camera did not work. Type them instead.'],
};

function ocrClear() {
  ocrBusy = false;
  ocrNote = null;
  ocrFilled = false;
}

// Reads the camera's still and prefills the fields; the answer's values go only into the inputs (never a variable
// that outlives this call, a log or localStorage), and the clerk still reads with the chip button.
async function ocrRead(kind, fill) {
  editing = false;
  ocrBusy = true;
  ocrNote = null;
  ocrFilled = false;
  chipNote = null;
  render(state, true);
  let answer = null;
  let reason = 'failed';
  try {
    const response = await fetch(`/api/chip/ocr?kind=${kind}`, {
      method: 'POST', credentials: 'same-origin', headers: { 'X-CSRF-Token': csrf }, signal: AbortSignal.timeout(20000),
    });
    answer = await response.json();
    if (!answer.found) reason = answer.reason in OCR_REASONS ? answer.reason : 'failed';
  } catch (error) {
    reason = error && error.name === 'TimeoutError' ? 'timeout' : 'failed';
  }
  ocrBusy = false;
  if (answer && answer.found && answer.fields) {
    ocrFilled = true;
    render(state, true);
    fill(answer.fields);
    answer.fields = null;
    editing = true; // the prefilled fields stay under the clerk's eyes until they read or change them
  } else {
    ocrNote = [reason, ...OCR_REASONS[reason]];
    render(state, true);
  }
  answer = null;
}

// 「カメラから読み取る」 beside the fields with its progress (`row`), and under them the hint to compare the
// prefilled fields with the document or the reason in words (`message`).
function ocrControls(kind, busy, fill) {
  const start = button(`chip-ocr-${kind}`, ocrBusy ? tr('カメラから読み取っています…', 'Reading from the camera…')
    : tr('カメラから読み取る', 'Read from camera'), () => ocrRead(kind, fill));
  start.disabled = busy || ocrBusy;
  const demo = state.camera.synthetic ? el('span', { class: 'demo-inline' }, tr('（デモ）', '(demo) '),
    button(`demo-show-${kind}`, kind === 'passport' ? tr('旅券のページをかざす', 'Hold the passport page up') : tr('在留カードをかざす', 'Hold the residence card up'),
      () => act('/api/synthetic-camera', { scene: kind === 'passport' ? 'passport_page' : 'residence_card' }))) : null;
  const row = el('div', { class: 'chip-ocr-row' }, start, ocrBusy
    ? el('span', { id: 'chip-ocr-reading', class: 'status', role: 'status' }, el('progress', {}), ' ', tr('読み取り中', 'Reading')) : demo);
  const parts = [];
  const held = kind === 'passport' ? tr('旅券の顔写真のページ', 'the passport\'s data page') : tr('カード', 'the card');
  if (ocrFilled) {
    parts.push(el('p', { id: 'chip-ocr-done', class: 'ok', role: 'status' },
      tr('カメラから入力しました。書類と見比べてから読み取ってください。', 'Filled in from the camera. Compare with the document before reading the chip.')));
  } else if (ocrNote) {
    parts.push(el('p', { id: 'chip-ocr-note', class: 'bad', role: 'alert', 'data-reason': ocrNote[0] }, tr(ocrNote[1], ocrNote[2])));
  } else if (!ocrBusy) {
    parts.push(el('p', { class: 'chip-ocr-hint' }, tr(`${held}をカメラに向けて押すと入力欄に入ります。書類と見比べてから読み取ってください。`,
      `Hold ${held} to the camera and press it to fill the fields; compare them with the document before reading.`)));
  }
  return { row, message: parts };
}

async function chipAct(path, body, raw = false) {
  editing = false;
  chipBusy = true;
  render(state, true);
  const next = await post(path, body, raw);
  chipBusy = false;
  if (!next) chipNote = ['読み取りを始められませんでした。書類を置き直して、もう一度お試しください。', 'The read could not start. Lay the document on the reader again and retry.'];
  if (next) render(next, true); else render(state, true);
}

function chooseDocument(code) {
  chipNote = null;
  ocrClear();
  chipSent = '';
  act('/api/chip/document', { document: code });
}

function accessField(id, label, attrs) {
  const input = el('input', { id, type: 'text', autocomplete: 'off', spellcheck: 'false', autocapitalize: 'characters', ...attrs });
  input.addEventListener('input', () => { editing = true; });
  return [el('label', { for: id }, label), input];
}

function passportForm(busy) {
  const [numberLabel, number] = accessField('mrz-number', tr('旅券番号', 'Document number'), { maxlength: '9', 'data-ocr': 'mrz_document_number' });
  const [birthLabel, birth] = accessField('mrz-birth', tr('生年月日（YYMMDD）', 'Birth date (YYMMDD)'), { maxlength: '6', inputmode: 'numeric', 'data-ocr': 'mrz_birth' });
  const [expiryLabel, expiry] = accessField('mrz-expiry', tr('有効期間満了日（YYMMDD）', 'Expiry (YYMMDD)'), { maxlength: '6', inputmode: 'numeric', 'data-ocr': 'mrz_expiry' });
  const read = () => {
    const fields = { document_number: number.value.trim().toUpperCase(), birth: birth.value.trim(), expiry: expiry.value.trim() };
    if (!MRZ_NUMBER.test(fields.document_number) || !YYMMDD.test(fields.birth) || !YYMMDD.test(fields.expiry)) {
      chipNote = ['旅券番号は英数字9文字まで、生年月日と有効期間満了日は6桁（年月日、例: 850412）で入力してください。',
        'The document number is up to 9 letters and digits; the dates are 6 digits, YYMMDD (e.g. 850412).'];
      editing = false;
      render(state, true);
      document.getElementById('mrz-number').focus();
      return;
    }
    chipNote = null;
    ocrClear();
    number.value = ''; birth.value = ''; expiry.value = '';
    chipAct('/api/chip/passport', fields);
  };
  const send = button('chip-read-passport', tr('ICチップを読む', 'Read the chip'), read, 'primary');
  send.disabled = busy || ocrBusy;
  const fill = (fields) => {
    const field = (id) => document.getElementById(id);
    field('mrz-number').value = fields.document_number || '';
    field('mrz-birth').value = fields.birth || '';
    field('mrz-expiry').value = fields.expiry || '';
  };
  const ocr = ocrControls('passport', busy, fill);
  return [el('p', {}, tr('旅券を読み取り機に置き、顔写真のページ下部（MRZ）の3項目を入力してください。', 'Lay the passport on the reader and type three fields of its MRZ (the data page\'s bottom lines).')),
    el('div', { class: 'chip-fields' }, el('div', {}, numberLabel, number), el('div', {}, birthLabel, birth), el('div', {}, expiryLabel, expiry), ocr.row),
    ...ocr.message, send];
}

function residenceForm(busy) {
  const [label, number] = accessField('chip-card-number', tr('カードの番号（12文字・右上に印字）', 'Card number (12 characters, top right)'),
    { maxlength: '16', 'data-ocr': 'residence_card_number', placeholder: 'AB12345678CD' });
  const read = () => {
    const typed = number.value.replace(/[\s-]/g, '').toUpperCase();
    if (!CARD_NUMBER.test(typed)) {
      chipNote = ['カードの番号は12文字です（英字2文字・数字8桁・英字2文字）。カードを見て入力し直してください。',
        'The card number is 12 characters (2 letters, 8 digits, 2 letters). Type it again from the card.'];
      editing = false;
      render(state, true);
      document.getElementById('chip-card-number').focus();
      return;
    }
    chipNote = null;
    ocrClear();
    number.value = '';
    chipSent = '•'.repeat(typed.length - 3) + typed.slice(-3);
    const body = new TextEncoder().encode(typed);
    chipAct('/api/chip/residence', body, true).finally(() => body.fill(0));
  };
  number.addEventListener('keydown', (event) => { if (event.key === 'Enter') read(); });
  const send = button('chip-read-residence', tr('ICチップを読む', 'Read the chip'), read, 'primary');
  send.disabled = busy || ocrBusy;
  const fill = (fields) => { document.getElementById('chip-card-number').value = fields.card_number || ''; };
  const ocr = ocrControls('residence_card', busy, fill);
  return [el('p', {}, tr('カードを読み取り機に置き、カードに印字された番号を入力してください（読み取りが終わると消えます）。', 'Lay the card on the reader and type the number printed on it (cleared after the read).')),
    el('div', { class: 'chip-fields' }, el('div', {}, label, number), ocr.row), ...ocr.message, send];
}

function chipPart(s) {
  const chip = s.chip || { document: null, documents: [], last: null, reading: false, virtual: null };
  const doc = chip.document;
  const busy = chip.reading || chipBusy;
  const parts = [el('h3', {}, tr('本人確認書類のICチップ', 'The ID document\'s chip'))];
  if (!doc) {
    parts.push(el('p', {}, tr('お客さまの本人確認書類を選んでください。', 'Choose the applicant\'s ID document.')),
      el('div', { id: 'chip-documents' }, chip.documents.map((d) => button(`chip-doc-${d.code}`, t(d), () => chooseDocument(d.code)))));
  } else {
    const chosen = chip.documents.find((d) => d.code === doc);
    parts.push(el('p', { id: 'chip-document', class: 'status' }, tr('書類: ', 'Document: '), chosen ? t(chosen) : ''));
    if (doc === 'passport') parts.push(...passportForm(busy));
    else if (RESIDENCE.includes(doc)) parts.push(...residenceForm(busy));
    else if (chip.declined) {
      parts.push(el('p', { id: 'chip-licence-declined', class: 'bad' }, tr('お客さまが暗証番号の入力をやめました。免許証はカメラで職員に確認してもらうか、別の書類を選んでください。',
        'The applicant stopped entering the PINs. Show the licence to the officer on camera, or choose another document.')));
    } else if (!(chip.last && chip.last.kind === doc && chip.last.verdict === 'verified')) {
      parts.push(el('p', { id: 'chip-licence-waiting' }, tr('免許証を読み取り機に置き、お客さま画面で暗証番号1と暗証番号2を入力していただいてください（係員は見ません）。',
        'Lay the licence on the reader and ask the applicant to enter PIN 1 and PIN 2 on their screen (the clerk does not see them).')));
    }
    if (chipNote) parts.push(el('p', { id: 'chip-note', class: 'bad', role: 'alert' }, tr(...chipNote)));
    const last = chip.last && chipGroup(chip.last.kind) === chipGroup(doc) ? chip.last : null;
    if (busy) {
      parts.push(el('p', { id: 'chip-reading', class: 'status', role: 'status' }, el('progress', {}),
        ' ', chipSent && RESIDENCE.includes(doc) ? tr(`番号 ${chipSent} でICチップを読み取っています…`, `Reading the chip with number ${chipSent}…`) : tr('ICチップを読み取っています…', 'Reading the chip…')));
    } else if (last && chip.outcome) {
      const ok = last.verdict === 'verified';
      parts.push(el('p', { id: 'chip-result', class: ok ? 'ok status' : 'bad', 'data-verdict': last.verdict, role: ok ? 'status' : 'alert' },
        t(chip.outcome), ok && chipSent && RESIDENCE.includes(doc) ? tr(`（番号 ${chipSent}）`, ` (number ${chipSent})`) : ''));
    }
    parts.push(button('chip-change', tr('書類を選び直す', 'Choose another document'), () => chooseDocument(null)));
  }
  if (chip.virtual) {
    // Demo only: which invented document lies on the reader (docs/id-documents.md §Virtual lists their access data).
    parts.push(el('p', { class: 'demo', id: 'demo-documents' }, tr('（デモ）読み取り機の上の書類: ', '(demo) On the reader: '),
      chip.virtual.choices.map((d) => button(`demo-doc-${d.code}`, t(d) + (chip.virtual.document === d.code ? ' ✓' : ''),
        () => act('/api/virtual-document', { document: d.code })))));
  }
  return el('div', { class: 'chip-read', id: 'chip-read' }, parts);
}

function decisionView(c) {
  const parts = [el('h2', {}, tr('結果', 'Decision'))];
  if (c.state === 'officer_review' || c.state === 'evidence_captured') parts.push(el('p', { id: 'decision', class: 'big' }, tr('職員が確認しています…', 'The officer is reviewing…')));
  else parts.push(el('p', { id: 'decision', class: c.state === 'approved' ? 'ok big' : 'big' }, t(c.decision)));
  if (c.state === 'approved' && c.mailed) {
    parts.push(el('p', { id: 'choose-pins' }, tr('新しいカードの暗証番号を、お客さま画面でご本人に設定していただいてください（係員は見ません）。', 'Ask the applicant to choose the new card\'s PINs on their screen (the clerk does not see them).')),
      el('p', {}, tr('暗証番号を設定しない場合（顔認証マイナンバーカード）:', 'No PINs (face-authentication card):')),
      button('face-auth', tr('顔認証マイナンバーカードにする', 'Face-authentication card'), () => act('/api/face-auth')));
  }
  if (c.state === 'approved' && c.certificate_receipt) {
    // The certificate prints at this office: the station scans this number like a terminal's receipt.
    parts.push(el('p', { id: 'certificate-receipt', class: 'ok big' }, tr('証明書の受付番号: ', 'Certificate receipt: '),
      el('span', { class: 'ref', translate: 'no' }, `${c.certificate_receipt}`)),
    el('p', {}, tr('印刷ステーションでこの番号を読み取り、印刷・手数料（窓口）・交付へ進んでください。', 'Scan this number at the print station, then print, take the counter fee and hand it over.')));
  }
  if (c.state === 'approved' && !c.mailed) parts.push(button('close', tr('完了', 'Done'), () => act('/api/close'), 'primary'));
  if (c.state === 'aborted') {
    if (c.abort_reason) parts.push(el('p', { id: 'abort-reason', class: 'bad big', 'data-code': c.abort_reason.code }, t(c.abort_reason)));
    parts.push(el('p', {}, tr('もう一度つなぐと、カードの確認と書類の撮影をやり直します。', 'Connecting again repeats the card check and the document stills.')),
      button('requeue', tr('もう一度職員につなぐ', 'Request verification again'), () => act('/api/requeue'), 'primary'));
  }
  // The reason, as the applicant's screen gives it: the clerk says it to the applicant and answers questions.
  if (c.decision_reason) parts.push(el('p', { id: 'decision-reason', class: 'big', 'data-code': c.decision_reason.code }, t(c.decision_reason)));
  if (c.state === 'withdrawn' && c.ineligible.length) {
    parts.push(el('ul', { id: 'ineligible' }, c.ineligible.map((r) => el('li', { 'data-code': r.code }, t(r)))));
  }
  if (['rejected', 'referred_to_counter', 'withdrawn'].includes(c.state)) parts.push(el('p', { id: 'next-steps' }, t(c.next_steps)), button('new-case', tr('次の受付へ', 'Next applicant'), () => act('/api/new'), 'primary'));
  return el('section', {}, parts);
}

function receiptView(c) {
  return el('section', {}, el('h2', {}, tr('受付票', 'Receipt')),
    el('p', { id: 'decision', class: 'ok big' }, t(c.decision)),
    el('p', { id: 'next-steps' }, t(c.next_steps)),
    state.card_work && state.card_work.done.length ? el('ul', { id: 'cw-done', class: 'ok' }, state.card_work.done.map((d) => el('li', { 'data-code': d.code }, t(d)))) : null,
    el('p', { id: 'receipt-reference', class: 'big' }, tr('受付番号: ', 'Reference: '), el('span', { class: 'ref', translate: 'no' }, c.reference || '—')),
    el('p', { id: 'receipt-date' }, tr(`受付日時: ${c.started}`, `Date: ${c.started_en}`)),
    el('a', { id: 'receipt-link', href: '/receipt.pdf', target: '_blank' }, c.card_procedure && ['pin_reset', 'ecert_issue_renew'].includes(c.procedure) ? tr('交付通知・受付票を印刷（PDF）', 'Print the notice and receipt (PDF)') : tr('受付票を印刷（PDF）', 'Print the receipt (PDF)')),
    el('div', {}, button('new-case', tr('次の受付へ', 'Next applicant'), () => act('/api/new'), 'primary')));
}

function livePhoto() {
  // The preview refreshes on its own timer: re-rendering the whole screen for each frame would reset inputs.
  const img = document.getElementById('photo-preview');
  if (img && state.photo.preview) img.src = `/api/photo/preview.jpg?t=${Date.now()}`;
  const list = document.getElementById('photo-advice');
  if (list) list.replaceWith(adviceList('photo-advice', state.photo.advice));
}

function render(next, force = false) {
  state = next;
  renderFrame(state);
  const c = state.case;
  const screen = document.getElementById('screen');
  const photo = { ...state.photo, advice: null, frames: null };
  if (!c || !c.ineligible.length) revising = false;
  const key = JSON.stringify([document.documentElement.lang, c, state.notice?.code, revising, confirming, state.progress.current, state.pin, state.call, state.queue, state.card, state.scan, state.camera, photo, extraDocument, state.card_work, state.chip, chipNote, chipBusy, ocrBusy, ocrNote, ocrFilled]);
  if (!force && (editing || key === shown) && screen.childElementCount) { livePhoto(); return; }
  shown = key;
  let view;
  if (!c) view = procedureView(state);
  else {
    const step = state.progress.current;
    const pending = !c.case_id ? el('p', { id: 'pending' }, tr('受付を登録しています…', 'Registering the case…')) : null;
    // Every state the counter can leave has its way out: withdraw before a decision, interrupt a live call.
    let withdraw = ['draft', 'checked_in', 'eligibility_precheck', 'queued_for_officer', 'aborted'].includes(c.state) && !c.ineligible.length
      ? withdrawControl() : LIVE_STATES.includes(c.state) && c.procedure !== 'application_support'
        ? abortControl() : null;
    const exitInCall = step === 'call' ? withdraw : null; // the call shows it in its action bar
    if (exitInCall) withdraw = null;
    view = { eligibility: () => eligibilityView(c), consents: () => consentsView(c) || queueView(c, state), card: () => cardView(c, state),
      queue: () => queueView(c, state), call: () => callView(c, state, exitInCall), decision: () => decisionView(c), receipt: () => receiptView(c),
      card_work: () => cardWorkView(c, state, { act, button, editing: () => { editing = true; }, redraw: () => render(state, true) }) }[step]?.() || el('p', {}, step);
    view = el('div', {}, el('p', { class: 'status', id: 'case-head' }, t(state.procedure), c.reference ? [` · ${tr('受付番号', 'Ref.')} `, el('span', { class: 'ref', translate: 'no' }, c.reference)] : null), pending, view, withdraw);
  }
  screen.replaceChildren(view);
  livePhoto();
}

async function poll() {
  try {
    const response = await fetch('/api/state', { credentials: 'same-origin' });
    if (response.ok) render(await response.json());
  } catch { /* the agent itself restarting; the next poll retries */ }
  setTimeout(poll, state && state.photo.preview ? 300 : 700);
}

setupLang(() => { editing = false; shown = ''; ocrFilled = false; if (state) render(state); });
poll();
