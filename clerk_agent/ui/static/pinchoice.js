// The new card's PINs (暗証番号設定依頼): one PIN at a time, typed twice on a large on-screen keypad.
// The rules and their messages come from the agent, which checks every PIN again when they are sent
// (clerk_agent/flows/pinchoice.py). A refused PIN is the only one cleared; the others stay as typed.
import { el, post, t, tr } from './common.js';

let step = 0; // which PIN is on screen
let active = 0; // 0: the first entry, 1: the confirmation
let entries = {}; // key -> [first, again], arrays of characters, wiped once sent
let error = null; // {ja, en} shown next to the field
let sent = false;
let root = null;

const LETTERS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ'.split('');
const DIGITS = ['1', '2', '3', '4', '5', '6', '7', '8', '9'];

function wipe(list) { list.fill('0'); list.length = 0; }
function pair(key) { if (!entries[key]) entries[key] = [[], []]; return entries[key]; }
function clearField(key) { for (const list of pair(key)) wipe(list); }
function wipeAll() { for (const key of Object.keys(entries)) clearField(key); entries = {}; }

function check(field) {
  const [first, again] = pair(field.key);
  if (!new RegExp(field.pattern).test(first.join(''))) return field.errors.rule;
  if (field.once) return null; // typed once: the current PIN, checked by the card itself
  if (first.join('') !== again.join('')) return field.errors.mismatch;
  return null;
}

async function send(view, onNext) {
  const fields = view.fields;
  const lines = fields.flatMap((f) => pair(f.key).slice(0, f.once ? 1 : 2).map((list) => list.join('')));
  const body = new TextEncoder().encode(lines.join('\n'));
  lines.fill('');
  // The card work's form (docs/card-procedures.md) names its own endpoint; the new card's PINs use the default.
  const next = await post(view.endpoint || '/api/applicant/pin-request', body, true);
  body.fill(0);
  const refused = next && next.pin_choice ? next.pin_choice.error : null;
  if (!next) {
    error = { ja: '送れませんでした。もう一度「設定する」を押してください。', en: 'It could not be sent. Please press "Set" again.' };
  } else if (refused) {
    const index = fields.findIndex((f) => f.key === refused.field);
    if (index < 0) { wipeAll(); step = 0; } else { clearField(refused.field); step = index; }
    active = 0;
    error = refused;
  } else {
    wipeAll();
    sent = true;
    error = null;
  }
  redraw(next ? next.pin_choice || view : view, onNext);
  if (next) onNext(next);
}

// Laid out as the PIN pad of the card check (applicant.js): digits, 消す and the button that goes on, in one grid;
// the signing password's letters join the same grid.
function keypad(field, onKey, next) {
  const key = (k, label = k, attrs = {}) => el('button', { type: 'button', 'data-key': k, onclick: () => onKey(k), ...attrs }, label);
  const clear = key('clear', tr('消す', 'Clear'), { id: 'pc-clear' });
  if (!field.letters) return el('div', { class: 'pinpad' }, DIGITS.map((d) => key(d)), clear, key('0'), next);
  return el('div', { class: 'pc-alnum' }, DIGITS.map((d) => key(d)), key('0'), LETTERS.map((c) => key(c)), clear, next);
}

function build(view, onNext) {
  if (sent) {
    return el('section', { id: 'pin-choice' },
      el('p', { class: 'big', id: 'pin-choice-done' }, view.done_text ? t(view.done_text) : tr('暗証番号を受け付けました。係員の案内をお待ちください。', 'Your PINs are accepted. Please wait for the clerk.')));
  }
  const fields = view.fields;
  const field = fields[step];
  const [first, again] = pair(field.key);
  const inputs = (field.once ? [first] : [first, again]).map((list, i) => el('input', {
    id: i === 0 ? `pc-${field.key}` : `pc-${field.key}-again`,
    type: 'password', class: i === active ? 'pc-entry active' : 'pc-entry', maxlength: String(field.max),
    autocomplete: 'off', inputmode: 'none', 'aria-label': tr(i === 0 ? `${field.label.ja}（1回目）` : `${field.label.ja}（確認）`, i === 0 ? field.label.en : `${field.label.en} (again)`),
  }));
  const show = () => inputs.forEach((input, i) => {
    input.value = [first, again][i].join('');
    input.classList.toggle('active', i === active);
  });
  inputs.forEach((input, i) => {
    input.addEventListener('focus', () => { active = i; show(); });
    input.addEventListener('input', () => { // a physical keyboard also works
      const list = [first, again][i];
      wipe(list);
      list.push(...input.value.toUpperCase().replace(field.letters ? /[^A-Z0-9]/g : /[^0-9]/g, '').slice(0, field.max).split(''));
      show();
    });
  });
  const onKey = (k) => {
    const list = [first, again][active];
    if (k === 'clear') wipe(list);
    else if (list.length < field.max) list.push(k);
    if (active === 0 && !field.letters && !field.once && list.length === field.max) active = 1;
    show();
  };
  show();
  const last = step === fields.length - 1;
  // An error the agent found after the form was sent (e.g. the card refused the current PIN) shows on its field.
  const late = view.notice_error && view.notice_error.field === field.key ? view.notice_error : null;
  const shownError = error || late;
  const next = el('button', { type: 'button', class: 'primary', id: last ? 'pin-choice-send' : 'pc-next', onclick: () => {
    const wrong = check(field);
    if (wrong) { clearField(field.key); active = 0; error = wrong; redraw(view, onNext); return; }
    error = null;
    if (last) { send(view, onNext); return; }
    step += 1;
    active = 0;
    redraw(view, onNext);
  } }, last ? tr('設定', 'Set') : tr('次へ', 'Next'));
  const back = step > 0 ? el('button', { type: 'button', id: 'pc-back', onclick: () => { step -= 1; active = 0; error = null; redraw(view, onNext); } }, tr('戻る', 'Back')) : null;
  return el('section', { id: 'pin-choice', 'data-field': field.key },
    el('h2', { class: 'pc-field' }, el('span', { class: 'pc-step' }, `${step + 1}／${fields.length}　`), t(field.label),
      el('span', { class: 'pc-rule' }, tr(`（${field.rule.ja}）`, ` (${field.rule.en})`))),
    el('div', { class: 'pc-body' },
      el('div', { class: 'pc-entries' },
        el('label', {}, field.once ? tr('入力', 'Entry') : tr('1回目', 'First entry'), inputs[0]),
        field.once ? null : el('label', {}, tr('確認のため、もう一度', 'Again, to confirm'), inputs[1]),
        shownError ? el('p', { id: 'pc-error', class: 'bad', role: 'alert' }, t(shownError)) : null,
        back),
      keypad(field, onKey, next)),
    view.intro ? el('p', { id: 'pc-intro' }, t(view.intro)) : null,
    el('p', {}, view.privacy ? t(view.privacy) : tr('新しいカードの暗証番号を決めてください。暗証番号は暗号化され、市区町村だけが開けます。',
      'Choose the PINs of your new card. They are encrypted; only the municipality can open them.')));
}

function redraw(view, onNext) {
  const fresh = build(view, onNext);
  if (root && root.isConnected) root.replaceWith(fresh);
  root = fresh;
}

// The form for `view` (the applicant state's pin_choice); typed PINs survive a redraw (e.g. a language change).
export function pinChoice(view, onNext) {
  root = build(view, onNext);
  return root;
}

// A new case starts the form afresh.
export function resetPinChoice() {
  wipeAll();
  step = 0;
  active = 0;
  error = null;
  sent = false;
}
