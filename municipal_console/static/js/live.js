// The live check screen (ライブ審査): counter video, face comparison, card evidence, document stills, liveness
// challenge, checklist, readiness and the decision. The officer reads evidence here but cannot alter it.
import { api, ApiError } from "./api.js";
import { $, el, show, status, showError, busy, timeOf } from "./dom.js";
import { t, label, onLangChange } from "./i18n.js";
import { LiveLink } from "./livelink.js";
import { referenceOf } from "./format.js";

// Reason codes per decision, as the hub accepts them (service/cases/lifecycle.py REASONS).
const REASONS = {
  approve: [],
  reject: [
    "face_mismatch",
    "attribute_mismatch",
    "document_invalid",
    "document_expired",
    "ineligible",
    "suspected_impersonation",
    "other",
  ],
  "refer-to-counter": [
    "document_unreadable",
    "id_combination_not_accepted",
    "applicant_preference",
    "special_handling",
    "other",
  ],
  abort: ["network", "picture_quality", "audio_quality", "applicant_left", "officer_unavailable", "other"],
};
const LIVE_STATES = new Set(["session_live", "evidence_captured", "officer_review"]);
const POLL_MS = 3000;
// No picture this long (since opening, or since the last drop): say plainly why, instead of waiting silently.
const MEDIA_HELP_MS = 15000;
const STILL_KINDS = ["document_front", "document_back", "document_tilt", "application_photo"];

export function createLiveScreen({ onDone }) {
  let current = null; // CaseRead
  let link = null;
  let pollTimer = 0;
  let review = null;
  let reviewAvailable = true;
  let evidence = null;
  let viewedFace = null;
  let faceView = null;
  let challenge = null;
  let checklistLoaded = false;
  let connState = "new";
  let videoReported = null;
  const videoQueue = [];
  let videoFlushing = false;
  let docTransform = { zoom: 1, rotate: 0 };
  let docUrl = "";
  let docShown = null;
  let stillsKey = "";
  let mediaSince = 0;
  let mediaTimer = 0;
  let videoLive = false;
  let notesShown = [];

  const path = (suffix = "") => `/api/v1/cases/${encodeURIComponent(current.id)}${suffix}`;

  // --- opening and closing -----------------------------------------------------------------------------

  async function open(caseRead) {
    current = caseRead;
    review = null;
    evidence = null;
    viewedFace = null;
    faceView = null;
    challenge = null;
    checklistLoaded = false;
    videoReported = null;
    videoQueue.length = 0;
    connState = "new";
    videoLive = false;
    mediaSince = Date.now();
    stillsKey = "";
    docShown = null;
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
        else status(t(key, vars), 6000);
      },
      stats: (s) => {
        const line = $("video-stats");
        line.textContent = t("stats", s);
        line.dataset.framesDecoded = String(s.frames);
      },
    });
    mediaTimer = window.setInterval(renderMediaHelp, 1000);
    try {
      await link.start();
    } catch (err) {
      showError(err);
    }
    loadNotes().catch((err) => showError(err));
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
    clearDocument();
    if (closing) closing.close();
  }

  function resetPanels() {
    show("chip-photo", false);
    show("chip-photo-empty", true);
    show("live-still", false);
    show("live-still-empty", true);
    show("attr-list", false);
    show("attr-empty", true);
    show("proof-table", false);
    show("proof-empty", true);
    show("liveness-current", false);
    show("continuity-banner", false);
    show("video-empty", true);
    show("unmute", false);
    $("proof-checks").replaceChildren();
    $("liveness-list").replaceChildren();
    $("review-missing").replaceChildren();
    $("proof-revocation").textContent = "—";
    $("card-swap").textContent = "—";
    $("video-stats").textContent = "";
    $("checklist").reset();
    $("decision").reset();
    $("note-form").reset();
    $("notes-list").replaceChildren();
    notesShown = [];
    $("doc-list").replaceChildren();
    show("media-help", false);
    show("flag-done", false);
    $("flag-case").disabled = false;
    clearDocument();
    renderReasons();
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
    show("begin-review", current.state === "evidence_captured");
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
    if (!current || !LIVE_STATES.has(current.state) || !reviewAvailable) return;
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
      // The recorded label, as the hub verified it (e.g. 失効確認未実施): shown, never re-derived here.
      $("proof-revocation").textContent = proof.summary.revocation_label || label("status", proof.summary.revocation);
    }
    const binding = evidence && evidence.card_binding;
    const swap = $("card-swap");
    if (!binding) swap.textContent = t("card_swap_unbound");
    else if (binding.swap_detected_at) swap.textContent = t("card_swap_detected", { time: timeOf(binding.swap_detected_at) });
    else swap.textContent = t("card_swap_none");
    swap.dataset.swap = binding && binding.swap_detected_at ? "detected" : "none";
    renderStills(items);
    const face = [...items].reverse().find((item) => item.kind === "card_face" && !item.voided_at);
    if (face && face.id !== viewedFace) {
      viewedFace = face.id;
      loadCardFace(face.id).catch((err) => {
        viewedFace = null;
        showError(err);
      });
    }
  }

  async function loadCardFace(evidenceId) {
    // Each view is an audit row at the hub, so the face is fetched once per evidence item.
    faceView = await api.get(path(`/evidence/${encodeURIComponent(evidenceId)}/card-face`));
    renderFace();
  }

  function renderFace() {
    const view = faceView;
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

  function renderReview() {
    if (!review) return;
    $("review-video").textContent = review.video_live
      ? t("video_live_yes", { time: timeOf(review.continuity_since) })
      : t("video_live_no");
    $("review-video").dataset.live = String(review.video_live);
    $("review-drops").textContent = String(review.drops);
    show("review-ready", review.ready_to_decide);
    // 承認 only once the review is complete (the hub refuses it otherwise too); the missing list says why.
    const approve = $("decision-approve");
    approve.disabled = !review.ready_to_decide;
    if (approve.disabled && approve.checked) {
      approve.checked = false;
      renderReasons();
    }
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
    }
  }

  function renderReasons() {
    const form = $("decision");
    const action = form.querySelector("input[name=action]:checked");
    const select = $("decision-reason");
    const codes = action ? REASONS[action.value] : [];
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

  function renderChallenge() {
    if (!challenge) return;
    $("liveness-phrase").textContent = challenge.phrase_ja;
    $("liveness-phrase-en").textContent = challenge.phrase_en;
    $("liveness-gesture").textContent = challenge.gesture_ja;
    $("liveness-gesture-en").textContent = challenge.gesture_en;
    show("liveness-current", true);
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

  async function newChallenge() {
    challenge = await busy($("liveness-new"), t("loading"), () => api.post(path("/liveness-challenges")));
    renderChallenge();
    $("liveness-passed").focus();
    await refreshReview();
  }

  async function recordChallenge(passed) {
    if (!challenge) return;
    const id = challenge.id;
    await busy(null, t("loading"), () =>
      api.post(path(`/liveness-challenges/${encodeURIComponent(id)}/result`), { passed }),
    );
    challenge = null;
    show("liveness-current", false);
    await refreshReview();
    $("liveness-new").focus();
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

  async function decide(event) {
    event.preventDefault();
    const form = $("decision");
    const action = form.querySelector("input[name=action]:checked");
    if (!action) {
      showError(t("decision_need_action"), $("decision-submit"));
      $("decision-approve").focus();
      return;
    }
    const reason = $("decision-reason").value;
    if (REASONS[action.value].length && !reason) {
      showError(t("decision_need_reason"), $("decision-submit"));
      $("decision-reason").focus();
      return;
    }
    if (!$("decision-attest").checked) {
      showError(t("decision_need_attest"), $("decision-submit"));
      $("decision-attest").focus();
      return;
    }
    const body = { attested: true, expected_version: current.version };
    if (reason) body.reason_code = reason;
    try {
      // Rejecting for suspected impersonation flags the case first: its evidence is held before anything else.
      if (reason === "suspected_impersonation" && !$("flag-case").disabled) {
        const hold = await api.post(path("/legal-hold"), { reason_code: reason });
        $("flag-case").disabled = true;
        status(t("flag_done", { reason: label("hold", hold.reason_code), time: timeOf(hold.set_at) }), 6000);
      }
      const decided = await busy($("decision-submit"), t("decision_sending"), () =>
        api.post(path(`/${action.value}`), body),
      );
      close();
      showError(null);
      onDone(decided);
    } catch (err) {
      if (err instanceof ApiError && err.code === "version_conflict") {
        // The counter moved the case on since the last poll (e.g. documents shown): show what changed and let the
        // officer look again before sending — the decision is never resent behind their back.
        await refresh().catch(() => undefined);
        showError(t("decision_conflict", { state: current ? label("state", current.state) : "—" }), $("decision-submit"));
        return;
      }
      showError(err, $("decision-submit"));
      await refresh().catch(() => undefined);
    }
  }

  // --- document stills: listed from the evidence, each opened on demand (the hub audits every view) ---------

  function renderStills(items) {
    const stills = items.filter((item) => STILL_KINDS.includes(item.kind));
    const key = JSON.stringify([stills.map((item) => [item.id, item.voided_at]), docShown]);
    if (key === stillsKey) return;
    stillsKey = key;
    show("doc-empty", stills.length === 0 && !docShown);
    $("doc-list").replaceChildren(
      ...stills.map((item) =>
        el(
          "li",
          {},
          el("button", {
            type: "button",
            className: item.id === docShown ? "doc-open current" : "doc-open",
            text: t("still_item", {
              kind: label("still", item.kind),
              time: timeOf(item.created_at),
              size: item.summary && item.summary.width ? `${item.summary.width}×${item.summary.height}` : "",
            }),
            "aria-pressed": String(item.id === docShown),
            disabled: Boolean(item.voided_at),
            dataset: { evidence: item.id, kind: item.kind },
          }),
        ),
      ),
    );
  }

  async function openStill(evidenceId, kind) {
    const blob = await busy(null, t("loading"), () => api.blob(path(`/stills/${encodeURIComponent(evidenceId)}`)));
    clearDocument();
    docUrl = URL.createObjectURL(blob);
    docShown = evidenceId;
    stillsKey = "";
    const img = el("img", { src: docUrl, alt: t("still_alt", { kind: label("still", kind) }) });
    img.dataset.evidence = evidenceId;
    img.dataset.kind = kind;
    $("doc-stage").append(img);
    show("doc-empty", false);
    docTransform = { zoom: 1, rotate: 0 };
    for (const id of ["doc-zoom-in", "doc-zoom-out", "doc-rotate", "doc-reset"]) $(id).disabled = false;
    transformDocs();
    renderEvidence();
    $("doc-stage").focus();
  }

  function clearDocument() {
    if (docUrl) URL.revokeObjectURL(docUrl);
    docUrl = "";
    docShown = null;
    for (const img of $("doc-stage").querySelectorAll("img")) img.remove();
    for (const id of ["doc-zoom-in", "doc-zoom-out", "doc-rotate", "doc-reset"]) $(id).disabled = true;
    $("doc-caption").textContent = "";
  }

  function transformDocs() {
    const still = $("doc-stage").querySelector("img");
    if (!still) return;
    still.alt = t("still_alt", { kind: label("still", still.dataset.kind) });
    // CSSOM, not a style attribute: allowed under the console's CSP. Only the view turns; the evidence does not.
    still.style.transform = `rotate(${docTransform.rotate}deg) scale(${docTransform.zoom})`;
    still.dataset.zoom = String(docTransform.zoom);
    still.dataset.rotate = String(docTransform.rotate);
    $("doc-caption").textContent = t("doc_view", {
      zoom: Math.round(docTransform.zoom * 100),
      rotate: docTransform.rotate,
    });
  }

  function zoomDoc(factor) {
    docTransform.zoom = Math.min(4, Math.max(0.5, docTransform.zoom * factor));
    transformDocs();
  }

  function rotateDoc() {
    docTransform.rotate = (docTransform.rotate + 90) % 360;
    transformDocs();
  }

  // --- notes and flagging ----------------------------------------------------------------------------

  async function loadNotes() {
    if (!current) return;
    const notes = await api.get(path("/notes"));
    renderNotes(notes);
  }

  function renderNotes(notes) {
    notesShown = notes;
    $("notes-list").replaceChildren(
      ...notes.map((note) =>
        el(
          "li",
          { dataset: { note: note.id } },
          el("p", {
            className: "muted small",
            text: t("note_meta", { time: timeOf(note.created_at), author: note.author_name || note.author_id }),
          }),
          el("p", { className: "note-text", text: note.purged ? t("note_purged") : note.text }),
        ),
      ),
    );
  }

  async function saveNote(event) {
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
    await loadNotes();
    $("note-text").focus();
  }

  async function flagCase() {
    const reason = $("flag-reason").value;
    if (!window.confirm(t("flag_confirm", { reason: label("hold", reason) }))) return;
    const hold = await busy($("flag-case"), t("loading"), () =>
      api.post(path("/legal-hold"), { reason_code: reason }),
    );
    const done = $("flag-done");
    done.textContent = t("flag_done", { reason: label("hold", hold.reason_code), time: timeOf(hold.set_at) });
    show(done, true);
    $("flag-case").disabled = true;
  }

  // A refusal is shown next to the control that caused it (a form's: next to its submit button).
  const guard = (work) => (event) => {
    showError(null);
    const origin = event && event.currentTarget;
    const near = origin instanceof HTMLFormElement ? origin.querySelector("button[type=submit]") : origin;
    Promise.resolve(work(event)).catch((err) => showError(err, near instanceof HTMLElement ? near : null));
  };

  $("grab-still").addEventListener("click", guard(grabStill));
  $("liveness-new").addEventListener("click", guard(newChallenge));
  $("liveness-passed").addEventListener("click", guard(() => recordChallenge(true)));
  $("liveness-failed").addEventListener("click", guard(() => recordChallenge(false)));
  $("checklist").addEventListener("submit", guard(saveChecklist));
  $("begin-review").addEventListener("click", guard(beginReview));
  $("decision").addEventListener("submit", guard(decide));
  $("decision").addEventListener("change", (event) => {
    if (event.target.name === "action") renderReasons();
  });
  $("reconnect").addEventListener("click", () => link && link.reconnect());
  $("unmute").addEventListener("click", () => {
    const video = $("remote-video");
    video.muted = false;
    video.play().catch(() => undefined);
    show("unmute", false);
  });
  $("doc-zoom-in").addEventListener("click", () => zoomDoc(1.25));
  $("doc-zoom-out").addEventListener("click", () => zoomDoc(1 / 1.25));
  $("doc-rotate").addEventListener("click", rotateDoc);
  $("doc-reset").addEventListener("click", () => {
    docTransform = { zoom: 1, rotate: 0 };
    transformDocs();
  });
  // On the focused still: + and - zoom, R rotates, 0 resets (no modifier, so typing elsewhere is untouched).
  $("doc-stage").addEventListener("keydown", (event) => {
    if (!docShown || event.altKey || event.ctrlKey || event.metaKey) return;
    const keys = { "+": () => zoomDoc(1.25), "=": () => zoomDoc(1.25), "-": () => zoomDoc(1 / 1.25), r: rotateDoc, R: rotateDoc };
    if (event.key === "0") {
      docTransform = { zoom: 1, rotate: 0 };
      transformDocs();
    } else if (keys[event.key]) keys[event.key]();
    else return;
    event.preventDefault();
  });
  $("doc-list").addEventListener("click", (event) => {
    const button = event.target.closest("button.doc-open");
    if (button) guard(() => openStill(button.dataset.evidence, button.dataset.kind))(event);
  });
  $("note-form").addEventListener("submit", guard(saveNote));
  $("flag-case").addEventListener("click", guard(flagCase));
  onLangChange(() => {
    if (!current) return;
    stillsKey = "";
    renderCase();
    renderConnection();
    renderEvidence();
    renderFace();
    renderReview();
    renderReasons();
    renderMediaHelp();
    transformDocs();
    renderNotes(notesShown);
  });

  return { open, close, get caseId() { return current && current.id; } };
}

function formatDate(value) {
  // The card face stores dates as YYYYMMDD.
  return /^\d{8}$/.test(value || "") ? `${value.slice(0, 4)}-${value.slice(4, 6)}-${value.slice(6)}` : value || "—";
}
