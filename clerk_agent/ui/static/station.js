// The clerk's print station: scan → print → fee → hand over. No external code.
import { el, post, setupLang, t, tr } from './common.js';

let state = null;
const ACTIONS = {
  print: ['/api/station/print', ['印刷する', 'Print']],
  reprint: ['/api/station/print', ['再印刷する（手数料は1回のみ）', 'Reprint (fee once only)']],
  fee: ['/api/station/fee', ['手数料を受け取った', 'Fee received']],
  hand_over: ['/api/station/hand-over', ['交付した', 'Handed over']],
  next: ['/api/station/next', ['次のレシート', 'Next receipt']],
};

function yen(amount) {
  return tr(`${amount.toLocaleString('ja-JP')}円`, `¥${amount.toLocaleString('en-US')}`);
}

async function act(path, body) {
  for (const button of document.querySelectorAll('button')) button.disabled = true;
  const answer = await post(path, body);
  for (const button of document.querySelectorAll('button')) button.disabled = false;
  if (answer) render(answer);
  else refresh();
}

function render(view) {
  state = view;
  const notice = document.getElementById('notice');
  notice.hidden = !view.notice;
  notice.textContent = view.notice ? t(view.notice) : '';
  notice.dataset.code = view.notice_code || '';
  const job = view.job;
  document.body.dataset.state = job ? job.state : '';
  document.getElementById('job').hidden = !job;
  if (!job) return;
  document.getElementById('job-facts').replaceChildren(
    el('dt', {}, tr('受付番号', 'Receipt number')), el('dd', { class: 'ref', id: 'job-receipt' }, job.receipt_number),
    el('dt', {}, tr('状態', 'State')), el('dd', { id: 'job-state' }, t(job.state_label)),
    el('dt', {}, tr('証明書', 'Certificate')), el('dd', {}, `${t(job.kind)} × ${job.count}`),
    el('dt', {}, tr('手数料', 'Fee')), el('dd', { id: 'job-fee' }, `${yen(job.fee_yen)}${job.fee_paid_yen ? tr('（受領済み）', ' (received)') : ''}`),
    el('dt', {}, tr('再印刷', 'Reprints')), el('dd', {}, String(job.reprints)),
  );
  document.getElementById('actions').replaceChildren(...view.actions.map((name) =>
    el('button', { type: 'button', id: `action-${name}`, class: name === 'next' ? 'secondary' : '', onclick: () => act(ACTIONS[name][0]) },
      tr(...ACTIONS[name][1]))));
}

async function refresh() {
  const response = await fetch('/api/station/state', { credentials: 'same-origin' });
  if (response.ok) render(await response.json());
}

document.getElementById('scan-typed').addEventListener('click', () => {
  const input = document.getElementById('receipt-input');
  act('/api/station/scan', { receipt_number: input.value });
  input.value = '';
});
document.getElementById('scan-camera').addEventListener('click', () => act('/api/station/scan-camera', {}));
setupLang(() => state && render(state));
refresh();
