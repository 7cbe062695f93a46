// Entry point of the officer console: language, login, and which screen the signed-in role sees.
import { api, login, logout, session, onSessionEnd } from "./api.js";
import { LIVE_STATES } from "./contract.js";
import { $, phrase, show, status, showError, busy } from "./dom.js";
import { t, translate, setLang, currentLang, label } from "./i18n.js";
import { createQueueScreen } from "./queue.js";
import { createLiveScreen } from "./live.js";
import { createSupervisorScreen } from "./supervisor.js";
import { createReportsScreen } from "./reports.js";
import * as notices from "./notices.js";
import { startWrapup, stopWrapup } from "./wrapup.js";

const SCREENS = ["screen-login", "screen-queue", "screen-live", "screen-done", "screen-supervisor", "screen-reports"];
// Who reads the reports page: the supervisor beside the queue, the manager and the ministry only there.
const REPORT_ROLES = ["supervisor", "manager", "ministry"];
const LIVE_KEY = "madoguchi.console.live_case";

function screen(id, focus = true) {
  for (const name of SCREENS) show(name, name === id);
  document.body.dataset.screen = id;
  for (const button of $("nav").querySelectorAll("button")) {
    if (button.dataset.screen === id) button.setAttribute("aria-current", "page");
    else button.removeAttribute("aria-current");
  }
  if (focus) {
    const heading = $(id).querySelector("h2");
    if (heading) {
      heading.tabIndex = -1;
      heading.focus();
    }
  }
}

const queue = createQueueScreen({ onAccepted: openLive });
const live = createLiveScreen({ onDone: decided });
const supervisor = createSupervisorScreen();
const reports = createReportsScreen({
  onScope: (scope) => {
    municipalityName = scope.municipality_name || null;
    renderWho();
  },
});

function openLive(caseRead) {
  window.sessionStorage.setItem(LIVE_KEY, caseRead.id);
  screen("screen-live");
  live.open(caseRead);
}

function decided(caseRead) {
  window.sessionStorage.removeItem(LIVE_KEY);
  $("done-state").textContent = label("state", caseRead.state);
  $("done-state").dataset.state = caseRead.state;
  screen("screen-done");
  $("done-back").focus();
  startWrapup(caseRead);
}

// People read the municipality's name, not its code (docs/domain.md §B4.1); the queue overview carries it.
let municipalityName = null;

async function learnMunicipalityName() {
  try {
    const overview = await api.get("/api/v1/queue");
    municipalityName = (overview && overview.municipality_name) || null;
    renderWho();
  } catch {
    // the code stays shown until the next sign-in
  }
}

function renderWho() {
  const current = session();
  // The user and the municipality are data (marked so by phrase), the role and the frame are the console's words.
  const nationwide = !municipalityName && !current?.municipality_code && current?.role === "ministry";
  $("who").replaceChildren(
    ...(current
      ? phrase(
          "who",
          {
            user: current.username,
            role: t(`role_${current.role}`),
            municipality: municipalityName || current.municipality_code || (nationwide ? t("reports_all_prefectures") : "—"),
          },
          nationwide ? ["user"] : ["user", "municipality"],
        )
      : []),
  );
  show("logout", Boolean(current));
}

async function enter() {
  const current = session();
  renderWho();
  if (!current) {
    notices.hide();
    screen("screen-login");
    $("login-username").focus();
    return;
  }
  notices.showNew();
  if (current.role === "supervisor" || current.role === "officer") learnMunicipalityName();
  if (current.role === "supervisor") {
    show("nav", true);
    screen("screen-supervisor");
    supervisor.start();
    return;
  }
  if (REPORT_ROLES.includes(current.role)) {
    // The manager and the ministry read figures only: no queue, no case, no navigation to them.
    screen("screen-reports");
    reports.start();
    return;
  }
  if (current.role !== "officer") {
    showError(t("wrong_role"));
    await logout();
    return;
  }
  queue.start();
  const liveCase = window.sessionStorage.getItem(LIVE_KEY);
  if (liveCase) {
    try {
      const caseRead = await api.get(`/api/v1/cases/${encodeURIComponent(liveCase)}`);
      if (LIVE_STATES.includes(caseRead.state)) {
        openLive(caseRead);
        return;
      }
    } catch {
      // the case is gone or no longer ours: back to the queue
    }
    window.sessionStorage.removeItem(LIVE_KEY);
  }
  screen("screen-queue");
  queue.resume();
}

function leave() {
  municipalityName = null;
  notices.hide();
  stopWrapup();
  queue.stop();
  live.close();
  supervisor.stop();
  reports.stop();
  show("nav", false);
  window.sessionStorage.removeItem(LIVE_KEY);
  renderWho();
  screen("screen-login");
}

$("login-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  showError(null);
  const username = $("login-username").value.trim();
  const password = $("login-password").value;
  const totp = $("login-totp").value.trim();
  try {
    await busy($("login-submit"), t("logging_in"), () => login(username, password, totp || undefined));
    $("login-password").value = "";
    $("login-totp").value = "";
    await enter();
  } catch (err) {
    showError(err);
    $("login-password").focus();
  }
});

// The button starts disabled (index.html): a click before this script ran would submit the form natively, putting
// the password in the address. From here the handler above takes it.
$("login-submit").disabled = false;

$("logout").addEventListener("click", async () => {
  await logout();
});

$("nav").addEventListener("click", (event) => {
  const button = event.target.closest("button[data-screen]");
  if (!button || button.getAttribute("aria-current") === "page") return;
  if (button.dataset.screen === "screen-reports") {
    supervisor.stop();
    screen("screen-reports");
    reports.start();
  } else {
    reports.stop();
    screen("screen-supervisor");
    supervisor.start();
  }
});

$("done-back").addEventListener("click", () => {
  screen("screen-queue");
  queue.resume();
});

$("lang-toggle").addEventListener("click", () => {
  setLang(currentLang() === "ja" ? "en" : "ja");
  renderWho();
  const state = $("done-state").dataset.state;
  if (state) $("done-state").textContent = label("state", state);
});

onSessionEnd(() => {
  leave();
  status(t("error_session"), 8000);
});

// Alt+letter shortcuts, declared on the buttons as aria-keyshortcuts (accept, decline, still, challenge, send).
// Handled here rather than with accesskey, whose modifier differs per browser and platform.
document.addEventListener("keydown", (event) => {
  if (!event.altKey || event.ctrlKey || event.metaKey || !/^Key[A-Z]$/.test(event.code)) return;
  const wanted = `Alt+${event.code.slice(3)}`;
  for (const button of document.querySelectorAll("[aria-keyshortcuts]")) {
    if (button.getAttribute("aria-keyshortcuts") !== wanted || button.disabled || !button.checkVisibility()) continue;
    event.preventDefault();
    button.focus();
    button.click();
    return;
  }
});

translate();
enter().catch((err) => showError(err));
