// Security notices of the signed-in account (GET /api/v1/auth/notices): a TOTP change, sessions ended because a
// refresh token was reused, an activation. The owner sees each new one once after signing in, in Tokyo time, and
// dismisses it; what was seen is remembered per account in this browser only (the hub keeps no "read" state).
import { api, session } from "./api.js";
import { t, onLangChange } from "./i18n.js";
import { $, el, show } from "./dom.js";
import { dateTimeOf } from "./format.js";

const SEEN_PREFIX = "madoguchi.notices.seen.";

function seenKey() {
  const current = session();
  return current ? SEEN_PREFIX + current.username : "";
}

let shown = [];

function render() {
  $("notices-list").replaceChildren(
    ...shown.map((notice) =>
      el("li", { dataset: { kind: notice.kind } }, `${dateTimeOf(notice.created_at)} — ${t(`notice_${notice.kind}`)}`),
    ),
  );
}

onLangChange(render);

/** Show the account's notices newer than the last dismissed one; a failure to load them is not an error to show. */
export async function showNew() {
  const key = seenKey();
  const box = $("notices");
  if (!key) {
    show(box, false);
    return;
  }
  let notices;
  try {
    notices = await api.get("/api/v1/auth/notices");
  } catch {
    return;
  }
  const seen = window.localStorage.getItem(key) || "";
  const fresh = notices.filter((notice) => notice.created_at > seen);
  shown = fresh;
  render();
  show(box, fresh.length > 0);
  $("notices-dismiss").onclick = () => {
    if (fresh.length) window.localStorage.setItem(key, fresh[0].created_at);
    show(box, false);
  };
}

/** Hide the panel (on sign-out). */
export function hide() {
  shown = [];
  show("notices", false);
}
