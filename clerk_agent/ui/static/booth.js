// The outreach booth (出張申請受付): the day's progress and one applicant's steps, from /api/booth/state.
// Japanese first, English on the button. No external code: the booth works without any network.
import { csrf, el, setupLang, t, tr } from './common.js';

let view = null;
const screen = document.getElementById('screen');

async function refresh() {
  const response = await fetch('/api/booth/state', { credentials: 'same-origin' });
  if (response.ok) render(await response.json());
}

async function send(path, body) {
  const response = await fetch(`/api/booth/${path}`, {
    method: 'POST',
    credentials: 'same-origin',
    headers: { 'X-CSRF-Token': csrf, 'Content-Type': 'application/json' },
    body: JSON.stringify(body || {}),
  });
  // A refused step answers 409 with the view and its notice in words.
  if (response.ok || response.status === 409) render(await response.json());
  else await refresh();
}

const STATUS = {
  recorded: ['未送信（端末内に暗号化して保存）', 'Not sent yet (encrypted on this laptop)'],
  accepted: ['送信済み', 'Synced'],
  conflict: ['重複（他所で申請済み）', 'Conflict (applied elsewhere)'],
  refused: ['受付不可', 'Refused by the hub'],
};
const HOLD = {
  awaiting_recheck: ['住民記録の再確認待ち', 'Awaiting the resident-record re-check'],
  held: ['保留', 'Held'],
  cleared: ['J-LISへ送信', 'Sent to J-LIS'],
  decided: ['判断済み', 'Decided'],
};
const HOLD_REASON = {
  planned_move: ['転出予定あり', 'Planned move'],
  mail_forwarding: ['郵便の転送届あり', 'Mail forwarding'],
  record_not_found: ['住民記録なし', 'No resident record'],
};
const ANSWERS = [
  ['applicant_present', '申請者本人が来ている', 'The applicant is here in person'],
  ['resident_of_municipality', '住所地の市区町村に住民登録がある', 'Registered as a resident of the residence municipality'],
  ['proxy_applicant', '代理人による申請である', 'Applying through a proxy'],
  ['minor_or_adult_ward', '15歳未満または成年被後見人である', 'Under 15 or an adult ward'],
  ['legal_representative_present', '法定代理人が同席している', 'A legal representative is present'],
  ['moving_or_name_change_before_delivery', 'カードが届くまでに転居・氏名変更の予定がある', 'Moving or changing name before delivery'],
  ['mail_forwarding_registered', '郵便の転送届を出している', 'Mail forwarding is registered'],
  ['special_handling_required', '特別な取扱いが必要（支援措置など）', 'Special handling needed'],
];
const CHECKS = [
  ['face_match', '顔写真と本人が一致する', 'The face matches the photo ID'],
  ['attributes_match', '氏名・生年月日・住所が一致する', 'Name, birth date and address match'],
  ['eligibility_confirmed', '確認事項を本人と確認した', 'Eligibility answers confirmed with the applicant'],
  ['documents_authentic', '書類に偽造の形跡がない', 'The documents look genuine'],
];
const pair = (p) => t({ ja: p[0], en: p[1] });

function renderDay(v) {
  const day = document.getElementById('day');
  const net = document.getElementById('net');
  net.className = `net ${v.online ? 'on' : 'off'}`;
  net.textContent = v.online ? tr('オンライン', 'Online') : tr('オフライン（端末に記録）', 'Offline (recording locally)');
  if (!v.booth) {
    day.replaceChildren();
    return;
  }
  const p = v.progress;
  const done = p.capacity ? Math.min(100, Math.round((p.recorded / Math.max(p.booked, 1)) * 100)) : 0;
  const fill = el('span', {});
  fill.style.width = `${done}%`;  // through the CSSOM: the page's CSP allows no inline style attribute
  const tile = (label, value, warn = false) => el('div', { class: warn ? 'tile warn' : 'tile' }, el('b', {}, String(value)), label);
  day.replaceChildren(
    el('div', { class: 'booth-info' },
      el('p', {}, el('strong', {}, v.booth.office_name), ` — ${v.booth.municipality_name}`),
      el('p', { class: 'muted' }, `${v.booth.starts_on} 〜 ${v.booth.ends_on}　${v.booth.note || ''}`),
      el('p', {}, tr(`本日の予約 ${p.booked} 人（定員 ${p.capacity}）`, `Booked today: ${p.booked} (capacity ${p.capacity})`)),
      el('div', { class: 'bar', role: 'progressbar', 'aria-valuenow': String(done), 'aria-valuemin': '0', 'aria-valuemax': '100' },
        fill)),
    el('div', { class: 'tiles' },
      tile(tr('受付', 'Recorded'), p.recorded),
      tile(tr('未送信', 'Waiting'), p.waiting, p.waiting > 0),
      tile(tr('送信済み', 'Synced'), p.synced),
      tile(tr('保留', 'Held'), p.held, p.held > 0),
      tile(tr('J-LIS送信', 'To J-LIS'), p.submitted),
      tile(tr('重複', 'Conflicts'), p.conflicts, p.conflicts > 0),
      tile(tr('受付不可', 'Refused'), p.refused, p.refused > 0)),
  );
}

function renderSteps(v) {
  const list = document.getElementById('progress');
  const index = v.steps.findIndex((s) => s.key === v.step);
  list.replaceChildren(...(index < 0 ? [] : v.steps.map((s, i) =>
    el('li', { class: i < index ? 'done' : i === index ? 'current' : '', 'data-step': s.key }, t(s)))));
}

function loginScreen(v) {
  const form = el('form', { id: 'login' },
    el('h2', {}, tr('出発前にログイン', 'Log in before leaving')),
    el('p', { class: 'muted' }, tr('職員ご本人のアカウントでログインします。ブースの予定・暗号鍵を端末に受け取ります。',
      'Log in with your own officer account: the booth, its slots and the keys come to this laptop.')),
    el('label', {}, tr('ブースID', 'Booth id'), ' ', el('input', { name: 'booth_id', value: v.booth_id || '', required: true })),
    el('label', {}, tr('ユーザー名', 'Username'), ' ', el('input', { name: 'username', autocomplete: 'username', required: true })),
    el('label', {}, tr('パスワード', 'Password'), ' ', el('input', { name: 'password', type: 'password', autocomplete: 'current-password', required: true })),
    el('label', {}, tr('確認コード（設定している場合）', 'TOTP code (if set)'), ' ', el('input', { name: 'totp', inputmode: 'numeric' })),
    el('div', { class: 'actions' }, el('button', { type: 'submit', id: 'login-submit' }, tr('ログイン', 'Log in'))));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    send('login', Object.fromEntries(new FormData(form)));
  });
  return [form];
}

function dayScreen(v) {
  const rows = v.cases.map((c) => el('tr', { class: c.hold === 'held' ? 'held' : c.status, 'data-sequence': String(c.sequence) },
    el('td', {}, String(c.sequence)),
    el('td', {}, c.reference || '—'),
    el('td', {}, pair(STATUS[c.status] || [c.status, c.status])),
    el('td', {}, c.hold ? pair(HOLD[c.hold]) + (c.hold_reason ? `：${pair(HOLD_REASON[c.hold_reason] || [c.hold_reason, c.hold_reason])}` : '') : (c.code || '')),
  ));
  return [
    el('div', { class: 'actions' },
      el('button', { type: 'button', id: 'next-applicant', onclick: () => send('start') }, tr('次の方を受け付ける', 'Next applicant')),
      el('button', { type: 'button', class: 'secondary', id: 'sync-now', onclick: () => send('sync') }, tr('今すぐ送信', 'Sync now'))),
    el('h2', {}, tr('本日の受付', "Today's cases")),
    rows.length
      ? el('table', { id: 'cases' },
        el('thead', {}, el('tr', {}, el('th', {}, '#'), el('th', {}, tr('受付番号', 'Reference')), el('th', {}, tr('送信', 'Sync')), el('th', {}, tr('ハブの確認', "Hub's checks")))),
        el('tbody', {}, rows))
      : el('p', { class: 'muted' }, tr('まだ受付はありません。', 'No cases yet.')),
  ];
}

function residenceScreen(v) {
  const host = v.booth.municipality_code;
  const choices = [[host, tr(`${v.booth.municipality_name}（本市区町村）`, `${v.booth.municipality_name} (host)`)],
    ...v.forwarding_from.map((code) => {
      // The name when the hub sent it (a session opened before it did has only the code).
      const name = (v.forwarding_names || {})[code];
      const label = name ? `${name} (${code})` : code;
      return [code, tr(`${label}（転送可）`, `${label} (forwarding accepted)`)];
    })];
  const other = el('input', { id: 'residence-code', inputmode: 'numeric', placeholder: tr('6桁', '6 digits'), maxlength: '6' });
  return [
    el('h2', {}, tr('お住まいの市区町村', 'Where does the applicant live?')),
    el('p', { class: 'muted' }, tr('撮影・記録の前に確認します。', 'Asked before anything is captured.')),
    el('div', { class: 'actions' }, choices.map(([code, label]) =>
      el('button', { type: 'button', 'data-code': code, onclick: () => send('residence', { code }) }, label))),
    el('label', {}, tr('その他の市区町村コード', 'Another municipality code'), ' ', other, ' ',
      el('button', { type: 'button', class: 'secondary', id: 'residence-other', onclick: () => send('residence', { code: other.value.trim() }) }, tr('確認', 'Check'))),
    cancelButton(),
  ];
}

function formScreen() {
  const input = el('input', { id: 'form-id', inputmode: 'numeric', size: '30', placeholder: tr('23桁', '23 digits') });
  const demo = el('input', { id: 'demo-form-id', inputmode: 'numeric', size: '30', placeholder: tr('（デモ）申請書ID', '(demo) application form ID') });
  return [
    el('h2', {}, tr('申請書ID', 'Application form ID')),
    el('label', {}, tr('申請書IDを入力', 'Type the form ID'), ' ', input, ' ',
      el('button', { type: 'button', id: 'form-id-submit', onclick: () => send('form-id', { shinseisho_id: input.value }) }, tr('次へ', 'Next'))),
    el('div', { class: 'actions' },
      el('button', { type: 'button', class: 'secondary', id: 'scan', onclick: () => send('scan') }, tr('QRコードをカメラで読み取る', 'Scan the QR code'))),
    el('p', { class: 'muted' }, tr('（デモ）申請書をカメラにかざす：', '(Demo) hold a form up to the camera: '), demo, ' ',
      el('button', { type: 'button', class: 'secondary', id: 'demo-form', onclick: () => send('demo-form', { shinseisho_id: demo.value }) }, tr('かざす', 'Hold up'))),
    cancelButton(),
  ];
}

function answersScreen(v) {
  const boxes = ANSWERS.map(([key, ja, en]) => el('label', {},
    el('input', { type: 'checkbox', name: key, checked: Boolean(v.applicant.answers[key]) }), ' ', tr(ja, en)));
  return [
    el('h2', {}, tr('確認事項', 'Eligibility questions')),
    ...boxes,
    el('div', { class: 'actions' },
      el('button', { type: 'button', id: 'answers-next', onclick: () => {
        const answers = Object.fromEntries(boxes.map((b) => { const i = b.querySelector('input'); return [i.name, i.checked]; }));
        send('answers', { answers });
      } }, tr('次へ', 'Next'))),
    cancelButton(),
  ];
}

function photoScreen(v) {
  const docs = [['document_front', '本人確認書類（表）', 'ID document (front)'], ['document_back', '本人確認書類（裏）', 'ID document (back)'], ['document_tilt', 'ホログラム確認', 'Hologram (tilted)']];
  return [
    el('h2', {}, tr('申請用写真と本人確認書類', 'Application photo and ID documents')),
    el('div', { class: 'photo' },
      v.applicant.photo ? el('img', { src: `/api/booth/photo.jpg?${Date.now()}`, alt: tr('申請用写真', 'Application photo'), id: 'photo' }) : el('p', { class: 'muted' }, tr('未撮影', 'Not taken yet')),
      el('ul', { class: 'advice' }, v.applicant.advice.map((a) => el('li', { class: a.ok ? 'ok' : '' }, t(a))))),
    el('div', { class: 'actions' },
      el('button', { type: 'button', id: 'take-photo', onclick: () => send('photo') }, v.applicant.photo ? tr('撮り直す', 'Retake') : tr('顔写真を撮影', 'Take the photo')),
      ...docs.map(([kind, ja, en]) => el('button', { type: 'button', class: 'secondary', 'data-kind': kind, onclick: () => send('document', { kind }) },
        `${tr(ja, en)}${v.applicant.documents.includes(kind) ? ' ✓' : ''}`))),
    el('div', { class: 'actions' }, el('button', { type: 'button', id: 'photos-done', onclick: () => send('photos-done') }, tr('次へ', 'Next'))),
    cancelButton(),
  ];
}

function decisionScreen(v) {
  const combination = el('select', { id: 'id-combination' },
    el('option', { value: 'A1_with_pin' }, tr('顔写真付き書類1点（A）', 'One photo ID (A)')),
    el('option', { value: 'A2' }, tr('顔写真付き書類2点（A+A）', 'Two photo IDs (A+A)')),
    el('option', { value: 'A+B' }, tr('顔写真付き1点＋その他1点（A+B）', 'Photo ID plus another (A+B)')));
  const checks = CHECKS.map(([key, ja, en]) => el('label', {}, el('input', { type: 'checkbox', name: key }), ' ', tr(ja, en)));
  const action = el('select', { id: 'decision-action' },
    el('option', { value: 'approve' }, tr('承認（本人確認済み）', 'Approve (identity confirmed)')),
    el('option', { value: 'reject' }, tr('不承認', 'Reject')),
    el('option', { value: 'refer_to_counter' }, tr('交付時来庁へ切替', 'Refer to the town hall')));
  const reason = el('select', { id: 'decision-reason' }, el('option', { value: '' }, '—'));
  action.addEventListener('change', () => {
    reason.replaceChildren(el('option', { value: '' }, '—'), ...(v.reasons[action.value] || []).map((r) => el('option', { value: r.code }, t(r))));
  });
  const attest = el('input', { type: 'checkbox', id: 'attest' });
  return [
    el('h2', {}, tr('本人確認（対面）', 'Identity check (in person)')),
    el('label', {}, tr('本人確認書類', 'ID combination'), ' ', combination),
    ...checks,
    el('label', {}, tr('判断', 'Decision'), ' ', action, ' ', tr('理由', 'Reason'), ' ', reason),
    el('label', {}, attest, ' ', tr('私は申請者と対面し、上記のとおり本人確認を行いました。', 'I met the applicant in person and checked their identity as above.')),
    el('div', { class: 'actions' }, el('button', { type: 'button', id: 'decide', onclick: () => send('decide', {
      action: action.value, reason_code: reason.value || null, id_combination: combination.value, attested: attest.checked,
      ...Object.fromEntries(checks.map((c) => { const i = c.querySelector('input'); return [i.name, i.checked]; })),
    }) }, tr('判断を記録', 'Record the decision'))),
    cancelButton(),
  ];
}

function pinsScreen() {
  const field = (name, ja, en, type = 'password') => el('label', {}, tr(ja, en), ' ', el('input', { name, type, autocomplete: 'off' }));
  const fields = [
    field('sign_password', '署名用電子証明書のパスワード（英大文字と数字6〜16桁）', 'Signing password (6–16 upper-case letters and digits)'),
    field('auth_pin', '利用者証明用の暗証番号（数字4桁）', 'Authentication PIN (4 digits)'),
    field('juki_pin', '住民基本台帳用の暗証番号（数字4桁）', 'Resident register PIN (4 digits)'),
    field('kenhojo_pin', '券面事項入力補助用の暗証番号（数字4桁）', 'Card-text PIN (4 digits)'),
  ];
  return [
    el('h2', {}, tr('暗証番号の設定依頼', 'PIN request')),
    el('p', { class: 'muted' }, tr('申請者ご本人が入力します。入力した暗証番号はこの端末で市区町村の鍵に封印され、職員にも見えません。',
      'The applicant types them; they are sealed at once to the municipality and nobody here can read them.')),
    ...fields,
    el('div', { class: 'actions' },
      el('button', { type: 'button', id: 'pins-submit', onclick: () => send('pins', Object.fromEntries(fields.map((f) => { const i = f.querySelector('input'); return [i.name, i.value]; }))) }, tr('封印して記録', 'Seal and record')),
      el('button', { type: 'button', class: 'secondary', id: 'face-auth', onclick: () => send('pins', { face_auth: true }) }, tr('顔認証マイナンバーカードにする', 'Face-authentication card (no PINs)'))),
    cancelButton(),
  ];
}

function wipedScreen() {
  return [el('h2', {}, tr('この端末は使用できません', 'This laptop can no longer be used'))];
}

function cancelButton() {
  return el('div', { class: 'actions' }, el('button', { type: 'button', class: 'secondary', id: 'cancel', onclick: () => send('cancel') }, tr('中止して一覧へ', 'Cancel and return to the list')));
}

const SCREENS = {
  login: loginScreen, day: dayScreen, residence: residenceScreen, form: formScreen, answers: answersScreen,
  photo: photoScreen, decision: decisionScreen, pins: pinsScreen, wiped: wipedScreen,
};

function render(v) {
  view = v;
  document.body.dataset.step = v.step;
  renderDay(v);
  renderSteps(v);
  const notice = document.getElementById('notice');
  notice.hidden = !v.notice;
  notice.textContent = v.notice ? t(v.notice) : '';
  screen.replaceChildren(...(SCREENS[v.step] || dayScreen)(v));
}

setupLang(() => view && render(view));
refresh();
setInterval(() => { if (view && view.step === 'day') refresh(); }, 3000);
