// 報告・統計 / the reports page: a month's figures from the hub's reports API (service/wire/reports.py), drawn
// here (js/chart.js) and downloadable as the hub's xlsx, CSV and PDF. A supervisor or manager reads their own
// municipality (per day, per post office, per procedure, by reason); the ministry reads the national view, which
// is aggregated only and shows a withheld small count as the hub sends it ("<3") beside the hub's own rule
// (docs/reports.md §Suppression). Codes are never shown: labels come from the contract (docs/reports.md §Console).
import { api, requestFile } from "./api.js";
import { $, el, show, showError, errorText } from "./dom.js";
import { t, label, currentLang, onLangChange } from "./i18n.js";
import { CERTIFICATE_KINDS, PROCEDURES } from "./contract.js";
import { barChart, lineChart, figure } from "./chart.js";

const BASE = "/api/v1/reports";
const FORMATS = {
  xlsx: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
  csv: "text/csv",
  pdf: "application/pdf",
};
// The figures the municipal page heads with, in the order a month's work runs.
const HEADLINE = ["received", "approved", "rejected", "referred", "withdrawn", "submitted_to_jlis", "mailed", "delivered"];
const DAILY = ["received", "approved", "rejected", "referred"];
const PIPELINE = [
  "submitted_to_jlis",
  "card_produced",
  "card_received",
  "pre_issue_setup_done",
  "mailed",
  "delivered",
  "returned",
  "awaiting_pickup",
];
const REASONED = ["rejected", "referred", "withdrawn", "aborted", "returned"];
const WITHHELD = "<3";

/** "2026年11月" or "November 2026" for "2026-11". */
function monthName(month) {
  const [year, number] = month.split("-").map(Number);
  if (currentLang() === "ja") return `${year}年${number}月`;
  return new Date(Date.UTC(year, number - 1, 1)).toLocaleDateString("en-GB", { month: "long", year: "numeric", timeZone: "UTC" });
}

/** "11月3日（火）" or "Tue 3 Nov" for an ISO day. */
function dayName(iso) {
  const date = new Date(`${iso}T00:00:00Z`);
  const locale = currentLang() === "ja" ? "ja-JP" : "en-GB";
  const weekday = date.toLocaleDateString(locale, { weekday: "short", timeZone: "UTC" });
  if (currentLang() === "ja") return `${date.getUTCMonth() + 1}月${date.getUTCDate()}日（${weekday}）`;
  return `${weekday} ${date.getUTCDate()} ${date.toLocaleDateString(locale, { month: "short", timeZone: "UTC" })}`;
}

function seconds(value) {
  if (value === null || value === undefined) return "—";
  const total = Math.round(value);
  return total < 60 ? t("reports_seconds", { n: total }) : t("reports_minutes", { m: Math.floor(total / 60), s: total % 60 });
}

export function createReportsScreen({ onScope } = {}) {
  let scope = null;
  let report = null;
  let loadedQuery = null;
  let prefecture = "";
  let failed = null; // the last refused download {format, err, button}, said again after a language switch

  function monthSelect() {
    const select = $("reports-month");
    const chosen = select.value;
    select.replaceChildren(...(scope ? scope.months : []).map((month) => el("option", { value: month, text: monthName(month) })));
    if (chosen && scope && scope.months.includes(chosen)) select.value = chosen;
  }

  function procedureSelect() {
    const select = $("reports-procedure");
    const chosen = select.value;
    select.replaceChildren(
      el("option", { value: "", text: t("reports_all_procedures") }),
      ...PROCEDURES.map(({ code }) => el("option", { value: code, text: label("procedure", code) })),
    );
    select.value = chosen;
  }

  function officeSelect() {
    const select = $("reports-office");
    const chosen = select.value;
    const offices = report && report.kind === "municipal" ? report.by_office : null;
    if (offices) {
      select.replaceChildren(
        el("option", { value: "", text: t("reports_all_offices") }),
        ...offices.map((row) => el("option", { value: row.post_office_id, text: row.office_name, dataset: { value: "" } })),
      );
    } else if (select.options[0]) {
      select.options[0].textContent = t("reports_all_offices");
    }
    select.value = chosen;
  }

  function prefectureSelect() {
    const select = $("reports-prefecture");
    const rows = report && report.kind === "national" ? report.by_prefecture : [];
    select.replaceChildren(
      el("option", { value: "", text: t("reports_all_prefectures") }),
      ...rows.map((row) => el("option", { value: row.prefecture_code, text: row.prefecture_name, dataset: { value: "" } })),
    );
    select.value = prefecture;
  }

  function query() {
    return {
      month: $("reports-month").value,
      office: scope && scope.national ? "" : $("reports-office").value,
      procedure: scope && scope.national ? "" : $("reports-procedure").value,
    };
  }

  /** The hub's route for the month (and its export): the national view, or the caller's own municipality. */
  function path(q, format = null) {
    const month = encodeURIComponent(q.month);
    const view = scope.national
      ? `${BASE}/national/months/${month}`
      : `${BASE}/municipalities/${encodeURIComponent(scope.municipality_code)}/months/${month}`;
    return format ? `${view}/report.${format}` : view;
  }

  async function start() {
    showError(null);
    try {
      scope = await api.get(`${BASE}/scope`);
    } catch (err) {
      showError(err);
      return;
    }
    if (onScope) onScope(scope);
    show("reports-office-field", !scope.national);
    show("reports-procedure-field", !scope.national);
    show("reports-prefecture-field", scope.national);
    monthSelect();
    procedureSelect();
    await load();
  }

  function stop() {
    failed = null;
    report = null;
    loadedQuery = null;
  }

  async function load() {
    if (!scope || !$("reports-month").value) return;
    const q = query();
    if (report && loadedQuery && loadedQuery.month === q.month) {
      // The month is already here: a post office or a procedure is a slice of it, cut in the page.
      loadedQuery = q;
      render();
      return;
    }
    show("reports-loading", true);
    $("reports-show").disabled = true;
    try {
      report = await api.get(path(q));
      loadedQuery = q;
      showError(null);
      render();
    } catch (err) {
      showError(err);
    } finally {
      show("reports-loading", false);
      $("reports-show").disabled = false;
    }
  }

  // What the report covers, as nodes: the municipality and the post office are data (data-value), the rest words.
  function scopeLine() {
    const month = monthName(report.period.month);
    const days = t("reports_working_days", { n: report.period.working_days, days: report.period.days });
    if (report.kind === "national") return [`${t("reports_national")} · ${month} · ${days}`];
    const data = (text) => el("span", { dataset: { value: "" }, text });
    const parts = [data(report.municipality_name), month];
    if (loadedQuery.office) {
      const office = report.by_office.find((row) => row.post_office_id === loadedQuery.office);
      parts.push(office ? data(office.office_name) : t("post_office"));
    }
    if (loadedQuery.procedure) parts.push(label("procedure", loadedQuery.procedure));
    return [...parts, days].flatMap((part, i) => (i ? [" · ", part] : [part]));
  }

  function totals(entries) {
    $("reports-totals").replaceChildren(
      ...entries.map(([key, text, value]) =>
        el("div", { dataset: { figure: key } }, el("dt", { text }), el("dd", { text: value })),
      ),
    );
  }

  function reasonRows(figures) {
    const rows = [];
    const separator = currentLang() === "ja" ? "：" : ": ";
    for (const name of REASONED) {
      for (const [code, count] of Object.entries(figures[`${name}_by_reason`] || {})) {
        if (count > 0) rows.push({ label: `${label("figure", name)}${separator}${label("reason", code)}`, value: count });
      }
    }
    return rows;
  }

  /** The month's figures of the chosen post office or procedure (the hub reports each as a row), or null for all. */
  function slice() {
    if (loadedQuery.office) {
      const row = report.by_office.find((entry) => entry.post_office_id === loadedQuery.office);
      return row ? row.figures : null;
    }
    if (loadedQuery.procedure) {
      const row = report.by_procedure.find((entry) => entry.procedure === loadedQuery.procedure);
      return row ? row.figures : null;
    }
    return null;
  }

  function renderMunicipal() {
    const part = slice();
    const f = part || report.totals;
    const timing = report.timings;
    const averages = report.working_day_averages.averages;
    // Timings, averages and designations are the municipality's: shown for the whole month, not for a slice.
    const whole = part
      ? []
      : [
          ["received_average", t("reports_received_average"), averages.received === null ? "—" : figure(averages.received)],
          ["queue_wait", t("reports_queue_wait"), `${seconds(timing.queue_wait_seconds.p50)} / ${seconds(timing.queue_wait_seconds.p90)}`],
          ["handling", t("reports_handling"), `${seconds(timing.handling_seconds.p50)} / ${seconds(timing.handling_seconds.p90)}`],
          ["drops", t("reports_drops"), `${figure(timing.drops)} / ${figure(timing.calls)}`],
          ["designations", t("reports_designations"), figure(report.designations.offices)],
        ];
    totals([...HEADLINE.map((key) => [key, label("figure", key), figure(f[key])]), ...whole]);
    const days = report.by_day;
    const daily = lineChart({
      name: "daily",
      title: t("chart_daily_title", { month: monthName(report.period.month) }),
      desc: t("chart_daily_desc", {
        series: DAILY.map((key) => label("figure", key)).join(currentLang() === "ja" ? "、" : ", "),
        received: figure(f.received),
        approved: figure(f.approved),
      }),
      labels: days.map((day) => dayName(day.day) + (day.working_day ? "" : t("reports_day_off_mark"))),
      shortLabels: days.map((day) => String(Number(day.day.slice(8)))),
      series: DAILY.map((key) => ({ name: label("figure", key), values: days.map((day) => day.figures[key]) })),
      labelHeader: t("reports_day"),
      note: part ? `${t("reports_day_off_note")} ${t("reports_daily_whole")}` : t("reports_day_off_note"),
      width: 960,
    });
    daily.classList.add("wide");
    const offices = report.by_office.map((row) => ({ label: row.office_name, value: row.figures.received, data: true }));
    const procedures = report.by_procedure.map((row) => ({ label: label("procedure", row.procedure), value: row.figures.received }));
    const reasons = reasonRows(f);
    const pipeline = PIPELINE.map((key) => ({ label: label("figure", key), value: f[key] }));
    const charts = [
      daily,
      barChart({
        name: "offices",
        title: t("chart_offices_title"),
        desc: t("chart_breakdown_desc", { count: offices.length, what: label("figure", "received") }),
        rows: offices,
        labelHeader: t("post_office"),
        valueHeader: label("figure", "received"),
      }),
      barChart({
        name: "procedures",
        title: t("chart_procedures_title"),
        desc: t("chart_breakdown_desc", { count: procedures.length, what: label("figure", "received") }),
        rows: procedures,
        labelHeader: t("procedure"),
        valueHeader: label("figure", "received"),
      }),
      barChart({
        name: "pipeline",
        title: t("chart_pipeline_title"),
        desc: t("chart_pipeline_desc"),
        rows: pipeline,
        labelHeader: t("reports_figure"),
        valueHeader: t("reports_count"),
      }),
    ];
    if (reasons.length) {
      charts.push(
        barChart({
          name: "reasons",
          title: t("chart_reasons_title"),
          desc: t("chart_breakdown_desc", { count: reasons.length, what: t("reports_count") }),
          rows: reasons,
          labelHeader: t("reason_code"),
          valueHeader: t("reports_count"),
        }),
      );
    }
    const certificates = report.certificates;
    const kindName = (code) => {
      const kind = CERTIFICATE_KINDS.find((k) => k.code === code);
      return kind ? (currentLang() === "ja" ? kind.ja : kind.en) : code;
    };
    const issued = certificates.kinds.map((row) => ({ label: kindName(row.kind), value: row.figures.issued }));
    const columns = ["issued", "handed_over", "reprints", "voided", "collected_yen", "refunded_yen"];
    const amount = (key, value) => (key.endsWith("_yen") ? t("reports_yen", { n: figure(value) }) : figure(value));
    charts.push(
      barChart({
        name: "certificates",
        title: t("reports_certificates"),
        desc: t("chart_breakdown_desc", { count: issued.length, what: t("certificate_issued") }),
        rows: issued,
        labelHeader: t("reports_certificate_kind"),
        valueHeader: t("certificate_issued"),
      }),
      el(
        "section",
        { className: "chart", dataset: { chart: "certificate-fees" } },
        el("h3", { text: t("reports_certificate_fees") }),
        el(
          "table",
          {},
          el(
            "thead",
            {},
            el(
              "tr",
              {},
              el("th", { scope: "col", text: t("reports_certificate_kind") }),
              ...columns.map((key) => el("th", { scope: "col", text: t(`certificate_${key}`) })),
            ),
          ),
          el(
            "tbody",
            {},
            ...[...certificates.kinds, { kind: null, figures: certificates.totals }].map((row) =>
              el(
                "tr",
                {},
                el("th", { scope: "row", text: row.kind === null ? t("reports_total") : kindName(row.kind) }),
                ...columns.map((key) => el("td", { text: amount(key, row.figures[key]) })),
              ),
            ),
          ),
        ),
      ),
    );
    $("reports-charts").replaceChildren(...charts);
    show("reports-suppressed", false);
    show("reports-empty", f.received === 0 && days.every((day) => day.figures.received === 0) && report.by_office.length === 0);
  }

  /** A national figure: the count, or the hub's "<3" when it withheld it. */
  function activity(block, key) {
    const value = block.values[key];
    return { value: value === undefined ? null : value, mark: WITHHELD };
  }

  function renderNational() {
    const a = report.activity;
    totals([
      ["municipalities_in_force", t("reports_municipalities_in_force"), figure(report.municipalities_in_force)],
      ["offices_in_force", t("reports_offices_in_force"), figure(report.offices_in_force)],
      ["municipalities_planned", t("reports_municipalities_planned"), figure(report.municipalities_planned)],
      ["offices_planned", t("reports_offices_planned"), figure(report.offices_planned)],
      ...Object.keys(a.values).map((key) => [key, label("figure", key), a.values[key] === null ? WITHHELD : figure(a.values[key])]),
    ]);
    const rule = currentLang() === "ja" ? report.suppression.rule_ja : report.suppression.rule_en;
    $("reports-suppressed").textContent = rule;
    show("reports-suppressed", true);
    const prefectures = report.by_prefecture.filter((row) => !prefecture || row.prefecture_code === prefecture);
    const municipalities = report.by_municipality.filter((row) => {
      if (!prefecture) return true;
      const chosen = report.by_prefecture.find((p) => p.prefecture_code === prefecture);
      return chosen && row.prefecture_name === chosen.prefecture_name;
    });
    // The "<3" note under a chart only when that chart has a withheld bar.
    const withheldNote = (rows) => (rows.some((row) => row.activity.suppressed.includes("received")) ? t("reports_withheld_note") : null);
    const charts = [
      barChart({
        name: "programmes-offices",
        title: t("chart_programme_offices_title"),
        desc: t("chart_programme_desc", { as_of: dayName(report.as_of) }),
        rows: report.programmes.map((row) => ({ label: label("procedure", row.procedure), value: row.offices_in_force })),
        labelHeader: t("procedure"),
        valueHeader: t("reports_offices_in_force"),
      }),
      barChart({
        name: "programmes-municipalities",
        title: t("chart_programme_municipalities_title"),
        desc: t("chart_programme_desc", { as_of: dayName(report.as_of) }),
        rows: report.programmes.map((row) => ({ label: label("procedure", row.procedure), value: row.municipalities_in_force })),
        labelHeader: t("procedure"),
        valueHeader: t("reports_municipalities_in_force"),
      }),
      barChart({
        name: "prefectures",
        title: t("chart_prefectures_title"),
        desc: t("chart_breakdown_desc", { count: prefectures.length, what: label("figure", "received") }),
        rows: prefectures.map((row) => ({ label: row.prefecture_name, data: true, ...activity(row.activity, "received") })),
        labelHeader: t("reports_prefecture"),
        valueHeader: label("figure", "received"),
        note: withheldNote(prefectures),
      }),
      barChart({
        name: "municipalities",
        title: t("chart_municipalities_title"),
        desc: t("chart_breakdown_desc", { count: municipalities.length, what: label("figure", "received") }),
        rows: municipalities.map((row) => ({
          label: `${row.prefecture_name} ${row.municipality_name}`,
          data: true,
          ...activity(row.activity, "received"),
        })),
        labelHeader: t("municipality"),
        valueHeader: label("figure", "received"),
        note: withheldNote(municipalities),
      }),
    ];
    $("reports-charts").replaceChildren(...charts);
    show("reports-empty", report.by_prefecture.length === 0);
  }

  function render() {
    if (!report) return;
    monthSelect();
    procedureSelect();
    officeSelect();
    if (report.kind === "national") prefectureSelect();
    $("reports-scope").replaceChildren(...scopeLine());
    if (report.kind === "national") renderNational();
    else renderMunicipal();
  }

  /** Which file failed and why, in the console's words, next to the buttons; the hub's code stays in data-code. */
  function sayFailure() {
    if (!failed) return;
    const { format, err, button } = failed;
    showError(t("download_failed", { format: t(`download_${format}`), reason: errorText(err) }), button.parentElement);
    const shown = button.parentElement.nextElementSibling;
    if (shown && err && err.code) shown.dataset.code = err.code;
  }

  /** One export: the button busy with a progress bar while the hub builds the file, then the browser saves it. */
  async function download(button) {
    if (!scope || !loadedQuery) return;
    const format = button.dataset.format;
    const buttons = [...document.querySelectorAll("#screen-reports button.download")];
    for (const other of buttons) other.disabled = true;
    button.setAttribute("aria-busy", "true");
    show("download-progress", true);
    $("download-state").textContent = t("downloading_format", { format: t(`download_${format}`) });
    showError(null);
    failed = null;
    try {
      const { blob, filename } = await requestFile(path(loadedQuery, format), FORMATS[format]);
      const link = el("a", { href: URL.createObjectURL(blob), download: filename, hidden: true });
      document.body.append(link);
      link.click();
      link.remove();
      window.setTimeout(() => URL.revokeObjectURL(link.href), 60_000);
      $("download-state").textContent = t("downloaded", { file: filename });
    } catch (err) {
      $("download-state").textContent = "";
      failed = { format, err, button };
      sayFailure();
    } finally {
      for (const other of buttons) other.disabled = false;
      button.removeAttribute("aria-busy");
      show("download-progress", false);
    }
  }

  $("reports-filter").addEventListener("submit", (event) => {
    event.preventDefault();
    load();
  });
  // One slice at a time: the hub reports a month per post office and per procedure, not per both.
  $("reports-office").addEventListener("change", () => {
    if ($("reports-office").value) $("reports-procedure").value = "";
  });
  $("reports-procedure").addEventListener("change", () => {
    if ($("reports-procedure").value) $("reports-office").value = "";
  });
  $("reports-prefecture").addEventListener("change", () => {
    prefecture = $("reports-prefecture").value;
    render();
  });
  for (const button of document.querySelectorAll("#screen-reports button.download")) {
    button.addEventListener("click", () => download(button));
  }
  onLangChange(() => {
    monthSelect();
    procedureSelect();
    render();
    if (failed && document.querySelector("#screen-reports .field-error")) sayFailure();
  });

  return { start, stop };
}
