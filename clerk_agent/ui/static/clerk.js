// The clerk screen: one view per step of the guided procedure, re-rendered from /api/state.
import { el, post, renderFrame, setupLang, t, tr } from './common.js';

let state = null;
let editing = false; // do not re-render under the clerk's fingers while a form is being filled in
let shown = ''; // what the screen shows now; re-rendered only when it changes, so inputs stay put

const PROCEDURES = [
  ['card_renewal', '更新', 'Card renewal'],
  ['pin_reset', '暗証番号の初期化・変更', 'PIN reset / change'],
  ['card_application', '交付申請受付', 'Card application'],
  ['application_support', '申請サポート', 'Application support'],
];
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
const CONSENTS = [
  ['recording', 'ビデオ通話の録画に同意します（版 2026-04）', 'I consent to the video call being recorded (v2026-04)'],
  ['id_copy', '本人確認書類の画像の保存に同意します（版 2026-04）', 'I consent to images of my ID documents being kept (v2026-04)'],
  ['pin_entry', '暗証番号をこの窓口の画面で自分で入力することに同意します（版 2026-04）', 'I consent to typing my PIN myself on this counter screen (v2026-04)'],
];

const button = (id, label, action, cls = '') => el('button', { id, class: cls, type: 'button', onclick: action }, label);
const act = async (path, body) => { editing = false; const next = await post(path, body); if (next) render(next); };

function procedureView() {
  const formId = el('input', { id: 'form-id', type: 'text', inputmode: 'numeric', maxlength: '23', autocomplete: 'off',
    placeholder: tr('申請書ID（23桁）', 'Form ID (23 digits)') });
  formId.addEventListener('input', () => { editing = true; });
  return el('section', {},
    el('h2', {}, tr('手続きを選んでください', 'Choose the procedure')),
    el('p', {}, tr('更新・交付申請は申請書ID（23桁）を入力してから選びます。', 'For renewal and application, type the 23-digit form ID first.')),
    formId,
    el('div', {}, PROCEDURES.map(([key, ja, en]) =>
      button(`start-${key}`, tr(ja, en), () => act('/api/cases', { procedure: key, shinseisho_id: formId.value.trim() || null }), 'primary'))));
}

function eligibilityView(c) {
  if (c.ineligible.length) {
    return el('section', {},
      el('h2', { class: 'bad' }, tr('郵便局ではお手続きできません', 'This cannot be done at the post office')),
      el('ul', { id: 'ineligible' }, c.ineligible.map((r) => el('li', { 'data-code': r.code }, t(r)))),
      el('p', {}, tr('受付は取り下げました（理由コードを記録）。', 'The case was withdrawn with the reason code.')),
      button('new-case', tr('次の受付へ', 'Next applicant'), () => act('/api/new'), 'primary'));
  }
  const boxes = QUESTIONS.map(([key, ja, en, initial]) => {
    const box = el('input', { type: 'checkbox', id: `q-${key}`, checked: initial });
    box.addEventListener('change', () => { editing = true; });
    return el('label', { class: 'check' }, box, tr(ja, en));
  });
  const submit = () => act('/api/eligibility', Object.fromEntries(QUESTIONS.map(([key]) => [key, document.getElementById(`q-${key}`).checked])));
  return el('section', {}, el('h2', {}, tr('ご本人に確認してください', 'Ask the applicant')), boxes,
    button('eligibility-submit', tr('確認しました', 'Recorded'), submit, 'primary'));
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
  const boxes = CONSENTS.map(([key, ja, en]) => {
    const box = el('input', { type: 'checkbox', id: `c-${key}` });
    box.addEventListener('change', () => { editing = true; });
    return el('label', { class: 'check' }, box, tr(ja, en));
  });
  const submit = () => act('/api/consents', Object.fromEntries(CONSENTS.map(([key]) => [key, document.getElementById(`c-${key}`).checked])));
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
    button('card-check', tr('カードを確認（回数を読む）', 'Check the card (read tries)'), () => act('/api/card/check')),
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
    el('p', {}, tr(`対応できる職員: ${q.available_officers ?? '-'}人`, `Officers available: ${q.available_officers ?? '-'}`)));
}

function callView(c, s) {
  const phases = { idle: ['準備中', 'Preparing'], joining: ['接続中', 'Connecting'], waiting_officer: ['職員の接続待ち', 'Waiting for the officer'],
    offering: ['映像を接続中', 'Starting video'], connected: ['通話中', 'In call'], ended: ['通話終了', 'Call ended'], failed: ['映像の接続に失敗', 'Video failed'] };
  const parts = [el('h2', {}, tr('本人確認（ビデオ通話）', 'Identity check (video call)')),
    el('p', { id: 'call-phase', class: 'status' }, tr(...(phases[s.call.phase] || [s.call.phase, s.call.phase])))];
  // A blocked PIN cannot sign: the officer then checks identity from the documents on video alone.
  if (c.card_procedure && !c.evidence_sent && !c.pin_blocked) {
    if (!c.code_b_entered) {
      const code = el('input', { id: 'code-b', type: 'password', inputmode: 'numeric', maxlength: '14', autocomplete: 'off' });
      code.addEventListener('input', () => { editing = true; });
      parts.push(el('p', {}, tr('カード表面から照合番号B（14桁: 生年月日6桁＋有効期限の西暦4桁＋セキュリティコード4桁）を入力', 'Type code B from the card face (14 digits)')), code,
        button('code-b-submit', tr('入力', 'Enter'), () => act('/api/code-b', { code_b: code.value.trim() }), 'primary'));
    } else if (s.pin.needs_clerk_confirm) {
      parts.push(el('p', { class: 'bad big', id: 'last-try' }, tr('残り1回です。市区町村窓口での初期化が必要になる前に、暗証番号をご本人に確認してください。', 'One try left. Confirm the PIN with the applicant first.')),
        button('confirm-last-try', tr('ご本人に確認しました', 'Confirmed with the applicant'), () => act('/api/confirm-last-try'), 'danger'));
    } else {
      parts.push(el('p', { id: 'pin-waiting' }, s.pin.open ? tr('お客さま画面で暗証番号を入力していただいてください。', 'Ask the applicant to type the PIN on their screen.') : tr('準備しています…', 'Preparing…')));
    }
  } else if (!c.evidence_sent) {
    if (c.pin_blocked) parts.push(el('p', { class: 'bad', id: 'pin-blocked' }, tr('暗証番号がロックされているため、カードの電子確認はできません。写真付きの本人確認書類を提示してください。', 'The PIN is blocked, so the card cannot be checked electronically; show photo ID instead.')));
    if (c.procedure === 'card_application') {
      parts.push(el('p', {}, tr('申請用顔写真: お客さまにカメラの正面を向いていただき、撮影します。', 'Application photo: the applicant faces the camera.')),
        button('application-photo', tr(c.photo_sent ? '撮り直す' : '申請用写真を撮影', c.photo_sent ? 'Retake' : 'Take the application photo'), () => act('/api/application-photo')),
        c.photo_advice.length ? el('ul', { id: 'photo-advice' }, c.photo_advice.map((a) => el('li', { class: a.code === 'ok' ? 'ok' : 'bad' }, t(a)))) : null);
    }
    parts.push(el('p', {}, tr('本人確認書類をカメラに向けて提示してください（表面、ホログラムは傾けて）。', 'Hold each ID document to the camera (front, then tilted for holograms).')),
      button('documents-shown', tr('書類の提示が終わりました', 'Documents shown'), () => act('/api/documents-shown'), 'primary'));
  } else {
    parts.push(el('p', { id: 'evidence-done', class: c.proof_ok === false ? 'bad' : 'ok' }, c.proof_ok === false ? tr('カードの確認ができませんでした。職員の判断を待ちます。', 'Card not verified; the officer decides.') : tr('確認情報を送信しました。職員の判断をお待ちください。', 'Evidence sent; waiting for the officer.')));
  }
  return el('section', {}, parts);
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
  if (c.state === 'approved' && !c.mailed) parts.push(button('close', tr('完了', 'Done'), () => act('/api/close'), 'primary'));
  if (c.state === 'aborted') parts.push(button('requeue', tr('もう一度つなぐ', 'Queue again'), () => act('/api/requeue'), 'primary'));
  if (['rejected', 'referred_to_counter', 'withdrawn'].includes(c.state)) parts.push(el('p', {}, t(c.next_steps)), button('new-case', tr('次の受付へ', 'Next applicant'), () => act('/api/new'), 'primary'));
  return el('section', {}, parts);
}

function receiptView(c) {
  return el('section', {}, el('h2', {}, tr('受付票', 'Receipt')),
    el('p', { id: 'decision', class: 'ok big' }, t(c.decision)),
    el('p', { id: 'next-steps' }, t(c.next_steps)),
    el('p', {}, tr(`受付番号: ${c.case_id}`, `Case number: ${c.case_id}`)),
    el('a', { id: 'receipt-link', href: '/receipt.pdf', target: '_blank' }, tr('受付票を印刷（PDF）', 'Print the receipt (PDF)')),
    el('div', {}, button('new-case', tr('次の受付へ', 'Next applicant'), () => act('/api/new'), 'primary')));
}

function render(next) {
  state = next;
  renderFrame(state);
  const c = state.case;
  const screen = document.getElementById('screen');
  const key = JSON.stringify([document.documentElement.lang, c, state.progress.current, state.pin, state.call, state.queue, state.card]);
  if ((editing || key === shown) && screen.childElementCount) return;
  shown = key;
  let view;
  if (!c) view = procedureView();
  else {
    const step = state.progress.current;
    const pending = !c.case_id ? el('p', { id: 'pending' }, tr('受付を登録しています…', 'Registering the case…')) : null;
    view = { eligibility: () => eligibilityView(c), consents: () => consentsView(c) || queueView(c, state), card: () => cardView(c, state),
      queue: () => queueView(c, state), call: () => callView(c, state), decision: () => decisionView(c), receipt: () => receiptView(c) }[step]?.() || el('p', {}, step);
    const withdraw = ['draft', 'checked_in', 'eligibility_precheck', 'queued_for_officer', 'aborted'].includes(c.state) && !c.ineligible.length
      ? button('withdraw', tr('取り下げ', 'Withdraw'), () => act('/api/withdraw', { reason_code: 'applicant_request' }), 'danger') : null;
    view = el('div', {}, el('p', { class: 'status', id: 'case-head' }, `${t(state.procedure)} ${c.case_id ? `· ${c.case_id}` : ''}`), pending, view, withdraw);
  }
  screen.replaceChildren(view);
}

async function poll() {
  try {
    const response = await fetch('/api/state', { credentials: 'same-origin' });
    if (response.ok) render(await response.json());
  } catch { /* the agent itself restarting; the next poll retries */ }
  setTimeout(poll, 700);
}

setupLang(() => { editing = false; shown = ''; if (state) render(state); });
poll();
