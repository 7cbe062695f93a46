// The officer's queue screen: presence with a heartbeat, the offer long-poll, accept/decline with a countdown.
import { api, ApiError, hubNow } from "./api.js";
import { $, show, status, showError, busy, duration, timeOf } from "./dom.js";
import { t, label, onLangChange } from "./i18n.js";
import { referenceOf } from "./format.js";

const HEARTBEAT_MS = 10_000;
const LONG_POLL_S = 20;

export function createQueueScreen({ onAccepted }) {
  let presence = "offline";
  let heartbeatTimer = 0;
  let polling = null; // AbortController of the running long-poll
  let offer = null;
  let countdownTimer = 0;
  let active = false; // the officer is on this screen (no live case)
  let running = false; // heartbeats are on (from login to logout, live case included)

  async function heartbeat() {
    try {
      const read = await api.put("/api/v1/officers/me/presence", { status: presence });
      $("presence-effective").textContent = label("presence_state", read.effective_status);
      $("presence-effective").dataset.status = read.effective_status;
      $("presence-heartbeat").textContent = t("presence_heartbeat", {
        time: timeOf(read.heartbeat_at),
      });
    } catch (err) {
      showError(err);
    }
  }

  function start() {
    running = true;
    window.clearInterval(heartbeatTimer);
    heartbeatTimer = window.setInterval(heartbeat, HEARTBEAT_MS);
    heartbeat();
  }

  function stop() {
    running = false;
    active = false;
    window.clearInterval(heartbeatTimer);
    stopPolling();
    hideOffer();
  }

  /** Show the queue screen again (after a decision): keep the chosen presence and look for offers. */
  function resume() {
    active = true;
    if (!running) start();
    maybePoll();
  }

  function pause() {
    active = false;
    stopPolling();
  }

  async function setPresence(next) {
    presence = next;
    await heartbeat();
    if (next === "available") maybePoll();
    else {
      stopPolling();
      hideOffer();
    }
  }

  function stopPolling() {
    if (polling) polling.abort();
    polling = null;
  }

  function maybePoll() {
    if (!active || presence !== "available" || polling) return;
    pollLoop();
  }

  async function pollLoop() {
    const controller = new AbortController();
    polling = controller;
    while (!controller.signal.aborted && active && presence === "available") {
      try {
        // While an offer is shown the same long-poll watches it (`shown`): the hub answers as soon as it closes
        // that offer (withdrawn, lapsed, reassigned) or makes another, so the screen never keeps a closed offer
        // while the hub counts this officer free and offers them the next case unseen.
        const shown = offer ? offer.id : null;
        const watch = shown ? `&shown=${encodeURIComponent(shown)}` : "";
        const found = await api.get(`/api/v1/officers/me/offer?wait=${LONG_POLL_S}${watch}`, {
          signal: controller.signal,
        });
        if (controller.signal.aborted) break;
        if (found && found.id !== (offer && offer.id)) showOffer(found);
        else if (!found && shown && offer && offer.id === shown) {
          hideOffer();
          status(t("offer_closed"), 6000);
        }
      } catch (err) {
        if (controller.signal.aborted) break;
        showError(err);
        if (err instanceof ApiError && err.status === 401) break;
        await new Promise((resolve) => window.setTimeout(resolve, 2000));
      }
    }
    if (polling === controller) polling = null;
  }

  function showOffer(found) {
    offer = found;
    $("offer-procedure").textContent = label("procedure", found.procedure);
    // Names and the 受付番号, not ids and codes: what the officer reads and may say to the counter.
    $("offer-office").textContent = found.post_office_name || "—";
    $("offer-municipality").textContent = found.municipality_name || "—";
    $("offer-waiting").textContent = found.waiting_seconds == null ? "—" : duration(found.waiting_seconds);
    $("offer-case").textContent = referenceOf(found);
    show("offer", true);
    show("offer-empty", false);
    const expires = new Date(found.expires_at).getTime();
    const total = Math.max(1, expires - new Date(found.offered_at).getTime());
    const tick = () => {
      const left = Math.min(total, expires - hubNow()); // the skew estimate is only good to a second
      $("offer-countdown").textContent = String(Math.max(0, Math.ceil(left / 1000)));
      $("offer-progress").value = Math.max(0, Math.min(100, (left / total) * 100));
      if (left <= 0) {
        hideOffer();
        status(t("offer_expired"), 6000);
        maybePoll();
      }
    };
    window.clearInterval(countdownTimer);
    countdownTimer = window.setInterval(tick, 250);
    tick();
    $("offer-accept").focus();
  }

  function hideOffer() {
    window.clearInterval(countdownTimer);
    offer = null;
    show("offer", false);
    show("offer-empty", true);
  }

  async function accept() {
    if (!offer) return;
    const id = offer.id;
    stopPolling(); // the answer closes the offer: the watch must not report that as a withdrawal
    try {
      const caseRead = await busy($("offer-accept"), t("accepting"), () =>
        api.post(`/api/v1/offers/${encodeURIComponent(id)}/accept`),
      );
      hideOffer();
      pause();
      onAccepted(caseRead);
    } catch (err) {
      showError(err);
      hideOffer();
      maybePoll();
    }
  }

  async function decline(reason) {
    if (!offer) return;
    const id = offer.id;
    stopPolling(); // the answer closes the offer: the watch must not report that as a withdrawal
    try {
      await api.post(`/api/v1/offers/${encodeURIComponent(id)}/decline`, { reason });
      status(t("offer_declined"));
    } catch (err) {
      showError(err);
    }
    hideOffer();
    maybePoll();
  }

  for (const radio of document.querySelectorAll("input[name=presence]")) {
    radio.addEventListener("change", () => {
      if (radio.checked) setPresence(radio.value);
    });
  }
  $("offer-accept").addEventListener("click", () => {
    showError(null);
    accept();
  });
  $("offer-decline-coi").addEventListener("click", () => decline("conflict_of_interest"));
  $("offer-decline-other").addEventListener("click", () => decline("other"));
  onLangChange(() => {
    if (offer) $("offer-procedure").textContent = label("procedure", offer.procedure);
    const effective = $("presence-effective").dataset.status;
    if (effective) $("presence-effective").textContent = label("presence_state", effective);
  });

  return { start, stop, resume, pause };
}
