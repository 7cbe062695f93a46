// The ID document's chip in the live check (docs/id-documents.md): the photo and data the hub verified, each
// check, and comparison flags. Flags, not decisions: the officer still decides. Fetched once per evidence item,
// since each view is an audit row at the hub.
import { api } from "./api.js";
import { $, el, show, showError } from "./dom.js";
import { t, label } from "./i18n.js";

/** `path(suffix)` is the open case's API path; `cardBirth()` the My Number Card face's birth date, if read. */
export function createChipDocument({ path, cardBirth }) {
  let viewed = null;
  let view = null;

  /** Show the newest chip document among the case's evidence items, fetching it when it is new. */
  function update(items) {
    const item = [...items].reverse().find((entry) => entry.kind === "chip_document" && !entry.voided_at);
    if (!item || item.id === viewed) {
      render();
      return;
    }
    viewed = item.id;
    load(item.id).catch((err) => {
      viewed = null;
      showError(err);
    });
  }

  async function load(evidenceId) {
    view = await api.get(path(`/evidence/${encodeURIComponent(evidenceId)}/chip-document`));
    render();
  }

  function render() {
    if (!view) return;
    const verified = view.verdict === "verified";
    const photo = $("chipdoc-photo");
    show(photo, Boolean(view.photo_png));
    if (view.photo_png) {
      photo.src = `data:image/png;base64,${view.photo_png}`;
      photo.alt = t("chipdoc_photo_alt");
    }
    // A residence card has its name, birth date and expiry only on the signed card-face image.
    const face = $("chipdoc-card-face");
    show("chipdoc-card-face-figure", Boolean(view.card_face_png));
    if (view.card_face_png) {
      face.src = `data:image/png;base64,${view.card_face_png}`;
      face.alt = t("chipdoc_card_face_alt");
    }
    const verdict = $("chipdoc-verdict");
    verdict.textContent = verified
      ? t("chipdoc_verified")
      : t("chipdoc_refused", { reason: label("chiprefusal", view.refusal_reason) });
    verdict.dataset.verdict = view.verdict;
    verdict.className = verified ? "ok" : "bad";
    $("chipdoc-kind").textContent = label("chipkind", view.kind);
    $("chipdoc-name").textContent = view.name || "—";
    $("chipdoc-birth").textContent = view.birth_date || "—";
    $("chipdoc-address").textContent = view.address || "—";
    $("chipdoc-valid-until").textContent = view.valid_until || "—";
    $("chipdoc-number").textContent = view.document_number_masked || "—";
    $("chipdoc-nationality").textContent = view.nationality || "—";
    $("chipdoc-checks").replaceChildren(
      ...view.checks.map((check) =>
        el(
          "tr",
          { dataset: { check: check.name, ok: String(check.ok) } },
          el("th", { scope: "row", text: label("chipcheck", check.name) }),
          el("td", { className: check.ok ? "st-passed" : "st-failed", text: label("status", check.ok ? "passed" : "failed") }),
          el("td", { text: check.reason_code ? label("chiprefusal", check.reason_code) : "" }),
        ),
      ),
    );
    $("chipdoc-matches").replaceChildren(matchBirth());
    show("chipdoc-body", true);
    show("chipdoc-empty", false);
    // The checklist's document-authenticity item may be ticked "chip verified" only for a verified chip.
    show("chipdoc-authentic", verified);
  }

  function matchBirth() {
    const card = cardBirth();
    const chip = (view.birth_date || "").replaceAll("-", "");
    const state = !card || !chip ? "none" : card === chip ? "same" : "differs";
    return el("li", {
      id: "chipdoc-match-birth",
      dataset: { match: state },
      className: state === "differs" ? "bad" : state === "same" ? "ok" : "muted",
      text: `${t("chipdoc_match_birth")}: ${t(`chipdoc_match_${state}`)}`,
    });
  }

  let basis = null; // "chip_verified" once the officer ticks it, until the item is unticked

  /** Tick the checklist's authenticity item, naming the chip as the ground (sent with the checklist). */
  function tick() {
    const form = $("checklist");
    form.elements.documents_authentic.checked = true;
    basis = "chip_verified";
    show("chipdoc-authentic-note", true);
  }

  /** The ground of the authenticity item for the checklist: the hub checks a verified chip stands behind it. */
  function authenticityBasis() {
    return basis && $("checklist").elements.documents_authentic.checked ? basis : null;
  }

  /** The saved checklist's ground, shown again when the review is reloaded. */
  function loadBasis(saved) {
    basis = saved || null;
    show("chipdoc-authentic-note", Boolean(basis));
  }

  /** A new case: nothing read yet. */
  function reset() {
    viewed = null;
    view = null;
    basis = null;
    show("chipdoc-body", false);
    show("chipdoc-empty", true);
    show("chipdoc-authentic", false);
    show("chipdoc-authentic-note", false);
  }

  $("chipdoc-tick").addEventListener("click", tick);
  return { update, reset, relabel: render, authenticityBasis, loadBasis };
}
