// Small DOM helpers: lookups that fail loudly, element building without parsing HTML, status and error lines.
import { t, currentLang, label, onLangChange } from "./i18n.js";
import { STRINGS } from "./strings.js";
import { clockOf } from "./format.js";

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

/**
 * The string `key` as nodes, each {name} filled from `vars`; the names in `data` (a user name, a municipality) are
 * data, not UI, and go in a span marked data-value, so a check of the English screen for Japanese leaves them out.
 */
export function phrase(key, vars, data = []) {
  return t(key)
    .split(/(\{\w+\})/)
    .filter(Boolean)
    .map((part) => {
      const name = /^\{(\w+)\}$/.exec(part)?.[1];
      if (!name || !(name in vars)) return document.createTextNode(part);
      const value = String(vars[name]);
      return data.includes(name) ? el("span", { dataset: { value: "" }, text: value }) : document.createTextNode(value);
    });
}

let statusTimer = 0;
// The errors on screen and what caused them, so a language switch re-words them rather than leaving the old words.
const shownErrors = new Map();

/** A polite progress or confirmation line; cleared after `ms` unless 0. */
export function status(text, ms = 4000) {
  const line = $("status");
  line.textContent = text;
  line.hidden = !text;
  window.clearTimeout(statusTimer);
  if (text && ms) statusTimer = window.setTimeout(() => status(""), ms);
}

/** What an error says to the officer, in the console's language: the hub's English detail and its raw `code`
 * are never shown (the code stays in `data-code` for the help desk). */
export function errorText(err) {
  if (typeof err === "string") return err;
  const code = err && err.code;
  if (code && `problem_${code}` in STRINGS.ja) {
    const missing = (err.body && Array.isArray(err.body.missing) ? err.body.missing : []).map((m) => label("missing", m));
    return t(`problem_${code}`, { missing: missing.join(currentLang() === "ja" ? "、" : ", ") || "—" });
  }
  // Network, session and local messages are already in the console's words; a hub refusal without words of
  // its own gets the generic line.
  if (err && (err.status === 0 || err.status === 401 || err.status === undefined)) return err.message || t("error_generic", { status: "?" });
  if (currentLang() === "en" && err && err.message) return err.message; // the hub's own (English) detail
  return t("error_generic", { status: err && err.status ? err.status : "?" });
}

/** An error (role=alert) next to the control that caused it (`near`), or on the page's error line; null clears. */
export function showError(err, near = null) {
  const line = $("error");
  for (const field of document.querySelectorAll(".field-error")) field.remove();
  shownErrors.clear();
  if (!err) {
    line.hidden = true;
    line.textContent = "";
    delete line.dataset.code;
    return;
  }
  const target = near ? el("p", { className: "error field-error", role: "alert" }) : line;
  target.textContent = errorText(err);
  shownErrors.set(target, err);
  if (err && err.code) target.dataset.code = err.code;
  if (near) {
    near.insertAdjacentElement("afterend", target);
    line.hidden = true;
  } else {
    line.hidden = false;
  }
}

// A language switch: errors are re-worded; a passing confirmation in the old language is simply dropped.
onLangChange(() => {
  for (const [target, err] of shownErrors) if (target.isConnected) target.textContent = errorText(err);
  status("");
});

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
  // The console's language and Tokyo time, not the PC's locale: a Japanese screen shows 19:17:26, not 7:17:26 PM.
  return clockOf(iso);
}

export function duration(seconds) {
  const total = Math.max(0, Math.round(seconds));
  const m = Math.floor(total / 60);
  const s = String(total % 60).padStart(2, "0");
  return `${m}:${s}`;
}

/** An event handler running `work`; a refusal is shown next to the control that caused it (a form's: its submit). */
export function guard(work) {
  return (event) => {
    showError(null);
    const origin = event && event.currentTarget;
    const near = origin instanceof HTMLFormElement ? origin.querySelector("button[type=submit]") : origin;
    Promise.resolve(work(event)).catch((err) => showError(err, near instanceof HTMLElement ? near : null));
  };
}
