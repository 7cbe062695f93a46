// The live check screen (ライブ審査): counter video, face comparison, card evidence, liveness challenge, checklist
// and readiness. The officer reads evidence here but cannot alter it. The document viewer (docviewer.js), notes
// and flags (notes.js) and the decision form (decision.js) are parts of this screen, each in its own module.
import { api, ApiError } from "./api.js";
import { LIVE_STATES } from "./contract.js";
import { createDecisionForm } from "./decision.js";
import { createCardFace } from "./cardface.js";
import { createChipDocument } from "./chipdoc.js";
import { createDocViewer } from "./docviewer.js";
import { $, el, show, status, showError, busy, guard, timeOf } from "./dom.js";
import { t, label, currentLang, onLangChange } from "./i18n.js";
import { LiveLink } from "./livelink.js";
import { createLiveness } from "./liveness.js";
import { createNotes } from "./notes.js";
import { referenceOf } from "./format.js";

const POLL_MS = 3000;
// No picture this long (since opening, or since the last drop): say plainly why, instead of waiting silently.
const MEDIA_HELP_MS = 15000;

export function createLiveScreen({ onDone }) {
  let current = null; // CaseRead
  let link = null;
  let pollTimer = 0;
  let review = null;
  let reviewAvailable = true;
  let evidence = null;
  let checklistLoaded = false;
  let connState = "new";
  let videoReported = null;
  const videoQueue = [];
  let videoFlushing = false;
  let mediaSince = 0;
  let mediaTimer = 0;
  let videoLive = false;
  let lastStats = null; // the link's last figures, re-worded on a language switch even when no new ones come

  const path = (suffix = "") => `/api/v1/cases/${encodeURIComponent(current.id)}${suffix}`;
  const docs = createDocViewer({ path });
  const face = createCardFace({ path });
  const chipDocument = createChipDocument({ path, cardBirth: () => face.birthDate() });
  const liveness = createLiveness({ path, changed: () => refreshReview() });
  const notes = createNotes({ path, isOpen: () => Boolean(current) });
  const decision = createDecisionForm({
    path,
    current: () => current,
    notes,
    refresh,
    decided: (caseRead) => {
      close();
      showError(null);
      onDone(caseRead);
    },
  });

  // --- opening and closing -----------------------------------------------------------------------------

  async function open(caseRead) {
    current = caseRead;
    review = null;
    evidence = null;
    checklistLoaded = false;
    videoReported = null;
    videoQueue.length = 0;
    connState = "new";
    videoLive = false;
    mediaSince = Date.now();
    resetPanels();
    renderCase();
    $("live-case").textContent = referenceOf(current);
    link = new LiveLink(current.id, $("remote-video"), {
      state: (s) => {
        connState = s;
        renderConnection();
      },
      video: (live) => {
        $("conn-state").dataset.video = live ? "live" : "lost";
        if (live !== videoLive) mediaSince = Date.now();
        videoLive = live;
        renderMediaHelp();
        reportVideo(live);
      },
      notice: (key, vars) => {
        if (key === "unmute_needed") show("unmute", true);
        else if (key === "signaling_refused") showError(t(key, vars));
        else if (key === "clerk_muted") status(t(key, { kind: label("media", vars.kind) }), 6000);
        else status(t(key, vars), 6000);
      },
      stats: (s) => {
        lastStats = s;
        renderStats();
      },
    });
    mediaTimer = window.setInterval(renderMediaHelp, 1000);
    try {
      await link.start();
    } catch (err) {
      showError(err);
    }
    notes.load().catch((err) => showError(err));
    await refresh();
    pollTimer = window.setInterval(() => refresh().catch(() => undefined), POLL_MS);
  }

  // Leaving the case (a decision, an abort): nothing more is polled or reported for it. The case is let go
  // before the link closes, since closing reports the video lost and the hub refuses that after a decision.
  function close() {
    const closing = link;
    link = null;
    current = null;
    videoQueue.length = 0;
    window.clearInterval(pollTimer);
    pollTimer = 0;
    window.clearInterval(mediaTimer);
    mediaTimer = 0;
    docs.clear();
    if (closing) closing.close();
  }

  function resetPanels() {
    show("live-still", false);
    show("live-still-empty", true);
    face.reset();
    chipDocument.reset();
    show("proof-table", false);
    show("proof-empty", true);
    liveness.reset();
    show("continuity-banner", false);
    show("video-empty", true);
    show("unmute", false);
    $("proof-checks").replaceChildren();
    $("review-missing").replaceChildren();
    $("proof-revocation").textContent = "—";
    $("card-swap").textContent = "—";
    $("video-stats").textContent = "";
    lastStats = null;
    $("checklist").reset();
    show("media-help", false);
    notes.reset();
    docs.reset();
    decision.reset();
  }

  // --- polling -----------------------------------------------------------------------------------------

  async function refresh() {
    if (!current) return;
    const caseId = current.id;
    const [caseRead, evidenceList] = await Promise.all([api.get(path()), api.get(path("/evidence"))]);
    if (!current || caseRead.id !== current.id || caseId !== current.id) return;
    current = caseRead;
    evidence = evidenceList;
    renderCase();
    renderEvidence();
    await refreshReview();
  }

  async function refreshReview() {
    if (!reviewAvailable || !current) return;
    const caseId = current.id;
    try {
      const read = await api.get(path("/review"));
      if (!current || current.id !== caseId) return; // decided while the read was on its way
      review = read;
      renderReview();
    } catch (err) {
      if (err instanceof ApiError && err.status === 404 && err.code === "http_404") {
        reviewAvailable = false; // the hub has no review API (older hub): the panel says so
        show("review-pending", true);
      } else {
        throw err;
      }
    }
  }

  // --- rendering ---------------------------------------------------------------------------------------

  function renderCase() {
    $("live-state").textContent = label("state", current.state);
    $("live-state").dataset.state = current.state;
    $("live-procedure").textContent = label("procedure", current.procedure);
    renderCertificate();
    show("begin-review", current.state === "evidence_captured");
  }

  // A counter certificate request: what is asked for, by the hub's labels (docs/certificates.md §Counter).
  function renderCertificate() {
    const asked = current.certificate;
    show("live-certificate", Boolean(asked));
    show("decision-resident-field", Boolean(asked) && asked.state === "awaiting_decision");
    if (!asked) return;
    const options = asked.options.map((code) => label("certoption", code));
    $("live-certificate-summary").textContent = t("certificate_summary", {
      kind: label("certkind", asked.kind),
      count: asked.count,
      scope: asked.scope ? ` · ${label("certscope", asked.scope)}` : "",
      options: options.length ? ` · ${options.join(currentLang() === "en" ? ", " : "、")}` : "",
    });
    $("live-certificate-receipt").textContent = asked.receipt_number
      ? t("certificate_receipt", { receipt: asked.receipt_number })
      : "";
  }

  function renderStats() {
    if (!lastStats) return;
    const line = $("video-stats");
    line.textContent = t("stats", lastStats);
    line.dataset.framesDecoded = String(lastStats.frames);
  }

  function renderConnection() {
    const badge = $("conn-state");
    badge.textContent = label("conn", connState);
    badge.dataset.state = connState;
    show("video-empty", connState !== "connected");
    renderMediaHelp();
  }

  // Why there is no picture, in the officer's words: which leg of the link is missing and what to do.
  function renderMediaHelp() {
    const waiting = current && !videoLive && mediaSince && Date.now() - mediaSince >= MEDIA_HELP_MS;
    show("media-help", Boolean(waiting));
    if (!waiting) return;
    const cause =
      connState === "signaling" || connState === "closed"
        ? "signaling"
        : connState === "waiting_offer"
          ? "counter"
          : "path";
    // Text set only when it changes: the box is an alert, and a ticking counter would be re-announced each second.
    const title = t("media_help_title", { seconds: MEDIA_HELP_MS / 1000 });
    const text = t(`media_help_${cause}`);
    $("media-help").dataset.cause = cause;
    if ($("media-help-title").textContent !== title) $("media-help-title").textContent = title;
    if ($("media-help-cause").textContent !== text) $("media-help-cause").textContent = text;
  }

  // Every live/lost transition reaches the hub, in order, even when the drop also cut the console off:
  // a "lost" that could not be sent is retried before the "live" that follows it.
  function reportVideo(live) {
    const state = live ? "live" : "lost";
    show("continuity-banner", !live && videoReported !== null);
    if (!current || !LIVE_STATES.includes(current.state) || !reviewAvailable) return;
    const last = videoQueue.length ? videoQueue[videoQueue.length - 1] : videoReported;
    if (last === state) return;
    videoQueue.push(state);
    flushVideo();
  }

  async function flushVideo() {
    if (videoFlushing) return;
    videoFlushing = true;
    try {
      while (videoQueue.length && current) {
        const caseId = current.id;
        try {
          review = await api.post(path("/video-status"), { state: videoQueue[0] });
        } catch (err) {
          if (err instanceof ApiError && err.status !== 0) {
            videoQueue.length = 0; // refused: nothing to retry
            // The case left the live review (decided or aborted meanwhile): nothing to report, no error.
            if (err.code !== "review_closed") showError(err);
            break;
          }
          await new Promise((resolve) => window.setTimeout(resolve, 1000));
          continue;
        }
        if (!current || current.id !== caseId) break;
        videoReported = videoQueue.shift();
        renderReview();
      }
    } finally {
      videoFlushing = false;
    }
  }

  function renderEvidence() {
    const items = (evidence && evidence.items) || [];
    const proof = [...items].reverse().find((item) => item.kind === "card_proof");
    if (proof) {
      show("proof-table", true);
      show("proof-empty", false);
      const rows = (proof.summary.checks || []).map((check) =>
        el(
          "tr",
          { dataset: { check: check.check, status: check.status } },
          el("th", { scope: "row", text: label("check", check.check) }),
          el("td", { className: `st-${check.status}`, text: label("status", check.status) }),
          el("td", { text: check.reason ? label("proofreason", check.reason) : "" }),
        ),
      );
      $("proof-checks").replaceChildren(...rows);
      // The recorded outcome, as the hub verified it (e.g. not_checked), worded in the console's language; the
      // hub's recorded bilingual label is shown only for an outcome this console has no words for.
      const revocation = $("proof-revocation");
      const outcome = proof.summary.revocation;
      const worded = outcome ? label("revstatus", outcome) : "";
      revocation.textContent = worded && worded !== outcome ? worded : proof.summary.revocation_label || "—";
      revocation.dataset.revocation = outcome || "";
      // The generation the hub read from the certificate's algorithms (current RSA card or next-generation P-384).
      const generation = $("proof-generation");
      generation.textContent = label("cardgen", proof.summary.card_generation);
      generation.dataset.generation = proof.summary.card_generation || "";
    }
    const binding = evidence && evidence.card_binding;
    const swap = $("card-swap");
    if (!binding) swap.textContent = t("card_swap_unbound");
    else if (binding.swap_detected_at) swap.textContent = t("card_swap_detected", { time: timeOf(binding.swap_detected_at) });
    else swap.textContent = t("card_swap_none");
    swap.dataset.swap = binding && binding.swap_detected_at ? "detected" : "none";
    docs.render(items);
    face.update(items);
    chipDocument.update(items);
  }

  function renderReview() {
    if (!review) return;
    $("review-video").textContent = review.video_live
      ? t("video_live_yes", { time: timeOf(review.continuity_since) })
      : t("video_live_no");
    $("review-video").dataset.live = String(review.video_live);
    $("review-drops").textContent = String(review.drops);
    show("review-ready", review.ready_to_decide);
    decision.setReady(review.ready_to_decide);
    show("review-redo", review.redo_required);
    $("review-missing").replaceChildren(
      ...review.missing.map((code) => el("li", { dataset: { code }, text: label("missing", code) })),
    );
    $("liveness-list").replaceChildren(
      ...review.liveness.map((item) =>
        el("li", {
          text: t("liveness_item", {
            time: timeOf(item.created_at),
            code: item.code,
            result: t(
              item.passed === true
                ? "liveness_result_passed"
                : item.passed === false
                  ? "liveness_result_failed"
                  : "liveness_result_open",
            ),
          }),
        }),
      ),
    );
    if (review.checklist && !checklistLoaded) {
      checklistLoaded = true;
      const form = $("checklist");
      for (const radio of form.querySelectorAll("input[name=id_combination]")) {
        radio.checked = radio.value === review.checklist.id_combination;
      }
      for (const name of ["face_match", "attributes_match", "eligibility_confirmed", "documents_authentic"]) {
        form.elements[name].checked = Boolean(review.checklist[name]);
      }
      chipDocument.loadBasis(review.checklist.documents_authentic_basis);
    }
  }

  // --- actions -----------------------------------------------------------------------------------------

  function grabStill() {
    const video = $("remote-video");
    if (!video.videoWidth) {
      showError(t("no_video_for_still"));
      return;
    }
    const canvas = $("live-still");
    canvas.width = video.videoWidth;
    canvas.height = video.videoHeight;
    canvas.getContext("2d").drawImage(video, 0, 0, canvas.width, canvas.height);
    show(canvas, true);
    show("live-still-empty", false);
    status(t("still_taken", { time: timeOf(new Date().toISOString()) }));
  }

  async function saveChecklist(event) {
    event.preventDefault();
    const form = $("checklist");
    const combo = form.querySelector("input[name=id_combination]:checked");
    if (!combo) {
      showError(t("checklist_need_combo"), $("checklist-save"));
      form.querySelector("input[name=id_combination]").focus();
      return;
    }
    const body = { id_combination: combo.value };
    for (const name of ["face_match", "attributes_match", "eligibility_confirmed", "documents_authentic"]) {
      body[name] = form.elements[name].checked;
    }
    body.documents_authentic_basis = chipDocument.authenticityBasis();
    review = await busy($("checklist-save"), t("loading"), () => api.put(path("/checklist"), body));
    checklistLoaded = true;
    renderReview();
    status(t("checklist_saved"));
  }

  async function beginReview() {
    current = await busy($("begin-review"), t("loading"), () =>
      api.post(path("/begin-review"), { expected_version: current.version }),
    );
    renderCase();
    $("decision-approve").focus();
  }

  $("grab-still").addEventListener("click", guard(grabStill));
  $("checklist").addEventListener("submit", guard(saveChecklist));
  $("begin-review").addEventListener("click", guard(beginReview));
  $("reconnect").addEventListener("click", () => link && link.reconnect());
  $("unmute").addEventListener("click", () => {
    const video = $("remote-video");
    video.muted = false;
    video.play().catch(() => undefined);
    show("unmute", false);
  });
  onLangChange(() => {
    if (!current) return;
    renderCase();
    renderConnection();
    renderStats();
    renderEvidence();
    face.relabel();
    chipDocument.relabel();
    renderReview();
    decision.relabel();
    renderMediaHelp();
    docs.relabel();
    notes.relabel();
  });

  return { open, close, get caseId() { return current && current.id; } };
}
