// Charts drawn here as SVG, no library and no CDN (the console works offline): horizontal bars for a breakdown,
// lines for a series per day. Each chart is a <figure> whose SVG is one image to assistive technology
// (role="img" named by its <title> and <desc>), followed by the same figures as a table behind a button; the
// table is also what prints under the chart. Colours come from console.css (series-0…), and every line has its own
// dash and marker so the chart still reads in black and white. A suppressed figure (value null) is drawn as an
// empty outlined bar or a gap in the line, with the mark the hub sent in its place.
import { t, currentLang } from "./i18n.js";
import { el } from "./dom.js";

const SVG_NS = "http://www.w3.org/2000/svg";
const WIDTH = 640;
const FONT = 13;
let serial = 0;

function svg(tag, attrs = {}, ...children) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value !== undefined && value !== null) node.setAttribute(name, String(value));
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

/** A number as people read it in the console's language (1,234). */
export function figure(value) {
  return new Intl.NumberFormat(currentLang() === "ja" ? "ja-JP" : "en-GB", { maximumFractionDigits: 1 }).format(value);
}

/** Axis ticks from 0 to at least `max`: 1, 2 or 5 times a power of ten, about four steps. */
export function ticks(max) {
  if (!(max > 0)) return [0, 1];
  const raw = max / 4;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * power).find((candidate) => candidate >= raw);
  const whole = Math.max(1, Math.round(step));
  const out = [];
  for (let v = 0; v < max + whole; v += whole) out.push(v);
  return out;
}

/** What a cell shows: the figure, or the hub's mark for a suppressed one. */
function cellText(value, mark) {
  return value === null || value === undefined ? mark || "—" : figure(value);
}

/** Text as wide as the SVG's font draws it, roughly: a full-width character counts twice. */
function textWidth(text) {
  let units = 0;
  for (const char of text) units += char.charCodeAt(0) > 0x2e7f ? 2 : 1.1;
  return (units * FONT) / 2;
}

function clip(text, width) {
  if (textWidth(text) <= width) return text;
  let out = "";
  for (const char of text) {
    if (textWidth(`${out}${char}…`) > width) break;
    out += char;
  }
  return `${out}…`;
}

// Drawn at its own size in CSS pixels (the text stays 13 px) and shrunk, never stretched, to a narrower column.
function frame(title, desc, height, width = WIDTH) {
  const id = `chart-${++serial}`;
  return svg(
    "svg",
    {
      viewBox: `0 0 ${width} ${height}`,
      width,
      height,
      role: "img",
      "aria-labelledby": `${id}-title ${id}-desc`,
      class: "chart-svg",
      id,
      "font-size": FONT,
    },
    svg("title", { id: `${id}-title` }, title),
    svg("desc", { id: `${id}-desc` }, desc),
  );
}

/** The table behind a chart: header cells, then one row per entry (the first cell a row header). */
function dataTable(caption, headers, rows) {
  return el(
    "table",
    { className: "chart-table" },
    el("caption", { text: caption }),
    el("thead", {}, el("tr", {}, ...headers.map((text) => el("th", { scope: "col", text })))),
    el(
      "tbody",
      {},
      ...rows.map(([head, ...cells]) =>
        el("tr", {}, el("th", { scope: "row", text: head }), ...cells.map((text) => el("td", { text }))),
      ),
    ),
  );
}

/** The figure: caption, SVG, and a button that shows or hides the table (aria-expanded). */
function assemble(name, svgNode, table, note) {
  const tableId = `${svgNode.id}-table`;
  table.id = tableId;
  table.classList.add("collapsed");
  const toggle = el("button", {
    type: "button",
    className: "chart-toggle",
    "aria-expanded": "false",
    "aria-controls": tableId,
    text: t("chart_show_table"),
  });
  toggle.addEventListener("click", () => {
    const open = table.classList.toggle("collapsed") === false;
    toggle.setAttribute("aria-expanded", String(open));
    toggle.textContent = t(open ? "chart_hide_table" : "chart_show_table");
  });
  return el(
    "figure",
    { className: "chart", dataset: { chart: name } },
    el("figcaption", { text: svgNode.querySelector("title").textContent }),
    svgNode,
    note ? el("p", { className: "muted small chart-note", text: note }) : null,
    toggle,
    table,
  );
}

/**
 * Horizontal bars, one per row: `rows` [{label, value (null when suppressed), mark, data}], largest scale from the data;
 * `data` marks a label that is data (a post office, a municipality: data-value), not the console's words.
 * `valueHeader` names the figure in the table; `desc` says in words what the chart shows.
 */
export function barChart({ name, title, desc, rows, labelHeader, valueHeader, note }) {
  const labelWidth = Math.min(280, Math.max(80, ...rows.map((row) => textWidth(row.label) + 16)));
  const barHeight = 22;
  const gap = 8;
  const top = 8;
  const axis = 22;
  const height = top + rows.length * (barHeight + gap) + axis;
  const values = rows.map((row) => row.value).filter((v) => typeof v === "number");
  const scale = ticks(Math.max(0, ...values));
  const max = scale[scale.length - 1];
  const plot = WIDTH - labelWidth - 60;
  const x = (v) => labelWidth + (v / max) * plot;
  const node = frame(title, desc, height);
  const grid = svg("g", { class: "chart-grid", "aria-hidden": "true" });
  for (const tick of scale) {
    grid.append(
      svg("line", { x1: x(tick), x2: x(tick), y1: top - 4, y2: height - axis + 2 }),
      svg("text", { x: x(tick), y: height - 6, "text-anchor": "middle" }, figure(tick)),
    );
  }
  node.append(grid);
  rows.forEach((row, i) => {
    const y = top + i * (barHeight + gap);
    const suppressed = row.value === null || row.value === undefined;
    const length = suppressed ? 0 : Math.max((row.value / max) * plot, row.value > 0 ? 1 : 0);
    node.append(
      svg(
        "g",
        { class: suppressed ? "chart-bar suppressed" : "chart-bar", "data-label": row.label },
        svg("title", {}, `${row.label}: ${cellText(row.value, row.mark)}`),
        svg(
          "text",
          { x: labelWidth - 8, y: y + barHeight / 2 + 4, "text-anchor": "end", "data-value": row.data ? "" : undefined },
          clip(row.label, labelWidth - 10),
        ),
        suppressed
          ? svg("rect", { x: labelWidth, y, width: 24, height: barHeight, class: "bar-suppressed" })
          : svg("rect", { x: labelWidth, y, width: length, height: barHeight, class: "series-0" }),
        svg("text", { x: labelWidth + (suppressed ? 24 : length) + 6, y: y + barHeight / 2 + 4, class: "chart-value" }, cellText(row.value, row.mark)),
      ),
    );
  });
  const table = dataTable(title, [labelHeader, valueHeader], rows.map((row) => [row.label, cellText(row.value, row.mark)]));
  return assemble(name, node, table, note);
}

const DASHES = ["", "6 4", "2 3", "10 3 2 3"];
const MARKERS = ["circle", "square", "diamond", "triangle"];

function marker(kind, cx, cy, series) {
  const r = 3.5;
  const attrs = { class: `chart-marker series-${series}` };
  if (kind === "circle") return svg("circle", { ...attrs, cx, cy, r });
  if (kind === "square") return svg("rect", { ...attrs, x: cx - r, y: cy - r, width: 2 * r, height: 2 * r });
  if (kind === "diamond") return svg("path", { ...attrs, d: `M${cx} ${cy - r - 1}L${cx + r + 1} ${cy}L${cx} ${cy + r + 1}L${cx - r - 1} ${cy}Z` });
  return svg("path", { ...attrs, d: `M${cx} ${cy - r - 1}L${cx + r + 1} ${cy + r}L${cx - r - 1} ${cy + r}Z` });
}

/**
 * Lines over `labels` (the days), one per entry of `series` [{name, values: [number|null], marks: [string]}].
 * A null value is a gap (suppressed or not reported), never drawn as zero.
 */
export function lineChart({ name, title, desc, labels, series, labelHeader, note, shortLabels, width = WIDTH }) {
  const legendHeight = 24;
  const top = 12 + legendHeight;
  const bottom = 28;
  const left = 52;
  const right = 16;
  const height = 300;
  const values = series.flatMap((s) => s.values).filter((v) => typeof v === "number");
  const scale = ticks(Math.max(0, ...values));
  const max = scale[scale.length - 1];
  const plotW = width - left - right;
  const plotH = height - top - bottom;
  const step = labels.length > 1 ? plotW / (labels.length - 1) : 0;
  const x = (i) => left + (labels.length > 1 ? i * step : plotW / 2);
  const y = (v) => top + plotH - (v / max) * plotH;
  const node = frame(title, desc, height, width);
  const grid = svg("g", { class: "chart-grid", "aria-hidden": "true" });
  for (const tick of scale) {
    grid.append(
      svg("line", { x1: left, x2: width - right, y1: y(tick), y2: y(tick) }),
      svg("text", { x: left - 6, y: y(tick) + 4, "text-anchor": "end" }, figure(tick)),
    );
  }
  // Every day's label when they fit, else every few days (the table has them all).
  const short = shortLabels || labels;
  const every = Math.max(1, Math.ceil((labels.length * 28) / plotW));
  short.forEach((text, i) => {
    if (i % every === 0 || i === labels.length - 1) {
      grid.append(svg("text", { x: x(i), y: height - 8, "text-anchor": "middle" }, text));
    }
  });
  node.append(grid);
  series.forEach((entry, s) => {
    const group = svg("g", { class: `chart-line series-${s}`, "data-series": entry.name });
    let path = "";
    let pen = false;
    entry.values.forEach((v, i) => {
      if (typeof v !== "number") {
        pen = false;
        return;
      }
      path += `${pen ? "L" : "M"}${x(i).toFixed(1)} ${y(v).toFixed(1)}`;
      pen = true;
    });
    group.append(svg("path", { d: path, class: `chart-path series-${s}`, fill: "none", "stroke-dasharray": DASHES[s % DASHES.length] || null }));
    entry.values.forEach((v, i) => {
      if (typeof v === "number") group.append(marker(MARKERS[s % MARKERS.length], x(i), y(v), s));
    });
    node.append(group);
  });
  // The legend: the line's own dash and marker beside its name.
  let lx = left;
  series.forEach((entry, s) => {
    const item = svg(
      "g",
      { class: "chart-legend" },
      svg("line", { x1: lx, x2: lx + 26, y1: 14, y2: 14, class: `chart-path series-${s}`, "stroke-dasharray": DASHES[s % DASHES.length] || null }),
      marker(MARKERS[s % MARKERS.length], lx + 13, 14, s),
      svg("text", { x: lx + 32, y: 18 }, entry.name),
    );
    node.append(item);
    lx += 32 + textWidth(entry.name) + 20;
  });
  const rows = labels.map((text, i) => [text, ...series.map((entry) => cellText(entry.values[i], entry.marks && entry.marks[i]))]);
  const table = dataTable(title, [labelHeader, ...series.map((entry) => entry.name)], rows);
  return assemble(name, node, table, note);
}
