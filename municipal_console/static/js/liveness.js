// The liveness challenge of the live check: the hub draws a phrase and a gesture, the officer asks the applicant
// for them and records whether they were done; the review then counts it.
import { api } from "./api.js";
import { $, show, busy, guard } from "./dom.js";
import { t } from "./i18n.js";

/** `path(suffix)` is the open case's API path; `changed()` reloads the review after each step. */
export function createLiveness({ path, changed }) {
  let challenge = null;

  function render() {
    if (!challenge) return;
    $("liveness-phrase").textContent = challenge.phrase_ja;
    $("liveness-phrase-en").textContent = challenge.phrase_en;
    $("liveness-gesture").textContent = challenge.gesture_ja;
    $("liveness-gesture-en").textContent = challenge.gesture_en;
    show("liveness-current", true);
  }

  async function draw() {
    challenge = await busy($("liveness-new"), t("loading"), () => api.post(path("/liveness-challenges")));
    render();
    $("liveness-passed").focus();
    await changed();
  }

  async function record(passed) {
    if (!challenge) return;
    const id = challenge.id;
    await busy(null, t("loading"), () =>
      api.post(path(`/liveness-challenges/${encodeURIComponent(id)}/result`), { passed }),
    );
    challenge = null;
    show("liveness-current", false);
    await changed();
    $("liveness-new").focus();
  }

  /** A new case: no challenge drawn. */
  function reset() {
    challenge = null;
    show("liveness-current", false);
    $("liveness-list").replaceChildren();
  }

  $("liveness-new").addEventListener("click", guard(draw));
  $("liveness-passed").addEventListener("click", guard(() => record(true)));
  $("liveness-failed").addEventListener("click", guard(() => record(false)));

  return { reset };
}
