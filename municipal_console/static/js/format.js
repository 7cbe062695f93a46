// How the console writes what officers read (docs/domain.md §B4.1): dates and times in Tokyo time in the console's
// language (2026年12月2日 14:05), never ISO strings; a case by its 受付番号, never its id (ids stay in URLs).
import { currentLang } from "./i18n.js";

export const TIME_ZONE = "Asia/Tokyo";

function parsed(iso) {
  if (!iso) return null;
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? null : date;
}

function tokyoParts(date) {
  const parts = new Intl.DateTimeFormat("en-US", {
    timeZone: TIME_ZONE,
    year: "numeric",
    month: "numeric",
    day: "numeric",
    hour: "2-digit",
    minute: "2-digit",
    hourCycle: "h23",
  }).formatToParts(date);
  return Object.fromEntries(parts.map((part) => [part.type, part.value]));
}

/** 2026年12月2日 14:05 (Japanese) or 2 Dec 2026, 14:05 (English), Tokyo time; — when there is none. */
export function dateTimeOf(iso) {
  const date = parsed(iso);
  if (!date) return "—";
  if (currentLang() !== "ja") {
    return date.toLocaleString("en-GB", { timeZone: TIME_ZONE, day: "numeric", month: "short", year: "numeric", hour: "2-digit", minute: "2-digit" });
  }
  const p = tokyoParts(date);
  return `${p.year}年${p.month}月${p.day}日 ${p.hour}:${p.minute}`;
}

/** 14:05:09, Tokyo time (the console's language, not the PC's locale or zone); — when there is none. */
export function clockOf(iso) {
  const date = parsed(iso);
  return date ? date.toLocaleTimeString(currentLang() === "ja" ? "ja-JP" : "en-GB", { timeZone: TIME_ZONE }) : "—";
}

/** The 受付番号 of a case (`reference`) or of a queue row (`case_reference`); — when the hub sent none. */
export function referenceOf(row) {
  return (row && (row.reference || row.case_reference)) || "—";
}
