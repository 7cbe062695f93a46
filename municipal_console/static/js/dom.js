// Small DOM helpers: lookups that fail loudly, element building without parsing HTML, status and error lines.
import { t, currentLang } from "./i18n.js";

export function $(id) {
  const el = document.getElementById(id);
  if (!el) throw new Error(`missing element #${id}`);
  return el;
}

/** Build an element: el("td", {className: "x", text: "..."}, child, ...). Never parses HTML. */
export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(props)) {
    if (value === undefined || value === null) continue;
    if (name === "text") node.textContent = String(value);
    else if (name === "dataset") Object.assign(node.dataset, value);
    else if (name in node && typeof value !== "string") node[name] = value;
    else if (name === "className") node.className = value;
    else node.setAttribute(name, String(value));
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export function show(node, visible = true) {
  (typeof node === "string" ? $(node) : node).hidden = !visible;
}

let statusTimer = 0;

/** A polite progress or confirmation line; cleared after `ms` unless 0. */
export function status(text, ms = 4000) {
  const line = $("status");
  line.textContent = text;
  line.hidden = !text;
  window.clearTimeout(statusTimer);
  if (text && ms) statusTimer = window.setTimeout(() => status(""), ms);
}

/** An error line (role=alert); ApiError shows its problem+json detail and code. */
export function showError(err) {
  const line = $("error");
  if (!err) {
    line.hidden = true;
    line.textContent = "";
    return;
  }
  const text = typeof err === "string" ? err : err.message || t("error_generic", { status: "?" });
  const code = err && err.code ? " " + t("error_code", { code: err.code }) : "";
  line.textContent = text + code;
  line.hidden = false;
}

/** Disable a button while `work` runs, with a progress message; returns work's result. */
export async function busy(button, message, work) {
  const was = button ? button.disabled : false;
  if (button) {
    button.disabled = true;
    button.setAttribute("aria-busy", "true");
  }
  if (message) status(message, 0);
  try {
    return await work();
  } finally {
    if (button) {
      button.disabled = was;
      button.removeAttribute("aria-busy");
    }
    if (message && $("status").textContent === message) status("");
  }
}

export function timeOf(iso) {
  if (!iso) return "—";
  const date = new Date(iso);
  // The console's language, not the PC's locale: a Japanese screen shows 19:17:26, not 7:17:26 PM.
  return Number.isNaN(date.getTime()) ? "—" : date.toLocaleTimeString(currentLang() === "ja" ? "ja-JP" : "en-GB");
}

export function duration(seconds) {
  const total = Math.max(0, Math.round(seconds));
  const m = Math.floor(total / 60);
  const s = String(total % 60).padStart(2, "0");
  return `${m}:${s}`;
}
