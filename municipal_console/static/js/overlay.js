// Document stills over the live check screen (書類の静止画の重ね表示). The live screen puts the opened still into
// #doc-stage and sets its zoom and rotation (data-zoom, data-rotate, a CSS transform); this module only shows the
// stage in a modal dialog and sizes the still so that, turned by 90° or 270°, its bounding box still fits the
// stage — a transform alone keeps the unturned layout box, and a tall turned still was cut off at the edges.
// Closed with Esc (the dialog's own cancel) or the close button; focus goes back to the still's button.

const overlay = document.getElementById("doc-overlay");
const stage = document.getElementById("doc-stage");
let shown = null; // the <img> the overlay was opened for

function fit() {
  const img = stage.querySelector("img");
  if (!img || !overlay.open || !img.naturalWidth) return;
  const style = window.getComputedStyle(stage);
  const roomW = stage.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
  const roomH = stage.clientHeight - parseFloat(style.paddingTop) - parseFloat(style.paddingBottom);
  if (roomW <= 0 || roomH <= 0) return;
  const turned = Number(img.dataset.rotate || 0) % 180 !== 0;
  const zoom = Number(img.dataset.zoom || 1);
  const natW = img.naturalWidth;
  const natH = img.naturalHeight;
  // At zoom 1 the turned still's bounding box fills the stage; zooming in makes the stage scroll.
  const scale = Math.min(roomW / (turned ? natH : natW), roomH / (turned ? natW : natH));
  const w = natW * scale;
  const h = natH * scale;
  const boxW = (turned ? h : w) * zoom;
  const boxH = (turned ? w : h) * zoom;
  // CSSOM (allowed by the CSP): the margins make the layout box the size of the turned, zoomed picture, so the
  // transform (about the centre) lands exactly inside it and the stage scrolls over all of it.
  img.style.width = `${w}px`;
  img.style.height = `${h}px`;
  img.style.margin = `${(boxH - h) / 2}px ${(boxW - w) / 2}px`;
}

function open(img) {
  shown = img;
  if (!overlay.open) overlay.showModal();
  if (img.complete) fit();
  else img.addEventListener("load", fit, { once: true });
  stage.focus(); // +/- zoom, R turns, 0 resets (the live screen's keys on the stage)
}

function sync() {
  const img = stage.querySelector("img");
  if (!img) {
    shown = null;
    if (overlay.open) overlay.close(); // the case was left (decided) or the still cleared
    return;
  }
  if (img !== shown) open(img);
  else fit();
}

new MutationObserver(sync).observe(stage, {
  childList: true,
  subtree: true,
  attributes: true,
  attributeFilter: ["data-rotate", "data-zoom"],
});
new ResizeObserver(fit).observe(stage);

document.getElementById("doc-close").addEventListener("click", () => overlay.close());
// The screen's Alt+letter shortcuts (send the decision, accept…) act on what lies behind the overlay: not while
// the officer looks at a still. Focus stays inside the modal dialog, so its keys never reach the page's handler.
overlay.addEventListener("keydown", (event) => {
  if (event.altKey) event.stopPropagation();
});
overlay.addEventListener("close", () => {
  const opener = document.querySelector("#doc-list button[aria-pressed='true']");
  if (opener) opener.focus();
});
