// The REST API and the event stream, authenticated by the session cookie the gateway set at
// sign-in (HttpOnly: this code never sees it). State-changing calls send the CSRF header the
// gateway requires of cookie-authenticated requests.

export const CSRF = { "X-Requested-With": "28web-dashboard" };

export class HttpError extends Error {
  constructor(status, problem) {
    super(problem?.detail || problem?.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
  }
}

let unauthorized = () => {};
// onUnauthorized sets what happens when a call is answered 401 (the session ended).
export function onUnauthorized(fn) { unauthorized = fn; }

export async function api(method, path, body) {
  const headers = { Accept: "application/json" };
  if (method !== "GET" && method !== "HEAD") Object.assign(headers, CSRF);
  const init = { method, headers, credentials: "same-origin", cache: "no-store" };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const res = await fetch(path, init);
  if (!res.ok) {
    let problem = {};
    try { problem = await res.json(); } catch { /* not JSON */ }
    if (res.status === 401 && !path.startsWith("/dashboard/session")) unauthorized();
    throw new HttpError(res.status, problem);
  }
  if (res.status === 204) return null;
  const type = res.headers.get("Content-Type") || "";
  return type.includes("json") ? res.json() : res.text();
}

export const session = {
  status: () => api("GET", "/dashboard/session"),
  signIn: (apiKey) => api("POST", "/dashboard/session", { apiKey }),
  signOut: () => api("DELETE", "/dashboard/session"),
};

export const enc = encodeURIComponent;

// Every canonical event name the stream may send.
export const EVENT_TYPES = ["session.status", "qr_code", "connection.status", "disconnected", "message", "message_create",
  "message_ack", "message_edit", "message_revoke_everyone", "change_battery", "message_failed", "webhook.disabled"];

// Stream is the one EventSource the page keeps open on /api/v1/events/stream, re-opened with
// the filters of the view shown. EventSource resumes by itself (Last-Event-ID) after a network
// drop; if the gateway refuses it (e.g. 401), onClosed decides.
export class Stream {
  constructor({ onEvent, onState, onClosed }) {
    this.onEvent = onEvent;
    this.onState = onState;
    this.onClosed = onClosed;
    this.es = null;
    this.retry = null;
    this.query = null;
  }

  open({ sessionIds = [], events = [] } = {}) {
    const q = new URLSearchParams();
    for (const id of sessionIds) q.append("sessionId", id);
    for (const e of events) q.append("event", e);
    const query = q.toString();
    if (this.es && this.query === query && this.es.readyState !== EventSource.CLOSED) return;
    this.close();
    this.query = query;
    const es = new EventSource("/api/v1/events/stream" + (query ? "?" + query : ""), { withCredentials: true });
    this.es = es;
    this.onState("retry");
    es.onopen = () => this.onState("on");
    es.onerror = () => {
      if (es !== this.es) return;
      if (es.readyState === EventSource.CLOSED) {
        this.onState("off");
        this.onClosed?.();
        clearTimeout(this.retry);
        this.retry = setTimeout(() => { if (es === this.es) { this.es = null; this.open(this.filters); } }, 3000);
      } else {
        this.onState("retry");
      }
    };
    this.filters = { sessionIds, events };
    for (const type of EVENT_TYPES) {
      es.addEventListener(type, (m) => {
        if (es !== this.es) return;
        let env;
        try { env = JSON.parse(m.data); } catch { return; }
        this.onEvent(env, type);
      });
    }
  }

  close() {
    clearTimeout(this.retry);
    if (this.es) this.es.close();
    this.es = null;
    this.onState("off");
  }
}
