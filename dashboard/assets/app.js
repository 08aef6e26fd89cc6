// The dashboard: sign-in, sessions (live status, QR pairing), one session (messages with
// ticks, composer, webhooks and deliveries), health and analytics. Plain DOM, no framework;
// every text from the API is inserted as text, never as HTML.

import { api, enc, session, onUnauthorized, Stream, HttpError } from "./api.js";
import { t, getLang, setLang, translateStatic, locale } from "./i18n.js";

const $ = (sel, root = document) => root.querySelector(sel);
const main = $("#main");

// h builds an element: h("button", {type: "button", onclick}, "text", child…).
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else if (k === "dataset") Object.assign(el.dataset, v);
    else if (v === true) el.setAttribute(k, "");
    else el.setAttribute(k, String(v));
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

function fmtTime(s) {
  if (!s) return "";
  const d = new Date(s);
  if (Number.isNaN(d.getTime())) return "";
  return new Intl.DateTimeFormat(locale(), { dateStyle: "short", timeStyle: "medium" }).format(d);
}

function fmtNumber(n, digits = 0) {
  if (n === null || n === undefined) return "—";
  return new Intl.NumberFormat(locale(), { maximumFractionDigits: digits }).format(n);
}

function fmtPercent(r) {
  if (r === null || r === undefined) return "—";
  return new Intl.NumberFormat(locale(), { style: "percent", maximumFractionDigits: 1 }).format(r);
}

// clip shortens a long error for a table cell.
function clip(s, n = 90) { return !s ? "" : s.length > n ? s.slice(0, n - 1) + "…" : s; }

function shortJid(j) { return (j || "").replace(/@s\.whatsapp\.net$/, "").replace(/:\d+$/, ""); }

let toastTimer;
function toast(msg, kind = "info") {
  const el = $("#toast");
  el.textContent = msg;
  el.dataset.kind = kind;
  el.classList.add("show");
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => el.classList.remove("show"), kind === "error" ? 8000 : 4000);
}

function errorText(err) {
  if (err instanceof HttpError) return `${err.status}: ${err.message}`;
  return String(err?.message || err);
}

// ---- live connection ------------------------------------------------------------------------

const live = $("#live");
function setLive(state) {
  live.dataset.state = state;
  live.textContent = state === "on" ? t("live.on") : state === "retry" ? t("live.retry") : state === "hidden" ? "" : t("live.off");
}

// Views subscribe to the stream's events; the stream itself is reopened per view with filters.
let listeners = new Set();
const stream = new Stream({
  onEvent: (env, type) => { for (const fn of listeners) fn(env, type); },
  onState: setLive,
  onClosed: async () => {
    try { await session.status(); } catch (e) { if (e instanceof HttpError && e.status === 401) signedOut(); }
  },
});

// ---- routing --------------------------------------------------------------------------------

let current = null; // the mounted view: {unmount()}
let signedIn = false;

function unmount() {
  if (current?.unmount) current.unmount();
  current = null;
  listeners = new Set();
}

function focusMain() {
  const heading = $("h1", main);
  if (heading) { heading.setAttribute("tabindex", "-1"); heading.focus({ preventScroll: false }); }
}

async function route() {
  unmount();
  if (!signedIn) { showSignIn(); return; }
  const hash = location.hash || "#/sessions";
  for (const a of document.querySelectorAll("#nav a")) {
    const active = hash === a.getAttribute("href") || (a.getAttribute("href") === "#/sessions" && hash.startsWith("#/sessions"));
    if (active) a.setAttribute("aria-current", "page"); else a.removeAttribute("aria-current");
  }
  let m;
  if ((m = hash.match(/^#\/sessions\/([^/]+)$/))) current = sessionView(decodeURIComponent(m[1]));
  else if (hash === "#/analytics") current = analyticsView();
  else current = sessionsView();
}

function chrome(on) {
  $("#nav").hidden = !on;
  $("#signout").hidden = !on;
  if (!on) { stream.close(); setLive("hidden"); }
}

function signedOut() {
  if (!signedIn) return;
  signedIn = false;
  chrome(false);
  unmount();
  showSignIn(t("error.signedOut"));
}
onUnauthorized(signedOut);

// ---- sign in --------------------------------------------------------------------------------

function showSignIn(message) {
  chrome(false);
  const error = h("p", { id: "signin-error", class: "error", role: "alert", "data-testid": "signin-error" }, message || "");
  if (!message) error.hidden = true;
  const input = h("input", { id: "apikey", name: "apiKey", type: "password", autocomplete: "current-password", required: true, "aria-describedby": "signin-help signin-error", spellcheck: "false" });
  const button = h("button", { type: "submit" }, t("signin.submit"));
  const form = h("form", { class: "card narrow", "aria-labelledby": "signin-title", onsubmit: async (e) => {
    e.preventDefault();
    button.disabled = true;
    error.hidden = true;
    try {
      await session.signIn(input.value);
      input.value = "";
      signedIn = true;
      chrome(true);
      if (!location.hash || location.hash === "#/") location.hash = "#/sessions";
      route();
    } catch (err) {
      error.textContent = err instanceof HttpError && err.status === 401 ? t("signin.wrong") : t("signin.failed", errorText(err));
      error.hidden = false;
      input.setAttribute("aria-invalid", "true");
      input.focus();
    } finally {
      button.disabled = false;
    }
  } },
    h("h1", { id: "signin-title" }, t("signin.title")),
    h("p", { id: "signin-help", class: "muted" }, t("signin.help")),
    h("label", { for: "apikey" }, t("signin.key")), input, error, button);
  main.replaceChildren(form);
  input.focus();
}

// ---- status badge ---------------------------------------------------------------------------

function badge(status) {
  return h("span", { class: "badge", "data-status": status, "data-testid": "status" }, t("status." + status));
}

function setBadge(el, status) {
  el.dataset.status = status;
  el.textContent = t("status." + status);
}

// ---- sessions list --------------------------------------------------------------------------

function sessionsView() {
  let alive = true;
  const tbody = h("tbody");
  const empty = h("p", { class: "muted", hidden: true }, t("sessions.none"));
  const idInput = h("input", { id: "new-id", name: "id", required: true, pattern: "[A-Za-z0-9_\\-]{1,64}", maxlength: "64", "aria-describedby": "new-id-help", autocomplete: "off" });
  const channelSelect = h("select", { id: "new-channel", name: "channel" }, h("option", { value: "whatsapp" }, "whatsapp"));
  const createBtn = h("button", { type: "submit" }, t("sessions.createBtn"));
  const form = h("form", { class: "card inline-form", "aria-labelledby": "create-title", onsubmit: async (e) => {
    e.preventDefault();
    createBtn.disabled = true;
    try {
      const s = await api("POST", "/api/v1/sessions", { id: idInput.value.trim(), channel: channelSelect.value });
      toast(t("sessions.created", s.id));
      location.hash = "#/sessions/" + enc(s.id);
    } catch (err) {
      toast(t("error.generic", errorText(err)), "error");
    } finally {
      createBtn.disabled = false;
    }
  } },
    h("h2", { id: "create-title" }, t("sessions.create")),
    h("div", { class: "field" }, h("label", { for: "new-id" }, t("sessions.id")), idInput, h("small", { id: "new-id-help", class: "muted" }, t("sessions.idHelp"))),
    h("div", { class: "field" }, h("label", { for: "new-channel" }, t("sessions.channel")), channelSelect),
    createBtn);

  const table = h("table", { class: "list", "data-testid": "sessions" },
    h("caption", { class: "sr-only" }, t("sessions.title")),
    h("thead", {}, h("tr", {},
      h("th", { scope: "col" }, t("sessions.id")), h("th", { scope: "col" }, t("sessions.channel")),
      h("th", { scope: "col" }, t("sessions.status")), h("th", { scope: "col" }, t("sessions.account")),
      h("th", { scope: "col" }, t("sessions.updated")), h("th", { scope: "col" }, t("sessions.actions")))),
    tbody);

  main.replaceChildren(h("h1", {}, t("sessions.title")), form, h("section", { class: "card", "aria-live": "polite" }, table, empty));
  focusMain();

  function row(s) {
    const account = s.account ? shortJid(s.account) + (s.pushName ? ` (${s.pushName})` : "") : "—";
    return h("tr", { "data-session": s.id },
      h("td", { "data-label": t("sessions.id") }, h("a", { href: "#/sessions/" + enc(s.id) }, s.id)),
      h("td", { "data-label": t("sessions.channel") }, s.channel),
      h("td", { "data-label": t("sessions.status") }, badge(s.status)),
      h("td", { "data-label": t("sessions.account"), class: "account" }, account),
      h("td", { "data-label": t("sessions.updated"), class: "updated" }, fmtTime(s.updatedAt)),
      h("td", { "data-label": t("sessions.actions") },
        h("button", { type: "button", class: "danger small", "aria-label": `${t("sessions.delete")} ${s.id}`, onclick: () => deleteSession(s.id) }, t("sessions.delete"))));
  }

  async function load() {
    try {
      const { sessions } = await api("GET", "/api/v1/sessions");
      if (!alive) return;
      const list = (sessions || []).sort((a, b) => a.id.localeCompare(b.id));
      tbody.replaceChildren(...list.map(row));
      empty.hidden = list.length > 0;
    } catch (err) {
      if (alive) toast(t("error.generic", errorText(err)), "error");
    }
  }

  api("GET", "/api/v1/channels").then(({ channels }) => {
    if (!alive || !channels?.length) return;
    channelSelect.replaceChildren(...channels.map((c) => h("option", { value: c.channel }, c.channel)));
  }).catch(() => {});

  let reload;
  listeners.add((env, type) => {
    if (type !== "session.status") return;
    const tr = tbody.querySelector(`tr[data-session="${CSS.escape(env.sessionId)}"]`);
    const d = env.data || {};
    if (!tr || d.status === "deleted") { clearTimeout(reload); reload = setTimeout(load, 200); return; }
    setBadge($("[data-testid=status]", tr), d.status);
    if (d.account) $(".account", tr).textContent = shortJid(d.account) + (d.pushName ? ` (${d.pushName})` : "");
    $(".updated", tr).textContent = fmtTime(env.timestamp);
  });
  stream.open({ events: ["session.status"] });
  load();
  return { unmount() { alive = false; clearTimeout(reload); } };
}

async function deleteSession(id) {
  if (!confirm(t("sessions.confirmDelete", id))) return;
  try {
    await api("DELETE", `/api/v1/sessions/${enc(id)}?force=true`);
    toast(t("sessions.deleted", id));
    if (location.hash.startsWith("#/sessions/")) location.hash = "#/sessions";
    else route();
  } catch (err) {
    toast(t("error.generic", errorText(err)), "error");
  }
}

// ---- one session ----------------------------------------------------------------------------

const RANK = { queued: 0, sent: 1, delivered: 2, read: 3 };

function tick(status) {
  const glyph = { queued: "🕓", sent: "✓", delivered: "✓✓", read: "✓✓", failed: "✗" }[status] || "";
  return h("span", { class: "tick", "data-status": status, "data-testid": "tick", role: "img", "aria-label": t("tick." + status), title: t("tick." + status) }, glyph);
}

function sessionView(id) {
  let alive = true;
  let info = null;
  const timers = [];
  const every = (fn, ms) => timers.push(setInterval(fn, ms));

  const statusBadge = h("span", { class: "badge", "data-testid": "session-status", "aria-live": "polite" });
  const accountLine = h("p", { class: "muted", "data-testid": "account" });
  const header = h("div", { class: "session-head" },
    h("p", {}, h("a", { href: "#/sessions" }, "← " + t("session.back"))),
    h("h1", {}, id, " ", statusBadge), accountLine,
    h("button", { type: "button", class: "danger", onclick: () => deleteSession(id) }, t("session.delete")));

  // Pairing: the QR drawn from the API's PNG, its text in data-qr, a countdown to expiresAt.
  const qrImg = h("img", { "data-testid": "qr-image", alt: t("session.qrAlt", id), width: "264", height: "264", hidden: true });
  const qrBox = h("div", { class: "qr", "data-testid": "qr" }, qrImg);
  const qrCountdown = h("p", { class: "muted", "data-testid": "qr-countdown", "aria-live": "off" }, t("session.qrWaiting"));
  const phoneInput = h("input", { id: "pair-phone", type: "tel", autocomplete: "tel", placeholder: "+55 11 99999-0001" });
  const codeOut = h("p", { class: "code", "data-testid": "pairing-code", "aria-live": "polite" });
  const codeBtn = h("button", { type: "submit" }, t("session.getCode"));
  const codeForm = h("form", { class: "inline-form", onsubmit: async (e) => {
    e.preventDefault();
    codeBtn.disabled = true;
    try {
      const { code } = await api("POST", `/api/v1/sessions/${enc(id)}/pairing-code`, { phone: phoneInput.value.trim() });
      codeOut.textContent = t("session.codeIs", code);
    } catch (err) {
      toast(t("error.generic", errorText(err)), "error");
    } finally { codeBtn.disabled = false; }
  } }, h("div", { class: "field" }, h("label", { for: "pair-phone" }, t("session.phone")), phoneInput), codeBtn);
  const pairing = h("section", { class: "card pairing", "aria-labelledby": "pair-title", hidden: true },
    h("h2", { id: "pair-title" }, t("session.pair")), h("p", {}, t("session.scan")), qrBox, qrCountdown,
    h("h3", {}, t("session.code")), codeForm, codeOut);

  let qrExpires = 0;
  let qrLoading = false;
  async function loadQR() {
    if (qrLoading || !alive || !needsPairing()) return;
    qrLoading = true;
    try {
      const qr = await api("GET", `/api/v1/sessions/${enc(id)}/qr?format=json`);
      if (!alive) return;
      qrImg.src = qr.image;
      qrImg.hidden = false;
      qrBox.dataset.qr = qr.qr;
      qrExpires = new Date(qr.expiresAt).getTime();
      countdown();
    } catch {
      qrImg.hidden = true;
      delete qrBox.dataset.qr;
      qrExpires = 0;
      qrCountdown.textContent = t("session.qrWaiting");
    } finally { qrLoading = false; }
  }
  function countdown() {
    if (!qrExpires) return;
    const left = Math.max(0, Math.round((qrExpires - Date.now()) / 1000));
    qrCountdown.textContent = t("session.expiresIn", left);
    if (left <= 0) { qrExpires = 0; loadQR(); }
  }
  function needsPairing() {
    return info && info.status !== "connected" && (info.capabilities || []).includes("qr_login");
  }
  function showStatus(status, account, pushName) {
    if (!info) return; // an event before the session loaded: the load shows the current state
    info.status = status;
    if (account) info.account = account;
    if (pushName) info.pushName = pushName;
    setBadge(statusBadge, status);
    accountLine.textContent = info.account ? t("session.connected", shortJid(info.account) + (info.pushName ? ` (${info.pushName})` : ""))
      : `${t("sessions.channel")}: ${info.channel}`;
    pairing.hidden = !needsPairing();
    if (!pairing.hidden && !qrBox.dataset.qr) loadQR();
  }

  // Messages: the latest 50 both ways, oldest first, with ticks; events update them live.
  const msgs = new Map();
  const list = h("ol", { class: "messages", "data-testid": "messages", "aria-live": "polite", "aria-relevant": "additions" });
  const noMsgs = h("p", { class: "muted" }, t("messages.none"));
  function msgItem(m) {
    const text = (m.type !== "text" ? `[${m.type}] ` : "") + (m.body || "");
    return h("li", { class: "msg " + m.direction, "data-id": m.id, "data-direction": m.direction, "data-status": m.status },
      h("div", { class: "meta" }, h("span", {}, (m.direction === "in" ? "← " : "→ ") + shortJid(m.chatId)), h("time", { datetime: m.createdAt }, fmtTime(m.createdAt))),
      h("div", { class: "body" }, text),
      m.direction === "out" ? tick(m.status) : null,
      m.status === "failed" && m.error ? h("div", { class: "error small" }, m.error) : null);
  }
  function render() {
    const sorted = [...msgs.values()].sort((a, b) => (a.createdAt < b.createdAt ? -1 : a.createdAt > b.createdAt ? 1 : 0));
    const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
    list.replaceChildren(...sorted.map(msgItem));
    noMsgs.hidden = sorted.length > 0;
    if (atBottom) list.scrollTop = list.scrollHeight;
  }
  function merge(m) {
    const old = msgs.get(m.id);
    // The stream may be ahead of the database read: never move a tick backwards.
    if (old && m.status !== "failed" && (RANK[old.status] ?? -1) > (RANK[m.status] ?? -1)) m = { ...m, status: old.status };
    msgs.set(m.id, m);
  }
  async function loadMessages() {
    try {
      const page = await api("GET", `/api/v1/sessions/${enc(id)}/messages?limit=50`);
      if (!alive) return;
      for (const m of page.messages || []) merge(m);
      const keep = new Set((page.messages || []).map((m) => m.id));
      if (msgs.size > 60) for (const k of [...msgs.keys()]) if (!keep.has(k)) msgs.delete(k);
      render();
      if (!toInput.value) {
        const lastIn = (page.messages || []).find((m) => m.direction === "in");
        if (lastIn) toInput.value = shortJid(lastIn.chatId);
      }
    } catch (err) {
      if (alive && !(err instanceof HttpError && err.status === 401)) toast(t("error.generic", errorText(err)), "error");
    }
  }
  let reloadTimers = [];
  function reloadSoon() {
    for (const x of reloadTimers) clearTimeout(x);
    // Once at once-ish, once after the projection surely caught up.
    reloadTimers = [setTimeout(loadMessages, 150), setTimeout(loadMessages, 1500)];
  }

  const toInput = h("input", { id: "msg-to", name: "to", required: true, autocomplete: "off", inputmode: "tel" });
  const textInput = h("textarea", { id: "msg-text", name: "text", rows: "2" });
  const fileInput = h("input", { id: "msg-file", name: "file", type: "file" });
  const sendBtn = h("button", { type: "submit" }, t("messages.send"));
  const composer = h("form", { class: "composer", "aria-labelledby": "msg-title", onsubmit: async (e) => {
    e.preventDefault();
    const file = fileInput.files[0];
    const text = textInput.value;
    if (!file && !text.trim()) { toast(t("messages.needText"), "error"); textInput.focus(); return; }
    const body = { to: toInput.value.trim(), type: "text" };
    if (file) {
      const limitMB = 16;
      if (file.size > limitMB * 1024 * 1024) { toast(t("messages.tooBig", limitMB), "error"); return; }
      const mime = file.type || "application/octet-stream";
      body.type = mime.startsWith("image/") ? "image" : mime.startsWith("video/") ? "video" : mime.startsWith("audio/") ? "audio" : "document";
      body.media = { data: await base64(file), mimeType: mime, fileName: file.name };
      if (text.trim() && body.type !== "audio") body.text = text;
    } else {
      body.text = text;
    }
    sendBtn.disabled = true;
    sendBtn.textContent = t("messages.sending");
    try {
      const m = await api("POST", `/api/v1/sessions/${enc(id)}/messages`, body);
      merge(m);
      render();
      list.scrollTop = list.scrollHeight;
      textInput.value = "";
      fileInput.value = "";
      toast(t("messages.accepted"));
      reloadSoon();
    } catch (err) {
      toast(t("error.generic", errorText(err)), "error");
    } finally {
      sendBtn.disabled = false;
      sendBtn.textContent = t("messages.send");
    }
  } },
    h("h3", { id: "msg-title", class: "sr-only" }, t("messages.send")),
    h("div", { class: "field" }, h("label", { for: "msg-to" }, t("messages.to")), toInput),
    h("div", { class: "field grow" }, h("label", { for: "msg-text" }, t("messages.text")), textInput),
    h("div", { class: "field" }, h("label", { for: "msg-file" }, t("messages.file")), fileInput),
    sendBtn);
  textInput.addEventListener("keydown", (e) => { if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) composer.requestSubmit(); });
  const messages = h("section", { class: "card", "aria-labelledby": "messages-title" },
    h("div", { class: "row" }, h("h2", { id: "messages-title" }, t("messages.title")),
      h("button", { type: "button", class: "ghost small", onclick: loadMessages }, t("messages.refresh"))),
    list, noMsgs, composer);

  // Webhooks: the session's endpoints, their latest deliveries, redeliver.
  const endpointsEl = h("ul", { class: "endpoints", "data-testid": "endpoints" });
  const deliveriesBody = h("tbody");
  const noDeliveries = h("p", { class: "muted" }, t("webhooks.noDeliveries"));
  const urlInput = h("input", { id: "hook-url", type: "url", required: true, placeholder: "https://example.com/hook" });
  const hookForm = h("form", { class: "inline-form", onsubmit: async (e) => {
    e.preventDefault();
    try {
      const ep = await api("POST", `/api/v1/sessions/${enc(id)}/webhooks`, { url: urlInput.value.trim() });
      urlInput.value = "";
      toast(t("webhooks.added", ep.secret || ep.secretHint || ""));
      loadWebhooks();
    } catch (err) { toast(t("error.generic", errorText(err)), "error"); }
  } }, h("div", { class: "field grow" }, h("label", { for: "hook-url" }, t("webhooks.url")), urlInput), h("button", { type: "submit" }, t("webhooks.add")));
  let endpoints = [];
  async function loadWebhooks() {
    try {
      const { webhooks } = await api("GET", `/api/v1/sessions/${enc(id)}/webhooks`);
      if (!alive) return;
      endpoints = webhooks || [];
      endpointsEl.replaceChildren(...(endpoints.length ? endpoints.map((ep) => h("li", { "data-endpoint": ep.id },
        h("code", {}, ep.url), " ", ep.disabled ? h("span", { class: "badge", "data-status": "failed" }, t("webhooks.disabled")) : null,
        " ", h("span", { class: "muted small" }, (ep.events && ep.events.length ? ep.events.join(", ") : "*")),
        " ", h("button", { type: "button", class: "ghost small", "aria-label": `${t("webhooks.remove")} ${ep.url}`, onclick: async () => {
          try { await api("DELETE", `/api/v1/sessions/${enc(id)}/webhooks/${enc(ep.id)}`); loadWebhooks(); } catch (err) { toast(t("error.generic", errorText(err)), "error"); }
        } }, t("webhooks.remove")))) : [h("li", { class: "muted" }, t("webhooks.none"))]));
      loadDeliveries();
    } catch (err) {
      if (alive && !(err instanceof HttpError && err.status === 401)) toast(t("error.generic", errorText(err)), "error");
    }
  }
  const openDetails = new Set();
  async function loadDeliveries() {
    try {
      const { deliveries } = await api("GET", `/api/v1/webhooks/deliveries?sessionId=${enc(id)}&limit=20`);
      if (!alive) return;
      const urls = Object.fromEntries(endpoints.map((e) => [e.id, e.url]));
      deliveriesBody.replaceChildren(...(deliveries || []).map((d) => deliveryRow(d, urls)));
      noDeliveries.hidden = (deliveries || []).length > 0;
    } catch { /* shown on the next refresh */ }
  }
  function deliveryRow(d, urls) {
    const response = [d.lastStatusCode && !(d.lastError || "").startsWith("HTTP") ? `HTTP ${d.lastStatusCode}` : "", clip(d.lastError),
      d.lastLatencyMs != null ? `${fmtNumber(d.lastLatencyMs)} ms` : ""].filter(Boolean).join(" · ");
    const history = h("details", { onToggle: null },
      h("summary", {}, t("webhooks.history")), h("ol", { class: "history" }));
    history.addEventListener("toggle", async () => {
      if (history.open) openDetails.add(d.id); else openDetails.delete(d.id);
      if (!history.open) return;
      try {
        const detail = await api("GET", `/api/v1/webhooks/deliveries/${d.id}`);
        $("ol", history).replaceChildren(...(detail.history || []).map((a) => h("li", {},
          `#${a.attempt} ${fmtTime(a.at)} — ${a.statusCode && !(a.error || "").startsWith("HTTP") ? "HTTP " + a.statusCode : ""} ${clip(a.error)} (${fmtNumber(a.latencyMs)} ms)`)));
      } catch { /* ignore */ }
    });
    const canRedeliver = d.status !== "pending" && d.status !== "retrying";
    const tr = h("tr", { "data-delivery": d.id, "data-status": d.status },
      h("td", { "data-label": t("webhooks.event"), title: urls[d.endpointId] || d.endpointId }, d.event, h("br"),
        h("small", { class: "muted" }, h("time", { datetime: d.updatedAt }, fmtTime(d.updatedAt)))),
      h("td", { "data-label": t("webhooks.status") }, h("span", { class: "badge", "data-status": d.status, "data-testid": "delivery-status" }, d.status)),
      h("td", { "data-label": t("webhooks.attempts") }, String(d.attempts)),
      h("td", { "data-label": t("webhooks.response"), class: "response" }, response || "—", history),
      h("td", {}, h("button", { type: "button", class: "small", disabled: !canRedeliver, "data-testid": "redeliver",
        "aria-label": `${t("webhooks.redeliver")} ${d.event} #${d.id}`, onclick: async (e) => {
          e.target.disabled = true;
          try {
            await api("POST", `/api/v1/webhooks/deliveries/${d.id}/redeliver`);
            toast(t("webhooks.redelivered", d.id));
            setTimeout(loadDeliveries, 300);
          } catch (err) { toast(t("error.generic", errorText(err)), "error"); e.target.disabled = false; }
        } }, t("webhooks.redeliver"))));
    if (openDetails.has(d.id)) { history.open = true; }
    return tr;
  }
  const webhooksSection = h("section", { class: "card", "aria-labelledby": "hooks-title" },
    h("div", { class: "row" }, h("h2", { id: "hooks-title" }, t("webhooks.title")),
      h("button", { type: "button", class: "ghost small", onclick: loadWebhooks }, t("webhooks.refresh"))),
    endpointsEl, hookForm,
    h("h3", {}, t("webhooks.deliveries")),
    h("div", { class: "scroll" }, h("table", { class: "list", "data-testid": "deliveries" },
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, t("webhooks.event")), h("th", { scope: "col" }, t("webhooks.status")),
        h("th", { scope: "col" }, t("webhooks.attempts")), h("th", { scope: "col" }, t("webhooks.response")),
        h("th", { scope: "col" }, h("span", { class: "sr-only" }, t("sessions.actions"))))),
      deliveriesBody)), noDeliveries);

  main.replaceChildren(header, pairing, h("div", { class: "columns" }, messages, webhooksSection));

  listeners.add((env, type) => {
    if (env.sessionId !== id) return;
    const d = env.data || {};
    switch (type) {
      case "session.status":
        if (d.status === "deleted") { location.hash = "#/sessions"; return; }
        showStatus(d.status, d.account, d.pushName);
        if (d.status === "connected") { qrExpires = 0; delete qrBox.dataset.qr; }
        break;
      case "qr_code":
        if (d.image) { qrImg.src = d.image; qrImg.hidden = false; }
        if (d.qr) qrBox.dataset.qr = d.qr;
        if (d.expiresAt) { qrExpires = new Date(d.expiresAt).getTime(); countdown(); }
        if (!d.image) loadQR();
        break;
      case "message_ack": {
        const m = msgs.get(d.id);
        const status = d.ack >= 2 ? "read" : d.ack >= 1 ? "delivered" : null;
        if (m && status && (RANK[status] > (RANK[m.status] ?? -1))) { msgs.set(m.id, { ...m, status }); render(); }
        reloadSoon();
        break;
      }
      case "message": case "message_create": case "message_failed": case "message_edit": case "message_revoke_everyone":
        reloadSoon();
        break;
    }
  });
  stream.open({ sessionIds: [id] });

  (async () => {
    try {
      info = await api("GET", `/api/v1/sessions/${enc(id)}`);
      if (!alive) return;
      if (!(info.capabilities || []).includes("qr_login")) pairing.hidden = true;
      showStatus(info.status);
    } catch (err) {
      if (alive) main.replaceChildren(h("h1", {}, id), h("p", { class: "error", role: "alert" }, t("error.generic", errorText(err))),
        h("p", {}, h("a", { href: "#/sessions" }, "← " + t("session.back"))));
      return;
    }
    focusMain();
    loadMessages();
    loadWebhooks();
  })();
  every(countdown, 1000);
  every(() => { if (needsPairing() && !qrBox.dataset.qr) loadQR(); }, 2000);
  every(loadDeliveries, 4000);
  every(loadMessages, 15000);

  return { unmount() { alive = false; for (const x of timers) clearInterval(x); for (const x of reloadTimers) clearTimeout(x); } };
}

function base64(file) {
  return new Promise((resolve, reject) => {
    const r = new FileReader();
    r.onload = () => resolve(String(r.result).replace(/^data:[^,]*,/, ""));
    r.onerror = () => reject(r.error);
    r.readAsDataURL(file);
  });
}

// ---- health and analytics -------------------------------------------------------------------

const STATUSES = ["connecting", "qr_code", "connected", "disconnected", "logged_out", "banned", "failed"];

function isoDay(d) { return d.toISOString().slice(0, 10); }

function analyticsView() {
  let alive = true;
  const charts = [];
  const timers = [];
  const cards = h("div", { class: "cards", "data-testid": "overview" });
  const statusChart = h("div", { class: "chart", role: "img", "aria-labelledby": "status-title" });
  const statusTable = h("table", { class: "list compact", "data-testid": "sessions-by-status" });
  const todayTable = h("table", { class: "list compact", "data-testid": "today" });
  const components = h("ul", { class: "components", "data-testid": "components" });
  const today = new Date();
  const fromInput = h("input", { id: "from", type: "date", value: isoDay(new Date(today.getTime() - 6 * 864e5)) });
  const toInput = h("input", { id: "to", type: "date", value: isoDay(today) });
  const sessionSelect = h("select", { id: "a-session" }, h("option", { value: "" }, t("analytics.all")));
  const dailyForm = h("form", { class: "inline-form", onsubmit: (e) => { e.preventDefault(); loadDaily(); } },
    h("div", { class: "field" }, h("label", { for: "a-session" }, t("analytics.session")), sessionSelect),
    h("div", { class: "field" }, h("label", { for: "from" }, t("analytics.from")), fromInput),
    h("div", { class: "field" }, h("label", { for: "to" }, t("analytics.to")), toInput),
    h("button", { type: "submit" }, t("analytics.show")));
  const msgChart = h("div", { class: "chart", role: "img", "aria-label": t("analytics.chartMessages") });
  const rateChart = h("div", { class: "chart", role: "img", "aria-label": t("analytics.chartRates") });
  const dailyBody = h("tbody");
  const noDays = h("p", { class: "muted", hidden: true }, t("analytics.noDays"));
  const todayTitle = h("h2", { id: "today-title" }, t("analytics.today", "…"));

  main.replaceChildren(
    h("div", { class: "row" }, h("h1", {}, t("analytics.title")), h("button", { type: "button", class: "ghost small", onclick: () => { loadOverview(); loadDaily(); } }, t("analytics.refresh"))),
    cards,
    h("div", { class: "columns" },
      h("section", { class: "card", "aria-labelledby": "status-title" }, h("h2", { id: "status-title" }, t("analytics.byStatus")), statusChart, statusTable),
      h("section", { class: "card", "aria-labelledby": "today-title" }, todayTitle, todayTable,
        h("h2", {}, t("analytics.components")), components)),
    h("section", { class: "card", "aria-labelledby": "daily-title" },
      h("h2", { id: "daily-title" }, t("analytics.daily")), dailyForm,
      h("h3", {}, t("analytics.chartMessages")), msgChart,
      h("h3", {}, t("analytics.chartRates")), rateChart,
      h("div", { class: "scroll" }, h("table", { class: "list", "data-testid": "daily" },
        h("thead", {}, h("tr", {}, ...["analytics.day", "analytics.session", "analytics.in", "analytics.outMsgs", "analytics.sent", "analytics.delivered",
          "analytics.read", "analytics.failed", "analytics.deliveryRate", "analytics.readRate", "analytics.firstReply"].map((k) => h("th", { scope: "col" }, t(k))))),
        dailyBody)), noDays));
  focusMain();

  function card(testid, label, value, sub) {
    return h("div", { class: "stat", "data-testid": testid }, h("div", { class: "label" }, label), h("div", { class: "value" }, value), sub ? h("div", { class: "muted small" }, sub) : null);
  }

  function chart(el, opts, data) {
    const width = Math.max(260, el.clientWidth || el.parentElement.clientWidth - 32);
    el.replaceChildren();
    if (typeof window.uPlot !== "function") { el.textContent = "—"; return; }
    const u = new window.uPlot({ width, height: 220, ...opts }, data, el);
    charts.push(u);
  }

  async function loadOverview() {
    let o;
    try {
      o = await api("GET", "/api/v1/analytics/overview");
    } catch (err) {
      if (alive) cards.replaceChildren(h("p", { class: "error" }, t("analytics.unavailable", errorText(err))));
      return;
    }
    if (!alive) return;
    const ms = (v) => (v === null || v === undefined ? "—" : `${fmtNumber(v, v < 10 ? 1 : 0)} ms`);
    cards.replaceChildren(
      card("queue-depth", t("analytics.queue"), fmtNumber(o.queueDepth), `${t("analytics.oldest")}: ${fmtNumber(o.oldestQueuedAgeSeconds, 1)} s`),
      card("latency-p50", t("analytics.p50"), ms(o.acceptToSent?.p50Ms), t("analytics.samples", fmtNumber(o.acceptToSent?.samples))),
      card("latency-p95", t("analytics.p95"), ms(o.acceptToSent?.p95Ms)),
      card("webhook-rate", t("analytics.webhookRate"), fmtPercent(o.webhooks?.successRate),
        t("analytics.webhookCounts", fmtNumber(o.webhooks?.delivered), fmtNumber(o.webhooks?.failed), fmtNumber(o.webhooks?.pending))));
    const by = o.sessionsByStatus || {};
    statusTable.replaceChildren(h("tbody", {}, ...STATUSES.map((s) => h("tr", {}, h("th", { scope: "row" }, badge(s)), h("td", { "data-status": s }, fmtNumber(by[s] || 0))))));
    const td = o.today || {};
    todayTitle.textContent = t("analytics.today", td.day || "");
    const rows = [["in", "analytics.in", td.messagesIn], ["out", "analytics.outMsgs", td.messagesOut], ["sent", "analytics.sent", td.sent],
      ["delivered", "analytics.delivered", td.delivered], ["read", "analytics.read", td.read], ["failed", "analytics.failed", td.failed]];
    todayTable.replaceChildren(h("tbody", {}, ...rows.map(([k, label, v]) => h("tr", {}, h("th", { scope: "row" }, t(label)), h("td", { "data-testid": "today-" + k }, fmtNumber(v || 0))))));
    chart(statusChart, {
      title: "", legend: { show: false },
      scales: { x: { time: false, range: [-0.5, STATUSES.length - 0.5] }, y: { range: (u, min, max) => [0, Math.max(1, max)] } },
      axes: [{ values: (u, splits) => splits.map((i) => (Number.isInteger(i) && STATUSES[i] ? t("status." + STATUSES[i]) : "")), incrs: [1], rotate: 0, size: 40 }, { incrs: [1, 2, 5, 10, 20, 50, 100] }],
      series: [{}, { label: t("analytics.byStatus"), fill: "#0b6e4f", stroke: "#0b6e4f", paths: window.uPlot?.paths?.bars?.({ size: [0.6, 64] }), points: { show: false } }],
    }, [STATUSES.map((_, i) => i), STATUSES.map((s) => by[s] || 0)]);
  }

  async function loadHealth() {
    try {
      const d = await api("GET", "/health/detailed");
      if (!alive) return;
      components.replaceChildren(...(d.components || []).map((c) => h("li", {}, h("span", { class: "badge", "data-status": c.status === "ok" ? "connected" : "failed" }, c.status), " ", c.name, c.error ? ` — ${c.error}` : "")));
    } catch { /* optional */ }
  }

  async function loadDaily() {
    const q = new URLSearchParams({ from: fromInput.value, to: toInput.value });
    if (sessionSelect.value) q.set("sessionId", sessionSelect.value);
    let r;
    try {
      r = await api("GET", "/api/v1/analytics/daily?" + q);
    } catch (err) {
      if (alive) { dailyBody.replaceChildren(); noDays.hidden = false; noDays.textContent = t("analytics.unavailable", errorText(err)); }
      return;
    }
    if (!alive) return;
    const days = r.days || [];
    noDays.textContent = t("analytics.noDays");
    noDays.hidden = days.length > 0;
    dailyBody.replaceChildren(...days.map((d) => h("tr", { "data-day": d.day, "data-session": d.sessionId },
      h("td", { "data-label": t("analytics.day") }, d.day), h("td", { "data-label": t("analytics.session") }, d.sessionId),
      h("td", { "data-label": t("analytics.in"), "data-k": "messagesIn" }, fmtNumber(d.messagesIn)),
      h("td", { "data-label": t("analytics.outMsgs"), "data-k": "messagesOut" }, fmtNumber(d.messagesOut)),
      h("td", { "data-label": t("analytics.sent"), "data-k": "sent" }, fmtNumber(d.sent)),
      h("td", { "data-label": t("analytics.delivered"), "data-k": "delivered" }, fmtNumber(d.delivered)),
      h("td", { "data-label": t("analytics.read"), "data-k": "read" }, fmtNumber(d.read)),
      h("td", { "data-label": t("analytics.failed"), "data-k": "failed" }, fmtNumber(d.failed)),
      h("td", { "data-label": t("analytics.deliveryRate") }, fmtPercent(d.deliveryRate)),
      h("td", { "data-label": t("analytics.readRate") }, fmtPercent(d.readRate)),
      h("td", { "data-label": t("analytics.firstReply") }, d.medianFirstReplySeconds == null ? "—" : `${fmtNumber(d.medianFirstReplySeconds, 1)} s`))));
    // Charts: every day of the span, summed over the sessions shown.
    const start = Date.parse(r.from + "T00:00:00Z");
    const end = Date.parse(r.to + "T00:00:00Z");
    const xs = [];
    for (let x = start; x <= end; x += 864e5) xs.push(x / 1000);
    const sum = (k) => xs.map((x) => days.filter((d) => Date.parse(d.day + "T00:00:00Z") / 1000 === x).reduce((a, d) => a + (d[k] || 0), 0));
    const sent = sum("sent");
    const rate = (k) => sum(k).map((v, i) => (sent[i] ? v / sent[i] : null));
    for (const c of charts.splice(0)) c.destroy();
    const daysAxis = { space: 60, incrs: [86400, 2 * 86400, 7 * 86400, 14 * 86400, 28 * 86400], values: (u, splits) => splits.map((s) => new Intl.DateTimeFormat(locale(), { month: "short", day: "numeric", timeZone: "UTC" }).format(new Date(s * 1000))) };
    chart(msgChart, {
      scales: { x: { time: true }, y: { range: (u, min, max) => [0, Math.max(1, max)] } },
      axes: [daysAxis, {}],
      series: [{ label: t("analytics.day"), value: (u, v) => (v == null ? "" : isoDay(new Date(v * 1000))) },
        { label: t("analytics.in"), stroke: "#1f6feb", width: 2, points: { show: true } },
        { label: t("analytics.outMsgs"), stroke: "#0b6e4f", width: 2, points: { show: true } },
        { label: t("analytics.delivered"), stroke: "#8250df", width: 2, dash: [6, 4], points: { show: true } },
        { label: t("analytics.read"), stroke: "#0969da", width: 2, dash: [2, 3], points: { show: true } },
        { label: t("analytics.failed"), stroke: "#cf222e", width: 2, points: { show: true } }],
    }, [xs, sum("messagesIn"), sum("messagesOut"), sum("delivered"), sum("read"), sum("failed")]);
    chart(rateChart, {
      scales: { x: { time: true }, y: { range: [0, 1] } },
      axes: [daysAxis, { values: (u, splits) => splits.map((s) => fmtPercent(s)) }],
      series: [{ label: t("analytics.day"), value: (u, v) => (v == null ? "" : isoDay(new Date(v * 1000))) },
        { label: t("analytics.deliveryRate"), stroke: "#8250df", width: 2, value: (u, v) => fmtPercent(v), points: { show: true } },
        { label: t("analytics.readRate"), stroke: "#0969da", width: 2, value: (u, v) => fmtPercent(v), points: { show: true } }],
    }, [xs, rate("delivered"), rate("read")]);
    loadOverview();
  }

  api("GET", "/api/v1/sessions").then(({ sessions }) => {
    if (!alive) return;
    sessionSelect.append(...(sessions || []).map((s) => h("option", { value: s.id }, s.id)));
  }).catch(() => {});

  let refresh;
  listeners.add(() => { clearTimeout(refresh); refresh = setTimeout(() => { loadOverview(); }, 1000); });
  stream.open({ events: ["session.status", "message", "message_create", "message_ack", "message_failed"] });
  loadDaily();
  loadHealth();
  timers.push(setInterval(loadHealth, 15000));
  const onResize = () => { clearTimeout(refresh); refresh = setTimeout(loadDaily, 300); };
  window.addEventListener("resize", onResize);
  return { unmount() { alive = false; clearTimeout(refresh); for (const x of timers) clearInterval(x); window.removeEventListener("resize", onResize); for (const c of charts) c.destroy(); } };
}

// ---- start ----------------------------------------------------------------------------------

function setupChrome() {
  const langBtn = $("#lang");
  const paint = () => {
    translateStatic();
    langBtn.textContent = t("lang.toggle");
    langBtn.setAttribute("aria-label", t("lang.label"));
    langBtn.setAttribute("lang", getLang() === "pt" ? "en" : "pt-BR");
    setLive(live.dataset.state || "off");
  };
  langBtn.addEventListener("click", () => { setLang(getLang() === "pt" ? "en" : "pt"); paint(); route(); });
  $("#signout").addEventListener("click", async () => {
    try { await session.signOut(); } catch { /* signed out anyway */ }
    signedIn = false;
    chrome(false);
    unmount();
    showSignIn();
  });
  window.addEventListener("hashchange", route);
  paint();
}

setupChrome();
try {
  await session.status();
  signedIn = true;
  chrome(true);
} catch {
  signedIn = false;
}
route();
