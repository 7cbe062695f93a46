// The applicant's screen: where they are, plain messages, and the PIN pad (the PIN goes to the agent once).
import { el, post, renderFrame, setupLang, t, tr } from './common.js';
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
