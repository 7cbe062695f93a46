// Language: Japanese by default, English on request; the choice persists in localStorage.
// Labels of the contract's codes (state_*, reason_*, hold_*, procedure_*, figure_*, certkind_*, certscope_*, certoption_*, chipkind_*, chipcheck_*, chiprefusal_*) come from contract.js, generated from
// service/wire, so the console names a code exactly as the hub and the counter do (docs/architecture.md §3).
import {
  CERTIFICATE_KINDS,
  CERTIFICATE_OPTIONS,
  CERTIFICATE_SCOPES,
  CHIP_CHECKS,
  CHIP_KINDS,
  CHIP_REFUSALS,
  HOLD_REASONS,
  PROCEDURES,
  REASON_LABELS,
  REPORT_FIGURES,
  STATE_LABELS,
} from "./contract.js";
import { STRINGS } from "./strings.js";
import { CARD_GENERATIONS } from "./contract.js";

const byCode = (list) => Object.fromEntries(list.map((entry) => [entry.code, entry]));
const CONTRACT_LABELS = {
  state: STATE_LABELS,
  cardgen: CARD_GENERATIONS, // which My Number Card a proof came from (docs/card.md §3)
  reason: REASON_LABELS,
  hold: byCode(HOLD_REASONS),
  procedure: byCode(PROCEDURES),
  figure: byCode(REPORT_FIGURES),
  certkind: byCode(CERTIFICATE_KINDS),
  certscope: byCode(CERTIFICATE_SCOPES),
  certoption: byCode(CERTIFICATE_OPTIONS),
  chipkind: byCode(CHIP_KINDS),
  chipcheck: byCode(CHIP_CHECKS),
  chiprefusal: byCode(CHIP_REFUSALS),
};

const KEY = "madoguchi.console.lang";
const listeners = new Set();
let lang = readStored();

function readStored() {
  try {
    const stored = window.localStorage.getItem(KEY);
    return stored === "en" ? "en" : "ja";
  } catch {
    return "ja"; // storage disabled: stay on the default
  }
}

/** The contract's label for a `prefix_code` key in `language`, or undefined when the key names no code. */
function contractLabel(key, language) {
  const split = key.indexOf("_");
  const table = split > 0 ? CONTRACT_LABELS[key.slice(0, split)] : undefined;
  const entry = table && Object.hasOwn(table, key.slice(split + 1)) ? table[key.slice(split + 1)] : undefined;
  return entry ? entry[language] ?? entry.ja : undefined;
}

export function currentLang() {
  return lang;
}

/** The string for `key` in the current language, with {name} placeholders filled from `vars`. */
export function t(key, vars = {}) {
  const table = STRINGS[lang];
  let text = table[key] ?? contractLabel(key, lang) ?? STRINGS.ja[key] ?? key;
  for (const [name, value] of Object.entries(vars)) {
    text = text.replaceAll(`{${name}}`, String(value));
  }
  return text;
}

/** A label for an enumerated value (`prefix_value`), falling back to the raw value. */
export function label(prefix, value) {
  if (value === null || value === undefined || value === "") return "—";
  const key = `${prefix}_${value}`;
  return key in STRINGS[lang] || key in STRINGS.ja || contractLabel(key, lang) !== undefined ? t(key) : String(value);
}

/** Apply data-i18n (text) and data-i18n-attr ("attr:key;attr:key") under `root`. */
export function translate(root = document) {
  for (const el of root.querySelectorAll("[data-i18n]")) {
    el.textContent = t(el.dataset.i18n);
  }
  for (const el of root.querySelectorAll("[data-i18n-attr]")) {
    for (const pair of el.dataset.i18nAttr.split(";")) {
      const [attr, key] = pair.split(":");
      if (attr && key) el.setAttribute(attr.trim(), t(key.trim()));
    }
  }
  document.documentElement.lang = lang;
  document.title = t("app_title");
  const toggle = document.getElementById("lang-toggle");
  if (toggle) toggle.lang = lang === "ja" ? "en" : "ja";
}

export function setLang(next) {
  lang = next === "en" ? "en" : "ja";
  try {
    window.localStorage.setItem(KEY, lang);
  } catch {
    // not persisted; the switch still applies to this page
  }
  translate();
  for (const listener of listeners) listener(lang);
}

/** Call `listener` after every language switch (modules re-render their dynamic text). */
export function onLangChange(listener) {
  listeners.add(listener);
}

/** Stop calling `listener` (a module whose part of the screen is gone, e.g. a closed call's camera). */
export function offLangChange(listener) {
  listeners.delete(listener);
}
