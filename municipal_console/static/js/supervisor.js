// The supervisor's view: the municipality's queue per post office with waiting times, the officers' states,
// and reassignment of a waiting case to a named officer with a reason (recorded at the hub as an override).
import { api } from "./api.js";
import { $, el, show, status, showError, busy, duration, timeOf } from "./dom.js";
import { t, label, onLangChange } from "./i18n.js";

const POLL_MS = 5000;

export function createSupervisorScreen() {
  let timer = 0;
  let overview = null;
  let fetchedAt = 0;
  let reassigning = null;

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

  function render() {
    if (!overview) return;
    const since = (Date.now() - fetchedAt) / 1000;
    $("sup-municipality").textContent = overview.municipality_code;
    $("sup-updated").textContent = new Date(fetchedAt).toLocaleTimeString();
    const offices = new Map();
    for (const row of overview.queued) {
      if (!offices.has(row.post_office_id)) offices.set(row.post_office_id, []);
      offices.get(row.post_office_id).push(row);
    }
    const sections = [...offices.entries()].map(([office, rows]) => {
      const body = rows
        .sort((a, b) => b.waiting_seconds - a.waiting_seconds)
        .map((row) =>
          el(
            "tr",
            { dataset: { case: row.case_id } },
            el("th", { scope: "row", className: "mono", text: row.case_id }),
            el("td", { text: label("procedure", row.procedure) }),
            el("td", { text: duration(row.waiting_seconds + since) }),
            el("td", { className: "mono", text: row.offered_to || t("not_offered") }),
            el(
              "td",
              {},
              el("button", {
                type: "button",
                className: "reassign-open",
                text: t("reassign"),
                "aria-label": t("reassign_label", { case: row.case_id }),
                dataset: { case: row.case_id },
              }),
            ),
          ),
        );
      return el(
        "section",
        { className: "card" },
        el("h3", { text: t("office_heading", { office, count: rows.length }) }),
        el(
          "table",
          {},
          el(
            "thead",
            {},
            el(
              "tr",
              {},
              el("th", { scope: "col", text: t("case_id") }),
              el("th", { scope: "col", text: t("procedure") }),
              el("th", { scope: "col", text: t("waiting") }),
              el("th", { scope: "col", text: t("offered_to") }),
              el("th", { scope: "col", text: t("reassign") }),
            ),
          ),
          el("tbody", {}, ...body),
        ),
      );
    });
    $("sup-offices").replaceChildren(...sections);
    show("sup-empty", overview.queued.length === 0);
    $("sup-officers").replaceChildren(
      ...overview.officers.map((officer) =>
        el(
          "tr",
          { dataset: { officer: officer.account_id } },
          el("th", { scope: "row", className: "mono", text: officer.account_id }),
          el("td", { text: label("presence_state", officer.status) }),
          el("td", { text: label("presence_state", officer.effective_status) }),
          el("td", { text: timeOf(officer.heartbeat_at) }),
          el("td", { text: officer.wrapup_until ? timeOf(officer.wrapup_until) : "—" }),
          el("td", { text: officer.penalty_until ? timeOf(officer.penalty_until) : "—" }),
        ),
      ),
    );
  }

  function openReassign(caseId) {
    reassigning = caseId;
    $("reassign-case").textContent = caseId;
    const select = $("reassign-officer");
    select.replaceChildren(
      el("option", { value: "", text: t("choose") }),
      ...(overview ? overview.officers : []).map((officer) =>
        el("option", {
          value: officer.account_id,
          text: `${officer.account_id} (${label("presence_state", officer.effective_status)})`,
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
      status(t("reassign_done", { officer }));
      show("reassign", false);
      reassigning = null;
      await refresh();
    } catch (err) {
      showError(err);
    }
  }

  $("sup-offices").addEventListener("click", (event) => {
    const button = event.target.closest("button.reassign-open");
    if (button) openReassign(button.dataset.case);
  });
  $("reassign").addEventListener("submit", submitReassign);
  $("reassign-cancel").addEventListener("click", () => {
    show("reassign", false);
    reassigning = null;
  });
  onLangChange(render);

  return { start, stop };
}
