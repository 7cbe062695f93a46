// The applicant's screen: where they are, plain messages, and the PIN pad (the PIN goes to the agent once).
import { csrf, el, post, renderFrame, setupLang, t, tr } from './common.js';
import { startOfficerPanel } from './officer.js';
import { pinChoice, resetPinChoice } from './pinchoice.js';

let state = null;
let digits = [];
let shown = '';
let lastAttempt = null;

function pinPad() {
  const dots = el('div', { class: 'dots', id: 'pin-dots' }, '●'.repeat(digits.length) || '　');
  const press = (d) => { if (digits.length < 4) { digits.push(d); dots.textContent = '●'.repeat(digits.length); } };
  const keys = ['1', '2', '3', '4', '5', '6', '7', '8', '9'].map((d) => el('button', { type: 'button', 'data-digit': d, onclick: () => press(d) }, d));
  const clear = el('button', { type: 'button', id: 'pin-clear', onclick: () => { digits = []; dots.textContent = '　'; } }, tr('消す', 'Clear'));
  const zero = el('button', { type: 'button', 'data-digit': '0', onclick: () => press('0') }, '0');
  const send = el('button', { type: 'button', id: 'pin-send', class: 'primary', onclick: async () => {
    if (digits.length !== 4) return;
    const body = new TextEncoder().encode(digits.join(''));
    digits = [];
    dots.textContent = '　';
    const next = await post('/api/applicant/pin', body, true);
    body.fill(0);
    if (next) render(next);
  } }, tr('決定', 'OK'));
  const retries = state.pin.retries_left;
  return el('section', {},
    el('h2', {}, tr('利用者証明用電子証明書の暗証番号（数字4桁）を入力してください', 'Enter your 4-digit user authentication PIN')),
    retries != null ? el('p', { id: 'pin-tries', class: retries === 1 ? 'bad big' : 'big' }, tr(`残り${retries}回`, `${retries} tries left`)) : null,
    dots, el('div', { class: 'pinpad' }, keys, clear, zero, send),
    el('p', {}, tr('暗証番号は職員にも郵便局にも見えません。', 'Neither the clerk nor the post office can see your PIN.')));
}

function photoReview() {
  const decide = (approved) => async () => {
    const next = await post('/api/applicant/photo', { approved });
    if (next) { shown = ''; render(next); }
  };
  return el('section', {},
    el('h2', {}, tr('申請用の写真をご確認ください', 'Please check your application photo')),
    el('img', { id: 'applicant-photo', class: 'photo', src: `/api/photo/candidate.jpg?t=${Date.now()}`, alt: tr('申請用の写真', 'Application photo') }),
    el('div', {},
      el('button', { type: 'button', id: 'photo-approve', class: 'primary', onclick: decide(true) }, tr('この写真にする', 'Use this photo')),
      el('button', { type: 'button', id: 'photo-retake', onclick: decide(false) }, tr('撮り直す', 'Take it again'))));
}

// The IC driving licence's two PINs (暗証番号1・2), typed here by the applicant once the clerk chose a licence
// (docs/id-documents.md §Japanese). The tries left are read from the licence first (no try spent), the shape is
// checked before anything is sent, the last try asks for a tick, and both entries are emptied on every send.
let licenceTries = null; // {pins_set, pin1_tries, pin2_tries} or {error, ja, en}
let licenceResult = null; // the last answer: {verdict, ja, en, pin, tries_left}
let licenceNote = null; // [ja, en]: an entry refused here, before sending
let licenceBusy = false;

function resetLicence() {
  licenceTries = null;
  licenceResult = null;
  licenceNote = null;
  licenceBusy = false;
}

async function fetchLicenceTries() {
  licenceTries = { loading: true };
  try {
    const response = await fetch('/api/applicant/licence-tries', { credentials: 'same-origin' });
    licenceTries = await response.json();
  } catch {
    licenceTries = { error: 'unreachable', ja: '免許証を確かめられませんでした。係員にお知らせください。', en: 'The licence could not be checked. Please tell the clerk.' };
  }
  shown = '';
  if (state) render(state);
}

async function sendLicencePins(pin1, pin2, confirmLast) {
  licenceNote = null;
  licenceBusy = true;
  shown = '';
  render(state);
  const body = new TextEncoder().encode(`${pin1}\n${pin2}`);
  const response = await fetch(`/api/applicant/licence-pins${confirmLast ? '?confirm_last_try=1' : ''}`, {
    method: 'POST', credentials: 'same-origin', headers: { 'X-CSRF-Token': csrf, 'Content-Type': 'application/octet-stream' }, body,
  }).catch(() => null);
  body.fill(0);
  licenceBusy = false;
  licenceResult = response && response.ok ? await response.json()
    : { verdict: 'refused', ja: '読み取りを始められませんでした。免許証が読み取り機の上にあるか、係員にご確認ください。', en: 'The read could not start. Ask the clerk whether the licence is on the reader.' };
  if (licenceResult.verdict === 'verified') { shown = ''; render(state); return; }
  await fetchLicenceTries(); // the tries after this one, for both PINs
}

function licenceForm() {
  const done = (licenceResult && licenceResult.verdict === 'verified') || state.licence.verdict === 'verified';
  const parts = [el('h2', {}, tr('運転免許証の暗証番号', 'Your driving licence PINs'))];
  if (done) {
    parts.push(el('p', { id: 'licence-done', class: 'ok big', role: 'status' },
      licenceResult ? tr(licenceResult.ja, licenceResult.en) : t(state.licence.outcome)));
    return el('section', { id: 'licence' }, parts);
  }
  const result = licenceResult ? el('p', { id: 'licence-result', class: 'bad', role: 'alert' }, tr(licenceResult.ja, licenceResult.en)) : null;
  const decline = el('button', { type: 'button', id: 'licence-decline', onclick: async () => {
    await post('/api/applicant/licence-decline', {});
    resetLicence();
    shown = '';
  } }, tr('入力をやめる（係員に伝える）', 'Stop (tell the clerk)'));
  if (licenceBusy || !licenceTries || licenceTries.loading) {
    parts.push(el('p', { id: 'licence-reading', class: 'big', role: 'status' }, el('progress', {}), ' ',
      licenceBusy ? tr('免許証を読み取っています…', 'Reading your licence…') : tr('免許証を確かめています…', 'Checking your licence…')));
    return el('section', { id: 'licence' }, parts);
  }
  if (licenceTries.error) {
    parts.push(result, el('p', { id: 'licence-tries-error', class: 'bad big', role: 'alert' }, tr(licenceTries.ja || '免許証を確かめられませんでした。係員にお知らせください。', licenceTries.en || 'The licence could not be checked. Please tell the clerk.')),
      el('button', { type: 'button', id: 'licence-retry', class: 'primary', onclick: () => fetchLicenceTries() }, tr('もう一度確かめる', 'Check again')), decline);
    return el('section', { id: 'licence' }, parts);
  }
  const { pins_set: pinsSet, pin1_tries: tries1, pin2_tries: tries2 } = licenceTries;
  const counted = [tries1, tries2].filter((n) => typeof n === 'number');
  const least = counted.length ? Math.min(...counted) : null;
  if (least === 0) {
    parts.push(result, el('p', { id: 'licence-blocked', class: 'bad big', role: 'alert' }, tr('暗証番号がロックされているため、免許証のICチップは読めません。解除は警察（運転免許センター等）で行います。係員にお知らせください。',
      'A PIN is blocked, so the licence chip cannot be read. The police (licence centre) can reset it. Please tell the clerk.')), decline);
    return el('section', { id: 'licence' }, parts);
  }
  const left = (n) => (typeof n === 'number' ? tr(`残り${n}回`, `${n} ${n === 1 ? 'try' : 'tries'} left`) : tr('確認済み', 'checked'));
  const tries = el('p', { id: 'licence-tries', class: least === 1 ? 'licence-tries bad' : 'licence-tries' },
    tr(`暗証番号1: ${left(tries1)}　暗証番号2: ${left(tries2)}`, `PIN 1: ${left(tries1)} · PIN 2: ${left(tries2)}`));
  if (!pinsSet) {
    // The licence says no PIN was set at issuance: its chip opens with **** for both.
    parts.push(result, tries, el('p', { id: 'licence-no-pins' }, tr('この免許証は、暗証番号が設定されていません。', 'This licence has no PINs set.')),
      el('button', { type: 'button', id: 'licence-no-pin', class: 'primary', onclick: () => sendLicencePins('****', '****', least === 1) },
        tr('暗証番号なしで読み取る', 'Read without PINs')), decline);
    return el('section', { id: 'licence' }, parts);
  }
  const entry = (n) => el('input', { id: `licence-pin${n}`, class: 'licence-pin', type: 'password', inputmode: 'numeric', autocomplete: 'off', maxlength: '4', pattern: '[0-9]*' });
  const pin1 = entry(1);
  const pin2 = entry(2);
  const lastTry = least === 1 ? el('input', { id: 'licence-last-try', type: 'checkbox' }) : null;
  const note = licenceNote ? el('p', { id: 'licence-note', class: 'bad', role: 'alert' }, tr(...licenceNote)) : null;
  const send = () => {
    const [a, b] = [pin1.value, pin2.value];
    pin1.value = '';
    pin2.value = '';
    const wrong = [[a, 1], [b, 2]].find(([v]) => !/^[0-9]{4}$/.test(v));
    if (wrong) licenceNote = [`暗証番号${wrong[1]}は数字4桁で入力してください。`, `Enter PIN ${wrong[1]} as 4 digits.`];
    else if (lastTry && !lastTry.checked) licenceNote = ['残り1回です。確かめたら、チェックを入れてから入力してください。', 'One try left: tick the box once you are sure, then enter the PINs.'];
    else { sendLicencePins(a, b, Boolean(lastTry)); return; }
    shown = '';
    render(state);
  };
  for (const input of [pin1, pin2]) input.addEventListener('keydown', (event) => { if (event.key === 'Enter') send(); });
  parts.push(el('p', {}, tr('免許証を作ったときに決めた、数字4桁の暗証番号を2つ入力してください。', 'Enter the two 4-digit PINs you chose when the licence was issued.')),
    tries, result, note,
    el('div', { class: 'licence-pins' },
      el('div', {}, el('label', { for: 'licence-pin1' }, tr('暗証番号1', 'PIN 1')), pin1),
      el('div', {}, el('label', { for: 'licence-pin2' }, tr('暗証番号2', 'PIN 2')), pin2)),
    lastTry ? el('label', { class: 'check', id: 'licence-last-try-label' }, lastTry, tr('残り1回です。間違えるとロックされ、警察での解除が必要になります。確かめました。', 'One try left: a wrong PIN blocks it until the police reset it. I am sure.')) : null,
    el('div', {},
      el('button', { type: 'button', id: 'licence-send', class: 'primary', onclick: send }, tr('決定', 'OK')),
      el('button', { type: 'button', id: 'licence-clear', onclick: () => { pin1.value = ''; pin2.value = ''; licenceNote = null; pin1.focus(); } }, tr('消す', 'Clear')),
      decline),
    el('p', { class: 'licence-privacy' }, tr('暗証番号は係員にも郵便局にも見えず、免許証の読み取りにだけ使われます。', 'Neither the clerk nor the post office sees your PINs; they only open your licence.')));
  return el('section', { id: 'licence' }, parts);
}

function render(next) {
  state = next;
  renderFrame(state);
  const screen = document.getElementById('screen');
  document.getElementById('title').textContent = state.procedure ? t(state.procedure) : tr('マイナンバーカードの手続き', 'My Number Card procedures');
  if (state.pin.open && !state.pin.needs_clerk_confirm) {
    const key = JSON.stringify([document.documentElement.lang, state.pin]);
    if (key !== shown || !document.getElementById('pin-dots')) { shown = key; screen.replaceChildren(pinPad()); }
    return;
  }
  if (state.licence) {
    if (!licenceTries && !licenceResult) fetchLicenceTries();
    const key = JSON.stringify([document.documentElement.lang, 'licence', state.licence.verdict, licenceTries, licenceResult, licenceNote, licenceBusy]);
    if (key !== shown || !document.getElementById('licence')) { shown = key; screen.replaceChildren(licenceForm()); }
    return;
  }
  if (licenceTries || licenceResult) resetLicence(); // the clerk closed the licence step: start afresh next time
  if (state.photo_review) {
    const key = JSON.stringify([document.documentElement.lang, 'photo']);
    if (key !== shown || !document.getElementById('photo-approve')) { shown = key; screen.replaceChildren(photoReview()); }
    return;
  }
  if (state.choose_pins) {
    // The card work's form opens afresh each time the agent opens it again (e.g. after a wrong current PIN).
    const attempt = state.pin_choice.attempt ?? null;
    if (attempt !== lastAttempt) { lastAttempt = attempt; resetPinChoice(); shown = ''; }
    const key = JSON.stringify([document.documentElement.lang, 'choose', state.notice, state.pin_choice.notice_error]);
    if (key !== shown || !document.getElementById('pin-choice')) { shown = key; screen.replaceChildren(pinChoice(state.pin_choice, render)); }
    return;
  }
  const work = state.card_work;
  const key = JSON.stringify([document.documentElement.lang, state.progress.current, state.decision, state.ineligible, state.pin, state.reference, work]);
  if (key === shown && screen.childElementCount) return;
  shown = key;
  digits = [];
  resetPinChoice();
  let message;
  if (state.pin.open && state.pin.needs_clerk_confirm) message = tr('残り1回です。係員の確認をお待ちください。', 'One try left. Please wait for the clerk.');
  else if (state.ineligible.length) message = state.ineligible.map(t).join(' ');
  else if (state.progress.current === 'card_work' && work && work.step) message = t(work.step);
  else if (state.progress.current === 'card_work' && work && work.phase === 'done') message = tr('カードへの手続きが終わりました。係員の案内をお待ちください。', 'The card work is done. Please wait for the clerk.');
  else if (state.progress.current === 'card_work') message = tr('係員がカードの手続きを準備しています。', 'The clerk is preparing the card work.');
  else if (state.decision) message = t(state.decision);
  else message = {
    procedure: tr('係員が手続きを準備しています。', 'The clerk is preparing your procedure.'),
    eligibility: tr('係員の質問にお答えください。', 'Please answer the clerk\'s questions.'),
    consents: tr('係員が同意事項を読み上げます。', 'The clerk will read the consents to you.'),
    card: tr('カードをカードリーダーに置いてください。', 'Please place your card on the reader.'),
    queue: tr('市区町村の職員におつなぎしています。しばらくお待ちください。', 'Connecting you to a municipal officer. Please wait.'),
    call: tr('画面の職員の案内に従ってください。', 'Please follow the officer on screen.'),
    decision: tr('職員が確認しています。', 'The officer is checking.'),
    receipt: tr('お手続きが終わりました。', 'Your procedure is complete.'),
  }[state.progress.current] || '';
  // After the procedure, the 受付番号 to quote when asking about it (never the case id).
  const reference = state.progress.current === 'receipt' && state.reference
    ? el('p', { class: 'big', id: 'applicant-reference' }, tr(`受付番号: ${state.reference}`, `Reference: ${state.reference}`)) : null;
  // What was done on the card, by name (never a PIN or a number).
  const done = work && work.done.length && ['card_work', 'receipt'].includes(state.progress.current)
    ? el('ul', { id: 'applicant-done' }, work.done.map((d) => el('li', { 'data-code': d.code }, t(d)))) : null;
  const busy = state.progress.current === 'card_work' && work && work.step ? el('progress', { id: 'applicant-progress' }) : null;
  screen.replaceChildren(...[el('p', { class: 'big', id: 'applicant-message' }, message), busy, done, reference].filter(Boolean));
}

async function poll() {
  try {
    const response = await fetch('/api/applicant/state', { credentials: 'same-origin' });
    if (response.ok) render(await response.json());
  } catch { /* retry on the next tick */ }
  setTimeout(poll, 700);
}

const officer = startOfficerPanel(document.getElementById('officer'));
setupLang(() => { shown = ''; officer.refresh(); if (state) render(state); });
poll();
