// The lobby terminal: one screen per step, drawn from /api/kiosk/state. Touch only; no external code.
import { el, post, setupLang, t, tr } from './common.js';

let state = null;
let pin = '';
let choice = { kind: null, count: 1, scope: null, options: [] };
let lastTouch = 0;

const screen = document.getElementById('screen');

async function refresh() {
  const response = await fetch('/api/kiosk/state', { credentials: 'same-origin' });
  if (response.ok) render(await response.json());
}

async function send(path, body, raw = false) {
  const answer = await post(path, body, raw);
  if (answer) render(answer);
  else await refresh();
}

function touched() {
  const now = Date.now();
  if (now - lastTouch > 5000) {
    lastTouch = now;
    post('/api/kiosk/touch', {});
  }
}

function yen(amount) {
  return tr(`${amount.toLocaleString('ja-JP')}円`, `¥${amount.toLocaleString('en-US')}`);
}

function progress(view) {
  document.getElementById('progress').replaceChildren(
    ...view.progress.steps.map((label, i) =>
      el('li', { class: i < view.progress.index ? 'done' : i === view.progress.index ? 'current' : '' }, t(label))),
  );
}

function big(text) {
  return el('p', { class: 'big' }, text);
}

function chooseScreen(view) {
  const kinds = view.kinds || [];
  const offer = kinds.find((k) => k.kind === choice.kind);
  const list = el('div', { class: 'kinds' }, kinds.map((k) =>
    el('button', {
      type: 'button', class: k.kind === choice.kind ? 'kind selected' : 'kind', 'data-kind': k.kind,
      onclick: () => { choice = { kind: k.kind, count: 1, scope: k.scopes.length ? k.scopes[0].scope : null, options: [] }; render(state); },
    }, el('span', {}, t(k.label)), el('span', { class: 'fee' }, yen(k.fee_yen)))));
  const parts = [el('h2', {}, t(view.title)), list];
  if (offer) {
    const count = el('div', { class: 'row' },
      el('span', {}, tr('通数', 'Copies')),
      el('button', { type: 'button', id: 'count-minus', onclick: () => { choice.count = Math.max(1, choice.count - 1); render(state); } }, '−'),
      el('output', { id: 'count' }, String(choice.count)),
      el('button', { type: 'button', id: 'count-plus', onclick: () => { choice.count = Math.min(offer.max_count, choice.count + 1); render(state); } }, '+'));
    parts.push(count);
    if (offer.scopes.length) {
      parts.push(el('div', { class: 'row' }, offer.scopes.map((s) =>
        el('button', { type: 'button', class: s.scope === choice.scope ? 'toggle on' : 'toggle', 'data-scope': s.scope,
          onclick: () => { choice.scope = s.scope; render(state); } }, t(s.label)))));
    }
    if (offer.options.length) {
      parts.push(el('div', { class: 'row' },
        el('span', {}, tr('記載する事項', 'Also show')),
        offer.options.map((o) => {
          const on = choice.options.includes(o.option);
          return el('button', { type: 'button', class: on ? 'toggle on' : 'toggle', 'data-option': o.option, 'aria-pressed': on ? 'true' : 'false',
            onclick: () => { choice.options = on ? choice.options.filter((x) => x !== o.option) : [...choice.options, o.option]; render(state); } }, t(o.label));
        })));
    }
    parts.push(el('p', { class: 'total' }, tr(`手数料 ${yen(offer.fee_yen * choice.count)}（窓口でお支払いください）`,
      `Fee ${yen(offer.fee_yen * choice.count)} (paid at the counter)`)));
  }
  parts.push(el('div', { class: 'actions' },
    el('button', { type: 'button', id: 'cancel', class: 'secondary', onclick: () => send('/api/kiosk/cancel', {}) }, tr('やめる', 'Cancel')),
    el('button', { type: 'button', id: 'next', disabled: !offer, onclick: () => send('/api/kiosk/choose', choice) }, tr('次へ', 'Next'))));
  return parts;
}

function pinScreen(view) {
  const dots = el('div', { class: 'dots', id: 'pin-dots' }, [0, 1, 2, 3].map((i) => el('span', { class: i < pin.length ? 'dot on' : 'dot' })));
  const key = (digit) => el('button', { type: 'button', class: 'key', 'data-digit': digit,
    onclick: () => { if (pin.length < 4) { pin += digit; render(state); } } }, digit);
  const pad = el('div', { class: 'pad' }, ['1', '2', '3', '4', '5', '6', '7', '8', '9'].map(key),
    el('button', { type: 'button', class: 'key secondary', id: 'pin-clear', onclick: () => { pin = ''; render(state); } }, tr('訂正', 'Clear')),
    key('0'),
    el('button', { type: 'button', class: 'key ok', id: 'pin-ok', disabled: pin.length !== 4, onclick: () => {
      const digits = new TextEncoder().encode(pin);
      pin = '';
      send('/api/kiosk/pin', digits, true);
    } }, tr('確定', 'OK')));
  const tries = view.pin_retries == null ? null
    : el('p', { class: 'tries', id: 'pin-tries' }, tr(`残り${view.pin_retries}回`, `${view.pin_retries} tries left`));
  return [el('h2', {}, t(view.title)), el('p', {}, tr('利用者証明用電子証明書の暗証番号です。', 'The PIN of the user-authentication certificate.')),
    tries, dots, pad,
    el('div', { class: 'actions' }, el('button', { type: 'button', id: 'cancel', class: 'secondary', onclick: () => { pin = ''; send('/api/kiosk/cancel', {}); } }, tr('やめる', 'Cancel')))];
}

function takeCard() {
  return el('p', { class: 'alarm', id: 'take-card' }, tr('カードをお取りください', 'Please take your card'));
}

function receiptScreen(view) {
  const r = view.receipt;
  const facts = el('dl', { class: 'receipt', id: 'receipt' },
    el('dt', {}, tr('受付番号', 'Receipt number')), el('dd', { class: 'number', id: 'receipt-number' }, r.receipt_number),
    el('dt', {}, tr('証明書', 'Certificate')), el('dd', {}, `${t(r.kind)} × ${r.count}`),
    el('dt', {}, tr('手数料', 'Fee')), el('dd', {}, yen(r.fee_yen)));
  const slip = r.slip_printed ? tr('レシートをお取りください。', 'Take the receipt.') : t(r.slip_problem);
  return [el('h2', {}, t(view.title)), facts, big(slip), takeCard()];
}

let beeping = null;
function alarm(on) {
  // A chime every 1.5 s until the card leaves the reader; silent if the browser blocks audio.
  if (on && !beeping) {
    beeping = setInterval(() => {
      try {
        const context = new AudioContext();
        const tone = context.createOscillator();
        tone.frequency.value = 880;
        tone.connect(context.destination);
        tone.start();
        tone.stop(context.currentTime + 0.25);
      } catch (e) { /* no audio device */ }
    }, 1500);
  } else if (!on && beeping) {
    clearInterval(beeping);
    beeping = null;
  }
}

function render(view) {
  if (state && state.step !== view.step) pin = '';
  if (view.step !== 'choose') choice = view.step === 'pin' || view.step === 'working' ? choice : { kind: null, count: 1, scope: null, options: [] };
  state = view;
  document.body.dataset.step = view.step;
  progress(view);
  const notice = document.getElementById('notice');
  notice.hidden = !view.notice;
  notice.textContent = view.notice ? t(view.notice) : '';
  notice.dataset.code = view.notice_code || '';
  let parts;
  if (view.step === 'choose') parts = chooseScreen(view);
  else if (view.step === 'pin') parts = pinScreen(view);
  else if (view.step === 'receipt') parts = receiptScreen(view);
  else if (view.step === 'refused') parts = [el('h2', {}, t(view.title)), big(t(view.refusal)), takeCard()];
  else if (view.step === 'take_card') parts = [takeCard()];
  else if (view.step === 'working') parts = [el('h2', {}, t(view.title)), el('div', { class: 'spinner' })];
  else {
    parts = [el('h2', {}, t(view.title)), el('div', { class: 'card-slot' })];
    if (view.unprinted_receipt) parts.push(el('p', { class: 'big', id: 'unprinted' }, `${tr('受付番号', 'Receipt number')} ${view.unprinted_receipt}`));
  }
  screen.replaceChildren(...parts.filter(Boolean));
  alarm(['receipt', 'refused', 'take_card'].includes(view.step));
}

document.addEventListener('pointerdown', touched);
setupLang(() => state && render(state));
refresh();
setInterval(refresh, 500);
