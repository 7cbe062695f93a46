// The wrap-up countdown (後処理の残り時間). After an officer's decision the hub sets the officer's `wrapup_until`
// (service/queue: officer_wrapup_seconds) and offers them no case until then; the console shows how long is left,
// on the done screen and, if the officer goes back early, on the queue screen — otherwise a quiet queue looks
// broken. The time comes from the hub's queue overview (the officer's own row), counted on the hub's clock.
import { api, hubNow, session } from "./api.js";
import { $, show } from "./dom.js";
import { t, onLangChange } from "./i18n.js";

let until = 0; // hub time (ms) the wrap-up ends; 0 = none known
let total = 1;
let timer = 0;

// The skew estimate is only good to a second: never more left than the hub's wrap-up itself.
function msLeft() {
  return Math.max(0, Math.min(total, until - hubNow()));
}

function secondsLeft() {
  // Whole seconds as configured (the hub stamps the decision a few ms before it starts the wrap-up).
  return Math.min(Math.round(total / 1000), Math.ceil(msLeft() / 1000));
}

function render() {
  const left = secondsLeft();
  const running = until > 0 && left > 0;
  show("wrapup", running);
  show("queue-wrapup", running);
  show("wrapup-over", until > 0 && !running);
  if (running) {
    $("wrapup-left").textContent = String(left);
    $("wrapup-progress").value = (msLeft() / total) * 100;
    $("queue-wrapup").textContent = t("wrapup_queue", { seconds: left });
  } else {
    window.clearInterval(timer);
    timer = 0;
  }
}

/** After a decision (`decided`, the case as the hub returned it): ask the hub when this officer's wrap-up ends
 * and count down to it. */
export async function startWrapup(decided) {
  stopWrapup();
  const me = session();
  if (!me) return;
  let overview;
  try {
    overview = await api.get("/api/v1/queue");
  } catch {
    return; // no countdown is better than a wrong one; the queue still works
  }
  const row = (overview.officers || []).find((officer) => officer.account_id === me.account_id);
  const end = row && row.wrapup_until ? new Date(row.wrapup_until).getTime() : 0;
  if (!end) return;
  // It began when the decision moved the case on (state_entered_at), both on the hub's clock.
  const began = decided && decided.state_entered_at ? new Date(decided.state_entered_at).getTime() : hubNow();
  until = end;
  total = Math.max(1000, end - began);
  render();
  if (secondsLeft() > 0) timer = window.setInterval(render, 250);
}

/** Forget the countdown (logout, or a new case). */
export function stopWrapup() {
  window.clearInterval(timer);
  timer = 0;
  until = 0;
  show("wrapup", false);
  show("queue-wrapup", false);
  show("wrapup-over", false);
}

onLangChange(() => {
  if (until) render();
});
