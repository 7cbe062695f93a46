// The card face in the live check: the chip's photo and attributes (券面事項) of the newest card-face evidence,
// fetched once per item, since each view is an audit row at the hub.
import { api } from "./api.js";
import { $, show, showError } from "./dom.js";
import { t, label } from "./i18n.js";

/** `path(suffix)` is the open case's API path. */
export function createCardFace({ path }) {
  let viewed = null; // evidence id of the face fetched (or being fetched)
  let view = null;

  /** Show the newest card face among the case's evidence items, fetching it when it is new. */
  function update(items) {
    const face = [...items].reverse().find((item) => item.kind === "card_face" && !item.voided_at);
    if (!face || face.id === viewed) return;
    viewed = face.id;
    load(face.id).catch((err) => {
      viewed = null;
      showError(err);
    });
  }

  async function load(evidenceId) {
    view = await api.get(path(`/evidence/${encodeURIComponent(evidenceId)}/card-face`));
    render();
  }

  function render() {
    if (!view) return;
    const photo = $("chip-photo");
    photo.src = `data:image/png;base64,${view.photo_png}`;
    photo.alt = t("chip_photo_alt");
    show(photo, true);
    show("chip-photo-empty", false);
    $("attr-name").src = `data:image/png;base64,${view.name_image_png}`;
    $("attr-name").alt = t("name_alt");
    $("attr-address").src = `data:image/png;base64,${view.address_image_png}`;
    $("attr-address").alt = t("address_alt");
    $("attr-birth").textContent = formatDate(view.birth_date);
    $("attr-sex").textContent = label("sex", view.sex);
    // DF29 lies outside the card-face signature: shown as printed, next to its "not covered" label, never as
    // the card's verified expiry (that is the certificate's validity check in the proof table).
    $("attr-expiry").textContent = formatDate(view.expiry_unsigned);
    show("attr-list", true);
    show("attr-empty", false);
  }

  /** A new case: no face yet. */
  function reset() {
    viewed = null;
    view = null;
    show("chip-photo", false);
    show("chip-photo-empty", true);
    show("attr-list", false);
    show("attr-empty", true);
  }

  /** The card face's birth date (YYYYMMDD), once read: the chip document compares with it. */
  const birthDate = () => (view ? view.birth_date : null);

  return { update, reset, relabel: render, birthDate };
}

function formatDate(value) {
  // The card face stores dates as YYYYMMDD.
  return /^\d{8}$/.test(value || "") ? `${value.slice(0, 4)}-${value.slice(4, 6)}-${value.slice(6)}` : value || "—";
}
