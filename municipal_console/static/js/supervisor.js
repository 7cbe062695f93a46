// The supervisor's view: the municipality's queue per post office with waiting times, the cases being verified
// now, the officers (by name) and their states, reassignment of a waiting case with a reason code (an override
// recorded at the hub), and flagged cases: evidence on legal hold, set here or by the officer who suspected
// impersonation, lifted only here.
import { api } from "./api.js";
import { $, el, phrase, show, status, showError, busy, duration, timeOf } from "./dom.js";
import { t, label, onLangChange } from "./i18n.js";
import { HOLD_REASONS } from "./contract.js";
import { referenceOf } from "./format.js";

const POLL_MS = 5000;

export function createSupervisorScreen() {
  // The hold reasons the hub accepts, from the contract, after the "choose" option (labels follow the language).
  $("hold-reason").replaceChildren(
    $("hold-reason").options[0],
    ...HOLD_REASONS.map(({ code }) =>
      el("option", { value: code, text: label("hold", code), dataset: { i18n: `hold_${code}` } }),
    ),
  );
  let timer = 0;
  let overview = null;
  let fetchedAt = 0;
  let reassigning = null;
  let holding = null;

  async function refresh() {
    try {
      overview = await api.get("/api/v1/queue");
      fetchedAt = Date.now();
      render();
    } catch (err) {
      showError(err);
    }
  }

  function start() {
    window.clearInterval(timer);
    refresh();
    timer = window.setInterval(refresh, POLL_MS);
  }

  function stop() {
    window.clearInterval(timer);
    timer = 0;
  }

  const officerName = (id, name) => (id ? name || id : null);

  /** The 受付番号 people read for a case of the overview; its id stays in data attributes and URLs. */
  function shown(caseId) {
    const rows = overview ? [...overview.queued, ...(overview.live || []), ...(overview.flagged || [])] : [];
    return referenceOf(rows.find((row) => row.case_id === caseId));
  }

  function header(...keys) {
    return el("thead", {}, el("tr", {}, ...keys.map((key) => el("th", { scope: "col", text: t(key) }))));
  }

  function renderQueue(since) {
    const offices = new Map();
    for (const row of overview.queued) {
      if (!offices.has(row.post_office_id)) offices.set(row.post_office_id, { name: row.post_office_name, rows: [] });
      offices.get(row.post_office_id).rows.push(row);
    }
    const sections = [...offices.entries()].map(([office, { name, rows }]) => {
      const longest = Math.max(...rows.map((row) => row.waiting_seconds)) + since;
      const body = rows
        .sort((a, b) => b.waiting_seconds - a.waiting_seconds)
        .map((row) =>
          el(
            "tr",
            { dataset: { case: row.case_id } },
            el("th", { scope: "row", className: "mono", text: referenceOf(row) }),
            el("td", { text: label("procedure", row.procedure) }),
            el("td", { text: duration(row.waiting_seconds + since), dataset: { seconds: String(Math.round(row.waiting_seconds)) } }),
            row.offered_to
              ? el("td", { text: officerName(row.offered_to, row.offered_to_name), dataset: { value: "" } })
              : el("td", { text: t("not_offered") }),
            el(
              "td",
              {},
              el("button", {
                type: "button",
                className: "reassign-open",
                text: t("reassign"),
                "aria-label": t("reassign_label", { case: referenceOf(row) }),
                dataset: { case: row.case_id },
              }),
            ),
          ),
        );
      return el(
        "section",
        { className: "card office", dataset: { office } },
        el("h3", {}, ...phrase("office_heading_named", { office: name || office, count: rows.length }, ["office"])),
        el("p", { className: "muted small", text: t("office_longest_wait", { wait: duration(longest) }) }),
        el(
          "table",
          {},
          header("case_reference", "procedure", "waiting", "offered_to", "reassign"),
          el("tbody", {}, ...body),
        ),
      );
    });
    $("sup-offices").replaceChildren(...sections);
    show("sup-empty", overview.queued.length === 0);
  }

  function renderLive(since) {
    const live = overview.live || [];
    show("sup-live-table", live.length > 0);
    show("sup-live-empty", live.length === 0);
    $("sup-live").replaceChildren(
      ...live.map((row) =>
        el(
          "tr",
          { dataset: { case: row.case_id } },
          el("th", { scope: "row", className: "mono", text: referenceOf(row) }),
          el("td", { text: row.post_office_name || "—", dataset: { value: "" } }),
          el("td", { text: label("procedure", row.procedure) }),
          el("td", { text: officerName(row.officer_id, row.officer_name) || "—", dataset: { value: "" } }),
          el("td", { text: label("state", row.state) }),
          el("td", { text: duration(row.live_seconds + since) }),
          el(
            "td",
            {},
            row.on_hold
              ? el("span", { className: "badge held", text: t("on_hold") })
              : el("button", {
                  type: "button",
                  className: "hold-open",
                  text: t("hold_open"),
                  "aria-label": t("hold_label", { case: referenceOf(row) }),
                  dataset: { case: row.case_id },
                }),
          ),
        ),
      ),
    );
  }

  function renderFlagged() {
    const flagged = overview.flagged || [];
    show("sup-flagged-table", flagged.length > 0);
    show("sup-flagged-empty", flagged.length === 0);
    $("sup-flagged").replaceChildren(
      ...flagged.map((row) =>
        el(
          "tr",
          { dataset: { case: row.case_id, reason: row.reason_code } },
          el("th", { scope: "row", className: "mono", text: referenceOf(row) }),
          el("td", { text: label("hold", row.reason_code) }),
          el("td", { text: officerName(row.set_by, row.set_by_name), dataset: { value: "" } }),
          el("td", { text: timeOf(row.set_at) }),
          el("td", { text: label("state", row.state) }),
          el(
            "td",
            {},
            el("button", {
              type: "button",
              className: "hold-release",
              text: t("hold_release"),
              "aria-label": t("hold_release_label", { case: referenceOf(row) }),
              dataset: { case: row.case_id },
            }),
          ),
        ),
      ),
    );
  }

  function renderOfficers() {
    $("sup-officers").replaceChildren(
      ...overview.officers.map((officer) =>
        el(
          "tr",
          { dataset: { officer: officer.account_id, status: officer.effective_status } },
          el(
            "th",
            { scope: "row" },
            el("span", { text: officer.display_name || officer.account_id, dataset: { value: "" } }),
            // The account id, shown on purpose beside the name (the ref class says so to the screen checks).
            el("span", { className: "mono small muted ref", text: ` ${officer.account_id}` }),
          ),
          el("td", { text: label("presence_state", officer.status) }),
          el("td", { className: "mono small", text: officer.live_case_id ? shown(officer.live_case_id) : "—" }),
          el("td", { text: label("presence_state", officer.effective_status) }),
          el("td", { text: timeOf(officer.heartbeat_at) }),
          el("td", { text: officer.wrapup_until ? timeOf(officer.wrapup_until) : "—" }),
          el("td", { text: officer.penalty_until ? timeOf(officer.penalty_until) : "—" }),
        ),
      ),
    );
  }

  function render() {
    if (!overview) return;
    const since = (Date.now() - fetchedAt) / 1000;
    $("sup-municipality").textContent = overview.municipality_name || overview.municipality_code;
    $("sup-updated").textContent = timeOf(new Date(fetchedAt).toISOString());
    renderQueue(since);
    renderLive(since);
    renderFlagged();
    renderOfficers();
  }

  function openReassign(caseId) {
    reassigning = caseId;
    $("reassign-case").textContent = shown(caseId);
    const select = $("reassign-officer");
    select.replaceChildren(
      el("option", { value: "", text: t("choose") }),
      ...(overview ? overview.officers : []).map((officer) =>
        el("option", {
          value: officer.account_id,
          text: `${officer.display_name || officer.account_id} (${label("presence_state", officer.effective_status)})`,
        }),
      ),
    );
    show("reassign", true);
    select.focus();
  }

  async function submitReassign(event) {
    event.preventDefault();
    const officer = $("reassign-officer").value;
    const reason = $("reassign-reason").value;
    if (!reassigning || !officer || !reason) {
      showError(t("reassign_need"));
      (officer ? $("reassign-reason") : $("reassign-officer")).focus();
      return;
    }
    try {
      await busy(event.submitter || null, t("loading"), () =>
        api.post(`/api/v1/cases/${encodeURIComponent(reassigning)}/reassign`, {
          officer_id: officer,
          reason_code: reason,
        }),
      );
      showError(null);
      const chosen = overview && overview.officers.find((row) => row.account_id === officer);
      status(t("reassign_done", { officer: (chosen && chosen.display_name) || officer }));
      show("reassign", false);
      reassigning = null;
      await refresh();
    } catch (err) {
      showError(err);
    }
  }

  function openHold(caseId) {
    holding = caseId;
    $("hold-case").textContent = shown(caseId);
    $("hold-reason").value = "";
    show("hold-form", true);
    $("hold-reason").focus();
  }

  async function submitHold(event) {
    event.preventDefault();
    const reason = $("hold-reason").value;
    if (!holding || !reason) {
      showError(t("hold_need"));
      $("hold-reason").focus();
      return;
    }
    try {
      await busy(event.submitter || null, t("loading"), () =>
        api.post(`/api/v1/cases/${encodeURIComponent(holding)}/legal-hold`, { reason_code: reason }),
      );
      showError(null);
      status(t("hold_done", { case: shown(holding) }));
      show("hold-form", false);
      holding = null;
      await refresh();
    } catch (err) {
      showError(err);
    }
  }

  async function release(caseId) {
    if (!window.confirm(t("hold_release_confirm", { case: shown(caseId) }))) return;
    try {
      await api.delete(`/api/v1/cases/${encodeURIComponent(caseId)}/legal-hold`);
      showError(null);
      status(t("hold_released", { case: shown(caseId) }));
      await refresh();
    } catch (err) {
      showError(err);
    }
  }

  $("sup-offices").addEventListener("click", (event) => {
    const button = event.target.closest("button.reassign-open");
    if (button) openReassign(button.dataset.case);
  });
  $("sup-live").addEventListener("click", (event) => {
    const button = event.target.closest("button.hold-open");
    if (button) openHold(button.dataset.case);
  });
  $("sup-flagged").addEventListener("click", (event) => {
    const button = event.target.closest("button.hold-release");
    if (button) release(button.dataset.case);
  });
  $("reassign").addEventListener("submit", submitReassign);
  $("reassign-cancel").addEventListener("click", () => {
    show("reassign", false);
    reassigning = null;
  });
  $("hold-form").addEventListener("submit", submitHold);
  $("hold-cancel").addEventListener("click", () => {
    show("hold-form", false);
    holding = null;
  });
  onLangChange(render);

  return { start, stop };
}
