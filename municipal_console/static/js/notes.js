// Notes and flags of the live check: the officer's notes on the case, and flagging it (suspected impersonation,
// coercion), which holds its evidence at once and lists it for the supervisor (docs/domain.md §B7).
import { api } from "./api.js";
import { $, el, phrase, show, status, showError, busy, guard, timeOf } from "./dom.js";
import { t, label } from "./i18n.js";
import { OFFICER_FLAGS } from "./contract.js";

/** `path(suffix)` is the open case's API path; `isOpen()` says whether a case is still open. */
export function createNotes({ path, isOpen }) {
  let shown = [];
  let flagged = null; // the hold this screen set, re-worded on a language switch

  // The reasons an officer may flag with, as the contract lists them (labels follow the language switch).
  $("flag-reason").replaceChildren(
    ...OFFICER_FLAGS.map((code) =>
      el("option", { value: code, text: label("hold", code), dataset: { i18n: `hold_${code}` } }),
    ),
  );

  async function load() {
    if (!isOpen()) return;
    render(await api.get(path("/notes")));
  }

  function render(notes) {
    shown = notes;
    $("notes-list").replaceChildren(
      ...notes.map((note) =>
        el(
          "li",
          { dataset: { note: note.id } },
          el(
            "p",
            { className: "muted small" },
            ...phrase("note_meta", { time: timeOf(note.created_at), author: note.author_name || note.author_id }, ["author"]),
          ),
          // What the officer wrote is data (data-value); the purge notice is the console's words.
          note.purged
            ? el("p", { className: "note-text", text: t("note_purged") })
            : el("p", { className: "note-text", text: note.text, dataset: { value: "" } }),
        ),
      ),
    );
  }

  async function save(event) {
    event.preventDefault();
    const text = $("note-text").value.trim();
    if (!text) {
      showError(t("note_need_text"));
      $("note-text").focus();
      return;
    }
    await busy($("note-save"), t("loading"), () => api.post(path("/notes"), { text }));
    $("note-text").value = "";
    status(t("note_saved"));
    await load();
    $("note-text").focus();
  }

  async function flag() {
    const reason = $("flag-reason").value;
    if (!window.confirm(t("flag_confirm", { reason: label("hold", reason) }))) return;
    const hold = await busy($("flag-case"), t("loading"), () => api.post(path("/legal-hold"), { reason_code: reason }));
    flagged = hold;
    renderFlagged();
    show("flag-done", true);
    $("flag-case").disabled = true;
  }

  function renderFlagged() {
    if (!flagged) return;
    $("flag-done").textContent = t("flag_done", { reason: label("hold", flagged.reason_code), time: timeOf(flagged.set_at) });
  }

  /** Whether the case can still be flagged from here (it is not on hold yet). */
  const canFlag = () => !$("flag-case").disabled;

  /** The decision flagged the case itself (a rejection for suspected impersonation). */
  function flaggedBy(hold) {
    $("flag-case").disabled = true;
    status(t("flag_done", { reason: label("hold", hold.reason_code), time: timeOf(hold.set_at) }), 6000);
  }

  /** A new case: no notes, not flagged. */
  function reset() {
    $("note-form").reset();
    $("notes-list").replaceChildren();
    shown = [];
    show("flag-done", false);
    flagged = null;
    $("flag-case").disabled = false;
  }

  $("note-form").addEventListener("submit", guard(save));
  $("flag-case").addEventListener("click", guard(flag));

  function relabel() {
    render(shown);
    renderFlagged();
  }

  return { load, reset, canFlag, flaggedBy, relabel };
}
