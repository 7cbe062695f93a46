// The hub's REST API: bearer tokens (kept in sessionStorage, gone with the tab), one refresh on 401,
// and every failure as an ApiError carrying the problem+json `detail` and stable `code`.
import { t } from "./i18n.js";

const SESSION_KEY = "madoguchi.console.session";
let clockSkewMs = 0;

/** The hub's clock as far as its Date headers tell (whole seconds): offer countdowns use it, not the PC's. */
export function hubNow() {
  return Date.now() + clockSkewMs;
}
const sessionListeners = new Set();

export class ApiError extends Error {
  constructor(status, code, detail, body = null) {
    super(detail);
    this.status = status;
    this.code = code;
    this.body = body;
  }
}

export function session() {
  try {
    return JSON.parse(window.sessionStorage.getItem(SESSION_KEY) || "null");
  } catch {
    return null;
  }
}

function store(value) {
  if (value) window.sessionStorage.setItem(SESSION_KEY, JSON.stringify(value));
  else window.sessionStorage.removeItem(SESSION_KEY);
}

/** Called with no argument when the session ends (expired refresh, logout). */
export function onSessionEnd(listener) {
  sessionListeners.add(listener);
}

function endSession() {
  store(null);
  for (const listener of sessionListeners) listener();
}

export async function login(username, password, totp) {
  const body = { username, password };
  if (totp) body.totp = totp;
  const pair = await request("POST", "/api/v1/auth/login", body, { auth: false });
  store({ ...pair, username });
  return session();
}

export async function logout() {
  try {
    await request("POST", "/api/v1/auth/logout");
  } catch {
    // the tokens are forgotten locally either way
  }
  endSession();
}

async function refresh() {
  const current = session();
  if (!current) return false;
  try {
    const pair = await request("POST", "/api/v1/auth/refresh", { refresh_token: current.refresh_token }, {
      auth: false,
      retry: false,
    });
    store({ ...current, ...pair });
    return true;
  } catch {
    return false;
  }
}

/**
 * One JSON request. Resolves to the parsed body (null for 204); rejects with ApiError.
 * `signal` aborts it (the long-poll uses that when the officer goes on break).
 */
export async function request(method, path, body = undefined, { auth = true, retry = true, signal } = {}) {
  const headers = { Accept: "application/json, application/problem+json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const current = session();
  if (auth && current) headers.Authorization = `Bearer ${current.access_token}`;
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "omit",
      cache: "no-store",
      signal,
    });
  } catch (err) {
    if (err && err.name === "AbortError") throw err;
    throw new ApiError(0, "network", t("error_network"));
  }
  const served = Date.parse(response.headers.get("date") || "");
  if (!Number.isNaN(served)) clockSkewMs = served + 500 - Date.now(); // Date truncates to the second
  if (response.status === 401 && auth && retry && current) {
    if (await refresh()) return request(method, path, body, { auth, retry: false, signal });
    endSession();
    throw new ApiError(401, "unauthenticated", t("error_session"));
  }
  if (response.status === 204) return null;
  const text = await response.text();
  let parsed = null;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    parsed = null;
  }
  if (!response.ok) {
    const detail = problemDetail(parsed) || t("error_generic", { status: response.status });
    throw new ApiError(response.status, (parsed && parsed.code) || `http_${response.status}`, detail, parsed);
  }
  return parsed;
}

function problemDetail(problem) {
  if (!problem || typeof problem !== "object") return "";
  const parts = [problem.title, problem.detail].filter((part) => typeof part === "string" && part);
  if (Array.isArray(problem.errors) && problem.errors.length) {
    parts.push(problem.errors.map((e) => `${(e.loc || []).join(".")}: ${e.msg}`).join("; "));
  }
  return [...new Set(parts)].join(" — ");
}

/** An image or other binary body (a document still): resolves to a Blob; the same auth and errors as `request`. */
export async function requestBlob(path, { retry = true } = {}) {
  const current = session();
  const headers = { Accept: "image/*, application/problem+json" };
  if (current) headers.Authorization = `Bearer ${current.access_token}`;
  let response;
  try {
    response = await fetch(path, { headers, credentials: "omit", cache: "no-store" });
  } catch {
    throw new ApiError(0, "network", t("error_network"));
  }
  if (response.status === 401 && retry && current) {
    if (await refresh()) return requestBlob(path, { retry: false });
    endSession();
    throw new ApiError(401, "unauthenticated", t("error_session"));
  }
  if (!response.ok) {
    let parsed = null;
    try {
      parsed = JSON.parse(await response.text());
    } catch {
      parsed = null;
    }
    const detail = problemDetail(parsed) || t("error_generic", { status: response.status });
    throw new ApiError(response.status, (parsed && parsed.code) || `http_${response.status}`, detail, parsed);
  }
  return response.blob();
}

/** The file name in a Content-Disposition header (RFC 6266: filename* in UTF-8 first), or `fallback`. */
export function dispositionName(header, fallback) {
  const star = /filename\*\s*=\s*UTF-8''([^;]+)/i.exec(header || "");
  if (star) {
    try {
      return decodeURIComponent(star[1].trim());
    } catch {
      // a malformed escape: try the plain name
    }
  }
  const plain = /filename\s*=\s*"?([^";]+)"?/i.exec(header || "");
  return plain ? plain[1].trim() : fallback;
}

/**
 * A file the hub serves for download (a report export): resolves to {blob, filename}; the same auth, refresh and
 * ApiError as `request`, so a refusal arrives as the hub's problem+json.
 */
export async function requestFile(path, accept, { retry = true } = {}) {
  const current = session();
  const headers = { Accept: `${accept}, application/problem+json` };
  if (current) headers.Authorization = `Bearer ${current.access_token}`;
  let response;
  try {
    response = await fetch(path, { headers, credentials: "omit", cache: "no-store" });
  } catch {
    throw new ApiError(0, "network", t("error_network"));
  }
  if (response.status === 401 && retry && current) {
    if (await refresh()) return requestFile(path, accept, { retry: false });
    endSession();
    throw new ApiError(401, "unauthenticated", t("error_session"));
  }
  if (!response.ok) {
    let parsed = null;
    try {
      parsed = JSON.parse(await response.text());
    } catch {
      parsed = null;
    }
    const detail = problemDetail(parsed) || t("error_generic", { status: response.status });
    throw new ApiError(response.status, (parsed && parsed.code) || `http_${response.status}`, detail, parsed);
  }
  const fallback = path.split("?")[0].split("/").pop() || "report";
  return { blob: await response.blob(), filename: dispositionName(response.headers.get("content-disposition"), fallback) };
}

export const api = {
  get: (path, opts) => request("GET", path, undefined, opts),
  post: (path, body = {}, opts) => request("POST", path, body, opts),
  put: (path, body, opts) => request("PUT", path, body, opts),
  delete: (path, opts) => request("DELETE", path, undefined, opts),
  blob: (path) => requestBlob(path),
};
