// End to end: builds the real gateway, starts it on loopback with embedded defaults (SQLite in a
// temporary directory, in-process bus) and drives it through the generated client.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

import { API_KEY_HEADER, createGatewayClient } from "../src/index.js";

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
const BUILD_TIMEOUT_MS = 5 * 60_000; // a cold build of the gateway takes ~90 s on 2 cores
const START_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 30_000;

/** Runs a command to completion, rejecting with its output when it fails. */
function run(cmd, args, options) {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(cmd, args, { ...options, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (d) => (output += d));
    child.stderr.on("data", (d) => (output += d));
    child.on("error", reject);
    child.on("exit", (code, signal) =>
      code === 0 ? resolvePromise(output) : reject(new Error(`${cmd} ${args.join(" ")}: ${signal ?? code}\n${output}`)),
    );
  });
}

/** Starts the gateway binary and resolves with its base URL once it prints its listening line. */
function startGateway(binary, env, cwd) {
  const child = spawn(binary, [], { cwd, env, stdio: ["ignore", "pipe", "pipe"] });
  const log = [];
  const ready = new Promise((resolvePromise, reject) => {
    const timer = setTimeout(() => reject(new Error(`gateway not listening after ${START_TIMEOUT_MS} ms:\n${log.join("\n")}`)), START_TIMEOUT_MS);
    const onLine = (line) => {
      log.push(line);
      // The gateway logs JSON lines; the one saying it listens carries its URL.
      const m = /listening".*"url":"(http:\/\/[^"]+)"/.exec(line);
      if (m) {
        clearTimeout(timer);
        resolvePromise(m[1]);
      }
    };
    createInterface({ input: child.stdout }).on("line", onLine);
    createInterface({ input: child.stderr }).on("line", (line) => log.push(line));
    child.on("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on("exit", (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`gateway exited (${signal ?? code}) before listening:\n${log.join("\n")}`));
    });
  });
  const exited = new Promise((resolvePromise) => child.on("exit", (code, signal) => resolvePromise({ code, signal })));
  return { child, ready, exited, log };
}

describe("gateway through the generated client", () => {
  const apiKey = randomBytes(24).toString("hex");
  let workDir;
  let gateway;
  let baseUrl;
  let client;

  before(async () => {
    workDir = await mkdtemp(join(tmpdir(), "gateway-sdk-test-"));
    const binary = join(workDir, "gateway");
    // Built with the caller's Go environment (GOCACHE, GOPROXY...), always without cgo.
    await run("go", ["build", "-o", binary, "./cmd/gateway"], {
      cwd: repoRoot,
      env: { ...process.env, CGO_ENABLED: "0" },
    });
    // Only what the gateway needs: no DATABASE_URL, REDIS_URL or CONFIG_FILE from the caller.
    const env = {
      PATH: process.env.PATH ?? "",
      HOME: workDir,
      PORT: "0", // a free port, printed in the listening line
      HOST: "127.0.0.1",
      API_KEY: apiKey,
      SESSIONS_PATH: join(workDir, "sessions"),
    };
    gateway = startGateway(binary, env, workDir);
    baseUrl = await gateway.ready;
    assert.match(baseUrl, /^http:\/\/127\.0\.0\.1:\d+$/);
    client = createGatewayClient({ baseUrl, apiKey });
  }, { timeout: BUILD_TIMEOUT_MS + START_TIMEOUT_MS });

  after(async () => {
    try {
      if (gateway && gateway.child.exitCode === null && gateway.child.signalCode === null) {
        gateway.child.kill("SIGINT");
        const timer = setTimeout(() => gateway.child.kill("SIGKILL"), STOP_TIMEOUT_MS);
        const { code, signal } = await gateway.exited;
        clearTimeout(timer);
        assert.equal(signal, null, `gateway killed after ${STOP_TIMEOUT_MS} ms:\n${gateway.log.join("\n")}`);
        assert.equal(code, 0, `gateway exit status:\n${gateway.log.join("\n")}`);
      }
    } finally {
      if (workDir) await rm(workDir, { recursive: true, force: true });
    }
  }, { timeout: STOP_TIMEOUT_MS + 10_000 });

  test("GET /health answers without a key", async () => {
    const anonymous = createGatewayClient({ baseUrl });
    const { data, error, response } = await anonymous.GET("/health");
    assert.equal(response.status, 200, JSON.stringify(error));
    assert.equal(data.status, "ok");
    assert.equal(typeof data.version, "string");
  });

  test("a request without the key is refused with a 401 problem", async () => {
    const anonymous = createGatewayClient({ baseUrl });
    const { data, error, response } = await anonymous.GET("/api/v1/sessions");
    assert.equal(response.status, 401);
    assert.equal(data, undefined);
    assert.equal(error.status, 401);
    assert.match(response.headers.get("content-type"), /^application\/problem\+json/);
    assert.match(error.detail, new RegExp(API_KEY_HEADER));
  });

  test("a request with a wrong key is refused with a 401", async () => {
    const wrong = createGatewayClient({ baseUrl, apiKey: `${apiKey}x` });
    const { response } = await wrong.GET("/api/v1/sessions");
    assert.equal(response.status, 401);
  });

  test("sessions and messages", async (t) => {
    const sessionId = `sdk-${randomBytes(4).toString("hex")}`;

    await t.test("create a session (201)", async () => {
      const { data, error, response } = await client.POST("/api/v1/sessions", { body: { id: sessionId } });
      assert.equal(response.status, 201, JSON.stringify(error));
      assert.equal(data.id, sessionId);
      assert.equal(data.channel, "whatsapp");
      assert.equal(typeof data.status, "string");
      assert.equal(response.headers.get("location"), `/api/v1/sessions/${sessionId}`);
    });

    await t.test("get it", async () => {
      const { data, error, response } = await client.GET("/api/v1/sessions/{id}", {
        params: { path: { id: sessionId } },
      });
      assert.equal(response.status, 200, JSON.stringify(error));
      assert.equal(data.id, sessionId);
    });

    await t.test("list sessions", async () => {
      const { data, error, response } = await client.GET("/api/v1/sessions");
      assert.equal(response.status, 200, JSON.stringify(error));
      assert.ok(Array.isArray(data.sessions));
      assert.ok(data.sessions.some((s) => s.id === sessionId), JSON.stringify(data.sessions));
    });

    let messageId;
    await t.test("send a text message (202, queued)", async () => {
      const { data, error, response } = await client.POST("/api/v1/sessions/{id}/messages", {
        params: { path: { id: sessionId } },
        body: { to: "+55 11 99999-0002", type: "text", text: "hello from the TypeScript client" },
      });
      assert.equal(response.status, 202, JSON.stringify(error));
      assert.equal(data.status, "queued");
      assert.equal(data.direction, "out");
      assert.equal(data.body, "hello from the TypeScript client");
      assert.ok(typeof data.id === "string" && data.id.length > 0, `message id: ${data.id}`);
      messageId = data.id;
    });

    await t.test("get that message back", async () => {
      assert.ok(messageId, "no message was sent");
      const { data, error, response } = await client.GET("/api/v1/sessions/{id}/messages/{messageId}", {
        params: { path: { id: sessionId, messageId } },
      });
      assert.equal(response.status, 200, JSON.stringify(error));
      assert.equal(data.id, messageId);
      assert.equal(data.type, "text");
      assert.equal(data.body, "hello from the TypeScript client");
    });
  });

  test("a bad body is refused with a 422 problem", async () => {
    const { data, error, response } = await client.POST("/api/v1/sessions", { body: { id: "not a valid id" } });
    assert.equal(response.status, 422);
    assert.equal(data, undefined);
    assert.match(response.headers.get("content-type"), /^application\/problem\+json/);
    assert.equal(error.status, 422);
    assert.ok(Array.isArray(error.errors) && error.errors.length > 0, JSON.stringify(error));
    assert.equal(error.errors[0].location, "body.id");
  });
});
