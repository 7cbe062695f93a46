// The clerk's card-work step after the approval (docs/card-procedures.md): choose the work, follow its progress,
// reset a PIN found locked, close with the 交付通知. Every phase has a way out; the PINs are the applicant's screen's.
import { el, t, tr } from './common.js';

let kind = null; // which form the clerk has open on an e-certificate case: 'ecert' | 'pin'

const REQUESTER = [
  ['holder', 'ご本人', 'The holder in person'],
  ['proxy', '代理人（任意代理人）', 'A proxy'],
  ['legal_representative', '法定代理人が本人に代わって', 'A legal representative, for the holder'],
];
const ECERT_QUESTIONS = [
  ['under_15', '15歳未満の方ですか', 'Is the holder under 15?'],
  ['adult_ward', '成年被後見人の方ですか', 'Is the holder an adult ward?'],
  ['basic4_changed', '証明書の発行後に氏名・住所・生年月日・性別の変更がありましたか', 'Did the name, address, birth date or sex change since issue?'],
];

function radios(name, options, onChange) {
  return options.map(([value, ja, en]) => {
    const input = el('input', { type: 'radio', name, id: `${name}-${value}`, value });
    input.addEventListener('change', onChange);
    return el('label', { class: 'choice' }, input, tr(ja, en));
  });
}

function chosen(name) {
  const input = document.querySelector(`input[name="${name}"]:checked`);
  return input ? input.value : null;
}

function requesterPart(onChange) {
  return el('fieldset', { class: 'yesno', id: 'cw-requester' }, el('legend', {}, tr('手続きをされる方', 'Who is asking')), radios('cw-requester', REQUESTER, onChange));
}

function ecertForm(w, ui) {
  const certs = w.choices.certificates.map((c) => {
    const box = el('input', { type: 'checkbox', id: `cw-cert-${c.key}`, value: c.key });
    box.addEventListener('change', ui.editing);
    return el('label', { class: 'choice' }, box, t(c));
  });
  const rows = ECERT_QUESTIONS.map(([key, ja, en]) => el('fieldset', { class: 'yesno', 'data-question': key }, el('legend', {}, tr(ja, en)),
    radios(`cw-${key}`, [['yes', 'はい', 'Yes'], ['no', 'いいえ', 'No']], ui.editing)));
  const error = el('p', { id: 'cw-error', class: 'bad', role: 'alert', hidden: true }, tr('すべての項目を選んでください。', 'Answer every item.'));
  const submit = () => {
    const certificates = w.choices.certificates.map((c) => c.key).filter((k) => document.getElementById(`cw-cert-${k}`).checked);
    const requester = chosen('cw-requester');
    const answers = Object.fromEntries(ECERT_QUESTIONS.map(([key]) => [key, chosen(`cw-${key}`)]));
    if (!certificates.length || !requester || Object.values(answers).includes(null)) { error.hidden = false; return; }
    ui.act('/api/card-work/ecert', { certificates, requester, ...Object.fromEntries(Object.entries(answers).map(([k, v]) => [k, v === 'yes'])) });
  };
  return el('section', { id: 'cw-ecert' },
    el('div', { class: 'cw-grid' },
      el('fieldset', { class: 'yesno', id: 'cw-certificates' }, el('legend', {}, tr('ご希望の証明書', 'Certificates asked for')), certs),
      rows),
    error,
    ui.button('cw-ecert-submit', tr('内容を確認して進む', 'Check and continue'), submit, 'primary'));
}

function pinForm(w, ui) {
  const pins = w.choices.pins.map((p) => [p.key, `${p.label.ja}（${p.rule.ja}）`, `${p.label.en} (${p.rule.en})`]);
  const error = el('p', { id: 'cw-pin-error', class: 'bad', role: 'alert', hidden: true }, tr('暗証番号の種類、変更か初期化か、手続きをされる方を選んでください。', 'Choose the PIN, change or reset, and who is asking.'));
  const submit = () => {
    const pin = chosen('cw-pin');
    const mode = chosen('cw-mode');
    const requester = chosen('cw-requester');
    if (!pin || !mode || !requester) { error.hidden = false; return; }
    ui.act('/api/card-work/pin', { pin, mode, requester });
  };
  return el('section', { id: 'cw-pin' },
    el('div', { class: 'cw-grid' },
      el('fieldset', { class: 'yesno cw-list', id: 'cw-pins' }, el('legend', {}, tr('どの暗証番号ですか', 'Which PIN')), radios('cw-pin', pins, ui.editing)),
      el('fieldset', { class: 'yesno cw-list', id: 'cw-modes' }, el('legend', {}, tr('変更か初期化か', 'Change or reset')),
        radios('cw-mode', [['change', '変更（現在の暗証番号がわかる）', 'Change (the current PIN is known)'], ['reset', '初期化（忘れた・ロックされた）', 'Reset (forgotten or locked)']], ui.editing))),
    error,
    ui.button('cw-pin-submit', tr('内容を確認して進む', 'Check and continue'), submit, 'primary'));
}

function doneList(w) {
  return w.done.length ? el('ul', { id: 'cw-done', class: 'ok' }, w.done.map((d) => el('li', { 'data-code': d.code }, t(d)))) : null;
}

export function cardWorkView(c, s, ui) {
  const w = s.card_work;
  const approved = w.phase === 'choose' && !w.done.length ? el('span', { class: 'cw-sub' }, tr('（本人確認は承認されました。手続きを選んでください）', ' (identity approved; choose the work)')) : null;
  const parts = [el('h2', {}, tr('カードの手続き', 'Card work'), approved), doneList(w)];
  const cancel = ui.button('cw-cancel', tr('やめて選び直す', 'Stop and choose again'), () => ui.act('/api/card-work/cancel'));
  const finish = ui.button('close', w.done.length ? tr('完了して交付通知を印刷へ', 'Finish and print the notice') : tr('カードの手続きをせずに終える', 'End without card work'),
    () => ui.act('/api/close'), w.done.length ? 'primary' : '');
  if (w.phase === 'choose') {
    // An e-certificate case may also change or reset a PIN: one form at a time, switched by two buttons.
    const open = c.procedure === 'ecert_issue_renew' ? (kind || 'ecert') : 'pin';
    if (c.procedure === 'ecert_issue_renew') {
      const pick = (k) => () => { kind = k; ui.redraw(); };
      parts.push(el('div', { class: 'cw-kinds', role: 'group' },
        ui.button('cw-kind-ecert', tr('電子証明書の発行・更新', 'E-certificate issue or renewal'), pick('ecert'), open === 'ecert' ? 'primary' : ''),
        ui.button('cw-kind-pin', tr('暗証番号の変更・初期化', 'PIN change or reset'), pick('pin'), open === 'pin' ? 'primary' : '')));
    }
    parts.push(requesterPart(ui.editing), open === 'ecert' ? ecertForm(w, ui) : pinForm(w, ui), finish);
  } else if (w.phase === 'planning' || w.phase === 'working') {
    parts.push(el('p', { id: 'cw-step', class: 'big', 'aria-live': 'polite' }, w.step ? t(w.step) : tr('処理しています…', 'Working…')), el('progress', { id: 'cw-progress' }));
    if (w.certificates.length) parts.push(planList(w));
    if (w.phase === 'planning') parts.push(cancel);
  } else if (w.phase === 'pin_entry') {
    parts.push(el('p', { id: 'cw-pin-entry', class: 'big' }, tr(`お客さま画面で「${w.pin.label.ja}」を入力していただいてください（係員は見ません）。`, `Ask the applicant to type the ${w.pin.label.en} on their screen (the clerk does not see it).`)));
    if (w.pin_retries != null) parts.push(el('p', { id: 'cw-tries' }, tr(`現在の暗証番号の残り回数: ${w.pin_retries}回`, `Tries left for the current PIN: ${w.pin_retries}`)));
    parts.push(cancel);
  } else if (w.phase === 'locked') {
    parts.push(el('p', { id: 'cw-locked', class: 'bad big' }, tr(`「${w.locked.label.ja}」がロックされています。`, `The ${w.locked.label.en} is locked.`)),
      el('p', {}, w.resuming ? tr('この場で初期化（再設定）してから、電子証明書の手続きを続けられます。', 'It can be reset now; the e-certificate work then goes on.')
        : tr('現在の暗証番号では変更できません。この場で初期化（再設定）できます。', 'It cannot be changed with the current PIN; it can be reset now.')),
      ui.button('cw-reset-locked', tr('この暗証番号を初期化する', 'Reset this PIN'), () => ui.act('/api/card-work/reset-locked'), 'primary'), cancel);
  } else if (w.phase === 'done') {
    parts.push(el('p', { id: 'cw-result', class: 'ok big' }, tr('カードへの手続きが完了しました。', 'The card work is done.')),
      ui.button('cw-more', tr('ほかの手続きも行う', 'Do more card work'), () => ui.act('/api/card-work/cancel')), finish);
  } else if (w.phase === 'failed') {
    parts.push(el('p', { id: 'cw-failed', class: 'bad big' }, tr('カードへの手続きを行えませんでした。', 'The card work could not be done.')),
      ui.button('cw-retry', tr('選び直す', 'Choose again'), () => ui.act('/api/card-work/cancel'), 'primary'), finish);
  }
  return el('section', { id: 'card-work', 'data-phase': w.phase }, parts);
}

function planList(w) {
  return el('ul', { id: 'cw-plan' }, w.certificates.map((p) => el('li', { 'data-certificate': p.certificate, 'data-action': p.action }, `${t(p.label)}: ${t(p.reason)}`)));
}

// A new case starts on the first form again.
export function resetCardWork() { kind = null; }
