// The document viewer of the live check: the stills listed from the case's evidence, each opened on demand (the
// hub audits every view), zoomed and turned for reading. Only the view turns; the evidence does not.
import { api } from "./api.js";
import { $, el, show, busy, guard, timeOf } from "./dom.js";
import { t, label } from "./i18n.js";
import { STILL_KINDS } from "./contract.js";

const CONTROLS = ["doc-zoom-in", "doc-zoom-out", "doc-rotate", "doc-reset"];

/** `path(suffix)` is the open case's API path. */
export function createDocViewer({ path }) {
  let transform = { zoom: 1, rotate: 0 };
  let url = "";
  let shown = null; // evidence id of the still on the stage
  let listedKey = "";
  let items = [];

  function render(evidenceItems) {
    items = evidenceItems;
    const stills = items.filter((item) => STILL_KINDS.includes(item.kind));
    const key = JSON.stringify([stills.map((item) => [item.id, item.voided_at]), shown]);
    if (key === listedKey) return;
    listedKey = key;
    show("doc-empty", stills.length === 0 && !shown);
    $("doc-list").replaceChildren(
      ...stills.map((item) =>
        el(
          "li",
          {},
          el("button", {
            type: "button",
            className: item.id === shown ? "doc-open current" : "doc-open",
            text: t("still_item", {
              kind: label("still", item.kind),
              time: timeOf(item.created_at),
              size: item.summary && item.summary.width ? `${item.summary.width}×${item.summary.height}` : "",
            }),
            "aria-pressed": String(item.id === shown),
            disabled: Boolean(item.voided_at),
            dataset: { evidence: item.id, kind: item.kind },
          }),
        ),
      ),
    );
  }

  async function open(evidenceId, kind) {
    const blob = await busy(null, t("loading"), () => api.blob(path(`/stills/${encodeURIComponent(evidenceId)}`)));
    clear();
    url = URL.createObjectURL(blob);
    shown = evidenceId;
    listedKey = "";
    const img = el("img", { src: url, alt: t("still_alt", { kind: label("still", kind) }) });
    img.dataset.evidence = evidenceId;
    img.dataset.kind = kind;
    $("doc-stage").append(img);
    show("doc-empty", false);
    transform = { zoom: 1, rotate: 0 };
    for (const id of CONTROLS) $(id).disabled = false;
    apply();
    render(items);
    $("doc-stage").focus();
  }

  function clear() {
    if (url) URL.revokeObjectURL(url);
    url = "";
    shown = null;
    for (const img of $("doc-stage").querySelectorAll("img")) img.remove();
    for (const id of CONTROLS) $(id).disabled = true;
    $("doc-caption").textContent = "";
  }

  /** A new case: nothing listed, nothing on the stage. */
  function reset() {
    listedKey = "";
    items = [];
    $("doc-list").replaceChildren();
    clear();
  }

  function apply() {
    const still = $("doc-stage").querySelector("img");
    if (!still) return;
    still.alt = t("still_alt", { kind: label("still", still.dataset.kind) });
    // CSSOM, not a style attribute: allowed under the console's CSP.
    still.style.transform = `rotate(${transform.rotate}deg) scale(${transform.zoom})`;
    still.dataset.zoom = String(transform.zoom);
    still.dataset.rotate = String(transform.rotate);
    $("doc-caption").textContent = t("doc_view", { zoom: Math.round(transform.zoom * 100), rotate: transform.rotate });
  }

  function zoom(factor) {
    transform.zoom = Math.min(4, Math.max(0.5, transform.zoom * factor));
    apply();
  }

  function rotate() {
    transform.rotate = (transform.rotate + 90) % 360;
    apply();
  }

  function straighten() {
    transform = { zoom: 1, rotate: 0 };
    apply();
  }

  /** After a language switch: the list and the caption in the new language. */
  function relabel() {
    listedKey = "";
    render(items);
    apply();
  }

  $("doc-zoom-in").addEventListener("click", () => zoom(1.25));
  $("doc-zoom-out").addEventListener("click", () => zoom(1 / 1.25));
  $("doc-rotate").addEventListener("click", rotate);
  $("doc-reset").addEventListener("click", straighten);
  // On the focused still: + and - zoom, R rotates, 0 resets (no modifier, so typing elsewhere is untouched).
  $("doc-stage").addEventListener("keydown", (event) => {
    if (!shown || event.altKey || event.ctrlKey || event.metaKey) return;
    const keys = { "+": () => zoom(1.25), "=": () => zoom(1.25), "-": () => zoom(1 / 1.25), r: rotate, R: rotate, 0: straighten };
    if (!keys[event.key]) return;
    keys[event.key]();
    event.preventDefault();
  });
  $("doc-list").addEventListener("click", (event) => {
    const button = event.target.closest("button.doc-open");
    if (button) guard(() => open(button.dataset.evidence, button.dataset.kind))(event);
  });

  return { render, clear, reset, relabel };
}
