// The dashboard's browser suite, run by browser_test.go with a gateway and the simulator
// already started. Environment: BASE_URL, API_KEY, SIM_URL (simulator control API), HOOK_URL
// (a webhook endpoint that refuses with 400), HOOK_CONTROL_URL (?ok=1 makes it accept),
// SCREENSHOTS_DIR, CHROMIUM_PATH.
import { chromium } from "playwright-core";
import assert from "node:assert/strict";
import path from "node:path";

const env = (k) => {
  const v = process.env[k];
  if (!v) throw new Error(`${k} is required`);
  return v;
};
const BASE = env("BASE_URL");
const KEY = env("API_KEY");
const SIM = env("SIM_URL");
const HOOK_URL = env("HOOK_URL");
const HOOK_CONTROL = env("HOOK_CONTROL_URL");
const SHOTS = env("SCREENSHOTS_DIR");
const AGENT = "5511999990001";
const CUSTOMER = "5511999990002";
const SESSION = "support";

let passed = 0;
let failed = 0;
const t0 = Date.now();
const log = (...a) => console.log(`[${((Date.now() - t0) / 1000).toFixed(1)}s]`, ...a);

async function json(method, url, body, headers = {}) {
  const res = await fetch(url, {
    method, headers: { "Content-Type": "application/json", ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${url}: ${res.status} ${text}`);
  return text ? JSON.parse(text) : null;
}
const sim = (p, body) => json("POST", SIM + p, body);
const gw = (p) => json("GET", BASE + p, undefined, { "x-28web-gateway-key": KEY });

let browser;
try {
  browser = await chromium.launch({
    executablePath: env("CHROMIUM_PATH"),
    // Root in containers: Chromium's sandbox needs user namespaces that CI may not have.
    args: ["--no-sandbox", "--disable-dev-shm-usage"],
  });
} catch (err) {
  console.error("chromium could not start:", err.message);
  process.exit(2);
}
const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: "en-US" });
const page = await context.newPage();
const pageErrors = [];
page.on("pageerror", (e) => pageErrors.push("pageerror: " + e.message));
page.on("console", (m) => {
  // A CSP violation or a script error shows up here. Expected: 401s of the sign-in probe, and
  // the QR's 404 while a new session has no code yet (the page asks again; seen under load).
  const qrNotYet = /404/.test(m.text()) && /\/qr(\?|$)/.test((m.location() || {}).url || "");
  if (m.type() === "error" && !/401|Unauthorized/.test(m.text()) && !qrNotYet) {
    pageErrors.push("console: " + m.text() + " (" + ((m.location() || {}).url || "") + ")");
  }
});

let n = 0;
async function shot(name) {
  n++;
  const file = path.join(SHOTS, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  log("screenshot", file);
}

// step runs one step; a failed step ends the run unless it is independent (later steps do not
// build on it), so that one report lists every independent failure.
async function step(name, fn, { independent = false } = {}) {
  log("▶", name);
  try {
    await fn();
    passed++;
    log("✔", name);
  } catch (err) {
    failed++;
    log("✘", name, "\n", err.stack || err);
    try { await shot("FAILED-" + name.replace(/\W+/g, "-")); } catch { /* ignore */ }
    if (!independent) throw err;
  }
}

const T = { timeout: 20_000 };
let messageId;

try {
  await step("security headers on the dashboard", async () => {
    const res = await fetch(BASE + "/dashboard/");
    assert.equal(res.status, 200);
    const csp = res.headers.get("content-security-policy");
    assert.match(csp, /default-src 'self'/);
    assert.match(csp, /frame-ancestors 'none'/);
    assert.doesNotMatch(csp, /unsafe-inline/);
    assert.equal(res.headers.get("x-content-type-options"), "nosniff");
    assert.equal(res.headers.get("referrer-policy"), "no-referrer");
    const html = await res.text();
    assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)[^>]*>/, "no inline script");
    const api = await fetch(BASE + "/api/v1/sessions");
    assert.equal(api.status, 401, "the API still needs the key or the cookie");
  });

  await step("01 sign-in page", async () => {
    await page.goto(BASE + "/dashboard/");
    await page.getByLabel("API key").waitFor(T);
    await shot("01-sign-in");
  });

  await step("02 a wrong key is refused", async () => {
    await page.getByLabel("API key").fill("not-the-key");
    await page.getByRole("button", { name: "Sign in" }).click();
    const err = page.getByTestId("signin-error");
    await err.waitFor(T);
    assert.equal((await err.textContent()).trim(), "Invalid API key.");
    assert.equal((await context.cookies()).length, 0, "no cookie for a wrong key");
    await shot("02-wrong-key");
  });

  await step("03 sign in with the key", async () => {
    await page.getByLabel("API key").fill(KEY);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("heading", { name: "Sessions", level: 1 }).waitFor(T);
    const cookies = await context.cookies();
    assert.equal(cookies.length, 1);
    const [c] = cookies;
    assert.equal(c.httpOnly, true);
    assert.equal(c.sameSite, "Strict");
    assert.ok(!c.value.includes(KEY), "the cookie does not hold the key");
    const stored = await page.evaluate(() => JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage }) + document.cookie + location.href);
    assert.ok(!stored.includes(KEY), "the key is in no storage, script-visible cookie or URL");
    await page.locator("#live[data-state=on]").waitFor(T);
    await shot("03-signed-in");
  });

  await step("04 create a session: its QR appears", async () => {
    await page.getByLabel("Session id").fill(SESSION);
    await page.getByRole("button", { name: "Create" }).click();
    await page.waitForURL(/#\/sessions\/support$/, T);
    await page.getByTestId("qr-image").waitFor({ state: "visible", timeout: 30_000 });
    const src = await page.getByTestId("qr-image").getAttribute("src");
    assert.match(src, /^data:image\/png;base64,/);
    await page.locator("[data-testid=qr][data-qr]").waitFor(T);
    assert.match(await page.getByTestId("qr-countdown").textContent(), /Refreshes in \d+ s/);
    await shot("04-qr");
  });

  await step("05 the simulator's phone scans it: connected appears without reloading", async () => {
    await page.evaluate(() => { window.__noReload = "still here"; });
    const qr = await page.getByTestId("qr").getAttribute("data-qr");
    const api = await gw(`/api/v1/sessions/${SESSION}/qr?format=json`);
    assert.equal(qr, api.qr, "the page shows the API's current QR");
    await sim("/_sim/phones", { number: AGENT, push_name: "Agent" });
    await sim(`/_sim/phones/${AGENT}/scan`, { qr });
    await page.locator("[data-testid=session-status][data-status=connected]").waitFor({ timeout: 30_000 });
    assert.equal(await page.evaluate(() => window.__noReload), "still here", "no reload happened");
    await page.getByTestId("qr-image").waitFor({ state: "hidden", ...T });
    await page.getByTestId("account").filter({ hasText: AGENT }).waitFor(T);
    await shot("05-connected");
  });

  await step("06 send from the page: ticks advance to read", async () => {
    await sim("/_sim/phones", { number: CUSTOMER, push_name: "Customer" });
    await page.getByLabel("To (phone number or chat id)").fill(CUSTOMER);
    await page.getByLabel("Message", { exact: true }).fill("Olá! Sent from the dashboard");
    await page.getByRole("button", { name: "Send", exact: true }).click();
    const item = page.locator("li.msg.out", { hasText: "Olá! Sent from the dashboard" });
    await item.waitFor(T);
    messageId = await item.getAttribute("data-id");
    assert.ok(messageId);
    // The customer's phone acknowledges delivery by itself.
    await item.locator("[data-testid=tick][data-status=delivered], [data-testid=tick][data-status=read]").waitFor({ timeout: 30_000 });
    await shot("06a-delivered");
    await sim(`/_sim/phones/${CUSTOMER}/receipt`, { to: AGENT, ids: [messageId], type: "read" });
    await item.locator("[data-testid=tick][data-status=read]").waitFor({ timeout: 30_000 });
    const m = await gw(`/api/v1/sessions/${SESSION}/messages/${messageId}`);
    assert.equal(m.status, "read");
    await shot("06b-read");
  });

  await step("06c send a file from the page", async () => {
    await page.getByLabel("Message", { exact: true }).fill("the invoice");
    await page.getByLabel("File (optional)").setInputFiles({ name: "invoice.txt", mimeType: "text/plain", buffer: Buffer.from("invoice 42\n") });
    await page.getByRole("button", { name: "Send", exact: true }).click();
    const item = page.locator("li.msg.out", { hasText: "the invoice" });
    await item.waitFor(T);
    await item.locator("[data-testid=tick][data-status=sent], [data-testid=tick][data-status=delivered], [data-testid=tick][data-status=read]").waitFor({ timeout: 30_000 });
  });

  await step("07 an inbound message appears live", async () => {
    await page.evaluate(() => { window.__noReload = "still here"; });
    await sim(`/_sim/phones/${CUSTOMER}/send`, { to: AGENT, text: "Hi, I need help with my order" });
    await page.locator("li.msg.in", { hasText: "Hi, I need help with my order" }).waitFor({ timeout: 30_000 });
    assert.equal(await page.evaluate(() => window.__noReload), "still here");
    await shot("07-inbound-live");
  });

  await step("08 a failing webhook delivery is redelivered from the page", async () => {
    await page.getByLabel("Endpoint URL").fill(HOOK_URL);
    await page.getByRole("button", { name: "Add endpoint" }).click();
    await page.locator("[data-testid=endpoints] code", { hasText: HOOK_URL }).waitFor(T);
    // An event for the endpoint: the customer writes again; the endpoint answers 400 → dead.
    await sim(`/_sim/phones/${CUSTOMER}/send`, { to: AGENT, text: "Are you there?" });
    const dead = page.locator("[data-testid=deliveries] tr[data-status=dead]").first();
    await dead.waitFor({ timeout: 30_000 });
    const id = await dead.getAttribute("data-delivery");
    await dead.getByText("HTTP 400").waitFor(T);
    await shot("08a-webhook-failed");
    await fetch(HOOK_CONTROL + "?ok=1", { method: "POST" });
    await dead.getByTestId("redeliver").click();
    await page.locator(`[data-testid=deliveries] tr[data-delivery="${id}"][data-status=succeeded]`).waitFor({ timeout: 30_000 });
    const d = await gw(`/api/v1/webhooks/deliveries/${id}`);
    assert.equal(d.status, "succeeded");
    assert.ok(d.attempts >= 2, `attempts ${d.attempts}`);
    await page.locator(`tr[data-delivery="${id}"] details summary`).click();
    await page.locator(`tr[data-delivery="${id}"] .history li`).nth(1).waitFor(T);
    await shot("08b-webhook-redelivered");
  });

  await step("09 analytics: the day's counts match the API", async () => {
    // The figures come from GET /api/v1/analytics/overview and /daily: a failure of the API
    // itself is reported as such, apart from the page's.
    const probe = await fetch(BASE + "/api/v1/analytics/overview", { headers: { "x-28web-gateway-key": KEY } });
    if (!probe.ok) throw new Error(`the analytics overview API itself answers ${probe.status}: ${await probe.text()}`);
    await page.getByRole("link", { name: "Health & analytics" }).click();
    await page.getByRole("heading", { name: "Health & analytics", level: 1 }).waitFor(T);
    await page.getByTestId("today-in").waitFor(T);
    // Wait for the figures to settle (events may still be projected), then compare.
    let api, shown;
    for (let i = 0; i < 20; i++) {
      api = await gw("/api/v1/analytics/overview");
      await page.getByRole("button", { name: "Refresh" }).click();
      await page.waitForTimeout(700);
      shown = {};
      for (const k of ["in", "out", "sent", "delivered", "read", "failed"]) shown[k] = Number((await page.getByTestId("today-" + k).textContent()).replace(/\D/g, ""));
      const want = { in: api.today.messagesIn, out: api.today.messagesOut, sent: api.today.sent, delivered: api.today.delivered, read: api.today.read, failed: api.today.failed };
      if (JSON.stringify(shown) === JSON.stringify(want) && want.in >= 2 && want.out >= 2 && want.read >= 1) break;
      if (i === 19) assert.deepEqual(shown, want);
    }
    assert.ok(shown.in >= 2 && shown.out >= 2 && shown.read >= 1, JSON.stringify(shown));
    const daily = await gw(`/api/v1/analytics/daily?sessionId=${SESSION}`);
    const today = daily.days.find((d) => d.day === api.today.day && d.sessionId === SESSION);
    assert.ok(today, "today's row in the daily report");
    const row = page.locator(`[data-testid=daily] tr[data-day="${today.day}"][data-session="${SESSION}"]`);
    await row.waitFor(T);
    for (const k of ["messagesIn", "messagesOut", "delivered", "read"]) {
      const v = Number((await row.locator(`[data-k=${k}]`).textContent()).replace(/\D/g, ""));
      assert.ok(v <= today[k] + 1 && v >= today[k] - 1, `${k}: page ${v}, API ${today[k]}`);
    }
    await page.locator("[data-testid=sessions-by-status] td[data-status=connected]", { hasText: "1" }).waitFor(T);
    await page.locator(".chart canvas").first().waitFor(T);
    assert.ok(await page.locator(".chart canvas").count() >= 3, "three charts drawn");
    await shot("09-analytics");
  }, { independent: true });

  await step("10 Portuguese texts", async () => {
    await page.goto(BASE + "/dashboard/#/analytics");
    await page.getByRole("button", { name: "Mudar para português" }).click();
    await page.getByRole("heading", { name: "Saúde e análises", level: 1 }).waitFor(T);
    await shot("10-portuguese");
    await page.getByRole("button", { name: "Switch to English" }).click();
    await page.getByRole("heading", { name: "Health & analytics", level: 1 }).waitFor(T);
  }, { independent: true });

  await step("11 phone-sized screen", async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await page.goto(BASE + "/dashboard/#/sessions/" + SESSION);
    await page.locator("[data-testid=session-status][data-status=connected]").waitFor(T);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    assert.ok(overflow <= 1, `no horizontal scrolling (overflow ${overflow}px)`);
    await shot("11-phone");
    await page.setViewportSize({ width: 1280, height: 900 });
  }, { independent: true });

  await step("12 keyboard: the sign-out button is reachable and works", async () => {
    await page.goto(BASE + "/dashboard/#/sessions");
    await page.getByRole("heading", { name: "Sessions", level: 1 }).waitFor(T);
    await page.locator("#signout").focus();
    await page.keyboard.press("Enter");
    await page.getByLabel("API key").waitFor(T);
    const res = await page.evaluate(async () => (await fetch("/api/v1/sessions")).status);
    assert.equal(res, 401, "signed out: the API refuses the page");
    await shot("12-signed-out");
  });

  assert.deepEqual(pageErrors, [], "no script errors or CSP violations");
} catch {
  // reported by step
} finally {
  if (pageErrors.length) log("page errors:\n" + pageErrors.join("\n"));
  await browser.close();
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed || pageErrors.length ? 1 : 0);
