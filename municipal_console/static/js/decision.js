// The decision form of the live check: approve, reject, refer to the counter or abort, with the reason codes the
// hub accepts for each (contract.js, generated from service/wire) and the officer's explicit attestation.
import { api, ApiError } from "./api.js";
import { $, el, showError, busy, guard } from "./dom.js";
import { t, label } from "./i18n.js";
import { HOLD_ON_DECISION, OFFICER_FLAGS, REASONS } from "./contract.js";

// The form's action values are the endpoint names ("refer-to-counter"); the contract names actions with "_".
const reasonsFor = (action) => REASONS[action.replaceAll("-", "_")] ?? [];

/**
 * `path(suffix)` is the open case's API path and `current()` its CaseRead; `notes` flags the case; `refresh()`
 * reloads the case after a refusal; `decided(caseRead)` leaves the live check.
 */
export function createDecisionForm({ path, current, notes, refresh, decided }) {
  function renderReasons() {
    const action = $("decision").querySelector("input[name=action]:checked");
    const select = $("decision-reason");
    const codes = action ? reasonsFor(action.value) : [];
    const previous = select.value;
    if (action && codes.length === 0) {
      select.replaceChildren(el("option", { value: "", text: t("no_reason_needed") }));
      select.disabled = true;
      return;
    }
    select.replaceChildren(
      el("option", { value: "", text: t("choose") }),
      ...codes.map((code) => el("option", { value: code, text: label("reason", code) })),
    );
    select.disabled = !action;
    if (codes.includes(previous)) select.value = previous;
  }

  /** 承認 only once the review is complete (the hub refuses it otherwise too); the missing list says why. */
  function setReady(ready) {
    const approve = $("decision-approve");
    approve.disabled = !ready;
    if (approve.disabled && approve.checked) {
      approve.checked = false;
      renderReasons();
    }
  }

  async function decide(event) {
    event.preventDefault();
    const action = $("decision").querySelector("input[name=action]:checked");
    if (!action) {
      showError(t("decision_need_action"), $("decision-submit"));
      $("decision-approve").focus();
      return;
    }
    const reason = $("decision-reason").value;
    if (reasonsFor(action.value).length && !reason) {
      showError(t("decision_need_reason"), $("decision-submit"));
      $("decision-reason").focus();
      return;
    }
    if (!$("decision-attest").checked) {
      showError(t("decision_need_attest"), $("decision-submit"));
      $("decision-attest").focus();
      return;
    }
    const body = { attested: true, expected_version: current().version };
    if (reason) body.reason_code = reason;
    // A certificate request names the resident record the officer confirmed; the hub issues from it.
    if (action.value === "approve" && current().certificate) {
      const resident = $("decision-resident").value.trim();
      if (!resident) {
        showError(t("decision_need_resident"), $("decision-submit"));
        $("decision-resident").focus();
        return;
      }
      body.resident_id = resident;
    }
    try {
      // Rejecting for suspected impersonation flags the case first: its evidence is held before anything else.
      if (HOLD_ON_DECISION.includes(reason) && OFFICER_FLAGS.includes(reason) && notes.canFlag()) {
        notes.flaggedBy(await api.post(path("/legal-hold"), { reason_code: reason }));
      }
      const result = await busy($("decision-submit"), t("decision_sending"), () =>
        api.post(path(`/${action.value}`), body),
      );
      decided(result);
    } catch (err) {
      if (err instanceof ApiError && err.code === "version_conflict") {
        // The counter moved the case on since the last poll (e.g. documents shown): show what changed and let the
        // officer look again before sending — the decision is never resent behind their back.
        await refresh().catch(() => undefined);
        const now = current();
        showError(t("decision_conflict", { state: now ? label("state", now.state) : "—" }), $("decision-submit"));
        return;
      }
      showError(err, $("decision-submit"));
      await refresh().catch(() => undefined);
    }
  }

  /** A new case: nothing chosen. */
  function reset() {
    $("decision").reset();
    renderReasons();
  }

  $("decision").addEventListener("submit", guard(decide));
  $("decision").addEventListener("change", (event) => {
    if (event.target.name === "action") renderReasons();
  });

  return { reset, setReady, relabel: renderReasons };
}
