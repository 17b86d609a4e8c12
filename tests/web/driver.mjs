// Drives the test chat page (src/app.jsx, @langchain/react useStream) in headless Chromium
// against a running server, one scenario after another:
//
//   node tests/web/driver.mjs http://127.0.0.1:PORT [name-filter]
//
// Prints one line per scenario (`ok`/`FAIL`, with its time), then a plain `N passed, M failed`;
// exits non-zero when any failed. Every wait is for an observable condition (page state,
// server state), bounded by a timeout; nothing sleeps.
//
// Env: CHROMIUM (default /usr/bin/chromium); WEB_E2E_NETLOG=<file> writes every request the
// page made (method, path, body; WebSocket frames sent) per scenario, as JSON;
// WEB_E2E_TIMEOUT_MS bounds one wait (default 15000).

import assert from "node:assert/strict";
import { readFile, writeFile } from "node:fs/promises";
import { createServer } from "node:http";
import { extname, join } from "node:path";
import { chromium } from "playwright-core";
import { build } from "./build.mjs";

const API_URL = (process.argv[2] ?? "").replace(/\/$/, "");
const FILTER = process.argv[3] ?? "";
const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";
const WAIT_MS = Number(process.env.WEB_E2E_TIMEOUT_MS ?? 15000);
const NETLOG = process.env.WEB_E2E_NETLOG;
if (!API_URL) {
  console.error("usage: node driver.mjs <server-url> [name-filter]");
  process.exit(2);
}
const LAUNCH_ARGS = [
  "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
  "--disable-component-update", "--disable-sync",
];

// -- the page, served as static files --------------------------------------------------------

const TYPES = { ".html": "text/html", ".js": "text/javascript", ".map": "application/json" };

async function servePage(dist) {
  const server = createServer(async (req, res) => {
    const path = new URL(req.url, "http://x").pathname;
    const file = join(dist, path === "/" ? "index.html" : path.slice(1));
    try {
      const body = await readFile(file);
      res.writeHead(200, { "content-type": TYPES[extname(file)] ?? "application/octet-stream" });
      res.end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { server, url: `http://127.0.0.1:${server.address().port}/` };
}

// -- harness ----------------------------------------------------------------------------------

const scenarios = [];
function scenario(name, fn) {
  scenarios.push({ name, fn });
}

/** One browser context per scenario, its pages' requests recorded for assertions and the log. */
function makeSession(browser, pageUrl) {
  const requests = [];
  let context;
  const session = {
    requests,
    async open(query) {
      context ??= await browser.newContext();
      const page = await context.newPage();
      const tab = context.pages().length;
      page.on("request", (req) => {
        const url = new URL(req.url());
        if (url.origin !== new URL(API_URL).origin) return;
        let body = req.postData();
        try { body = body == null ? undefined : JSON.parse(body); } catch { /* keep text */ }
        requests.push({ tab, method: req.method(), path: url.pathname, search: url.search || undefined, body });
      });
      page.on("websocket", (ws) => {
        const path = new URL(ws.url()).pathname;
        requests.push({ tab, method: "WS", path });
        ws.on("framesent", ({ payload }) => {
          let body = payload;
          try { body = JSON.parse(payload); } catch { /* keep text */ }
          requests.push({ tab, method: "WS-SEND", path, body });
        });
      });
      page.on("pageerror", (err) => requests.push({ tab, method: "PAGEERROR", path: String(err) }));
      await page.goto(typeof query === "string" ? query : pageUrl + "?" + new URLSearchParams({ api: API_URL, ...query }));
      await waitFor(page, () => window.__chat?.ready === true, null, "the page to render");
      return page;
    },
    async close() {
      await context?.close();
    },
  };
  return session;
}

/** Wait until `fn(arg)` is truthy in the page; its value is returned. */
async function waitFor(page, fn, arg, what, timeout = WAIT_MS) {
  try {
    const handle = await page.waitForFunction(fn, arg, { timeout, polling: 20 });
    return await handle.jsonValue();
  } catch (err) {
    const state = await page.evaluate(() => ({ chat: window.__chat, log: window.__chatLog })).catch(() => null);
    throw new Error(`waiting for ${what}: ${err.message.split("\n")[0]}\npage state: ${JSON.stringify(state)?.slice(0, 3000)}`);
  }
}

/** Poll the server (not the page) until `fn()` resolves truthy. */
async function waitForServer(fn, what, timeout = WAIT_MS) {
  const deadline = Date.now() + timeout;
  let last;
  for (;;) {
    last = await fn();
    if (last) return last;
    if (Date.now() > deadline) throw new Error(`waiting for ${what} on the server (last: ${JSON.stringify(last)})`);
    await new Promise((resolve) => setTimeout(resolve, 50)); // a poll interval, not a sleep-for-effect
  }
}

async function api(method, path, body) {
  const res = await fetch(API_URL + path, {
    method,
    headers: body ? { "content-type": "application/json" } : {},
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

async function send(page, text) {
  await page.fill("#input", text);
  await page.click("#send");
}

const chat = (page) => page.evaluate(() => window.__chat);
const aiMessages = (state) => state.messages.filter((m) => m.type === "ai");
const threadOf = (page) => waitFor(page, () => window.__chat.threadId, null, "a thread id");

// A slow answer: "You said: <text>. word1 … wordN [end]", one word per `delay` seconds.
const slowchat = (delay, words) => ({ assistant: "slowchat", extra: JSON.stringify({ delay, words }) });

// -- scenarios --------------------------------------------------------------------------------

scenario("tokens appear progressively", async (s) => {
  const page = await s.open(slowchat(0.05, 12));
  await send(page, "stream please");
  await waitFor(page, () => window.__chat.messages.some((m) => m.type === "ai" && m.text.endsWith("[end]")) && !window.__chat.isLoading,
    null, "the whole answer");
  const state = await chat(page);
  const intermediate = state.aiTexts.filter((t) => !t.endsWith("[end]"));
  assert.ok(new Set(intermediate).size >= 3, `expected several partial renders of the answer, got ${JSON.stringify(state.aiTexts)}`);
  for (let i = 1; i < state.aiTexts.length; i++) {
    assert.ok(state.aiTexts[i].startsWith(state.aiTexts[i - 1].slice(0, 10)), `renders do not grow one answer: ${JSON.stringify(state.aiTexts)}`);
  }
  assert.equal(aiMessages(state).at(-1).text, "You said: stream please. " + Array.from({ length: 12 }, (_, i) => `word${i + 1}`).join(" ") + " [end]");
  assert.equal(await page.locator('#messages .msg[data-type="human"]').innerText(), "stream please");
});

scenario("history is kept across two turns", async (s) => {
  const page = await s.open({ assistant: "chat" });
  await send(page, "first");
  await waitFor(page, () => window.__chat.messages.some((m) => m.text === "You said: first") && !window.__chat.isLoading, null, "the first answer");
  await send(page, "second");
  const texts = await waitFor(page, () => {
    const c = window.__chat;
    return c.messages.length === 4 && !c.isLoading && c.messages[3].text === "You said: second" && c.messages.map((m) => `${m.type}:${m.text}`);
  }, null, "the second answer under the first");
  assert.deepEqual(texts, ["human:first", "ai:You said: first", "human:second", "ai:You said: second"]);
  const dom = await page.locator("#messages .msg").allInnerTexts();
  assert.deepEqual(dom, ["first", "You said: first", "second", "You said: second"]);
  const thread = await threadOf(page);
  const state = await api("GET", `/threads/${thread}/state`);
  assert.equal(state.body.values.messages.length, 4, "the server's thread holds both turns");
  const runs = await api("GET", `/threads/${thread}/runs`);
  assert.equal(runs.body.length, 2, "two turns, two runs on one thread");
});

scenario("stop mid-stream cancels the run", async (s) => {
  const page = await s.open(slowchat(0.2, 40));
  await send(page, "long one");
  // A few words in, well before the end (~8 s away): stop.
  await waitFor(page, () => window.__chat.aiTexts.length >= 3, null, "some tokens");
  const thread = await threadOf(page);
  await page.click("#stop");
  await waitFor(page, () => !window.__chat.isLoading, null, "the UI to stop");
  assert.equal(await page.locator("#stop").isDisabled(), true);
  const run = await waitForServer(async () => {
    const runs = await api("GET", `/threads/${thread}/runs`);
    const r = runs.body[0];
    return r && !["pending", "running"].includes(r.status) && r;
  }, "the run to end");
  assert.equal(run.status, "interrupted", "a cancelled run ends interrupted");
  assert.ok(s.requests.some((r) => r.method === "POST" && r.path === `/threads/${thread}/runs/${run.run_id}/cancel`),
    "stop() cancelled the run on the server");
  // The run is over on the server; the page never saw the answer's end.
  const after = await chat(page);
  assert.equal(after.isLoading, false);
  assert.ok(after.aiTexts.every((t) => !t.includes("[end]")), `the answer ran to its end: ${after.aiTexts.at(-1)}`);
  const state = await api("GET", `/threads/${thread}/state`);
  assert.ok(!JSON.stringify(state.body.values).includes("[end]"), "the server's state has no finished answer");
  // The page can go on: a new turn on the same thread.
  await page.fill("#input", "again");
  assert.equal(await page.locator("#send").isDisabled(), false);
});

scenario("an interrupt shows and resume continues", async (s) => {
  const page = await s.open({ assistant: "asking", input: "question" });
  await send(page, "Deploy now?");
  await page.locator("#interrupt").waitFor({ timeout: WAIT_MS });
  assert.deepEqual(JSON.parse(await page.locator("#interrupt-value").innerText()), { question: "Deploy now?" });
  await waitFor(page, () => !window.__chat.isLoading, null, "the run to pause");
  const thread = await threadOf(page);
  const paused = await api("GET", `/threads/${thread}`);
  assert.equal(paused.body.status, "interrupted");
  await page.fill("#resume-input", "ship it");
  await page.click("#resume");
  await waitFor(page, () => window.__chat.values?.answer === "ship it (confirmed)" && !window.__chat.isLoading && window.__chat.interrupts.length === 0,
    null, "the resumed run's answer");
  assert.equal(await page.locator("#interrupt").count(), 0);
  const done = await api("GET", `/threads/${thread}`);
  assert.equal(done.body.status, "idle");
});

scenario("a reload mid-run rejoins the run", async (s) => {
  const page = await s.open(slowchat(0.1, 40));
  await send(page, "survive a reload");
  await waitFor(page, () => window.__chat.aiTexts.length >= 2 && new URL(location.href).searchParams.get("thread"), null, "tokens, and the thread in the URL");
  const thread = await threadOf(page);
  await page.reload();
  await waitFor(page, () => window.__chat?.ready === true, null, "the reloaded page");
  // The run (~4 s) is still going: the reloaded page must find it, not just its outcome.
  const [live] = (await api("GET", `/threads/${thread}/runs`)).body;
  assert.equal(live.status, "running", "the run outlived the reload");
  const seen = await waitFor(page, () => {
    const c = window.__chat;
    const ai = c.messages.filter((m) => m.type === "ai").at(-1);
    return ai?.text.endsWith("[end]") && !c.isLoading && c;
  }, null, "the rejoined run to complete", 20000);
  assert.equal(seen.threadId, thread);
  assert.deepEqual(seen.messages.map((m) => m.type), ["human", "ai"]);
  assert.equal(seen.messages[0].text, "survive a reload");
  assert.equal(await page.evaluate(() => window.__chatLog.loadingSeen), true, "the reloaded page showed the run as running");
  const partial = seen.aiTexts.filter((t) => !t.endsWith("[end]"));
  assert.ok(partial.length >= 1, `after the reload the page showed the answer growing, not only its end: ${JSON.stringify(seen.aiTexts)}`);
  const runs = await api("GET", `/threads/${thread}/runs`);
  assert.equal(runs.body.length, 1, "the reload started no run of its own");
  assert.equal(runs.body[0].status, "success");
});

scenario("a second tab opened mid-run sees the run", async (s) => {
  const first = await s.open(slowchat(0.1, 30));
  await send(first, "watch me");
  await waitFor(first, () => window.__chat.aiTexts.length >= 2, null, "tokens in the first tab");
  const thread = await threadOf(first);
  const second = await s.open({ ...slowchat(0.1, 30), thread });
  const [live] = (await api("GET", `/threads/${thread}/runs`)).body;
  assert.equal(live.status, "running", "the second tab opened while the run was going");
  const seen = await waitFor(second, () => {
    const c = window.__chat;
    const ai = c.messages.filter((m) => m.type === "ai").at(-1);
    return ai?.text.endsWith("[end]") && !c.isLoading && c;
  }, null, "the second tab to see the run complete", 20000);
  assert.equal(seen.messages[0].text, "watch me");
  assert.ok(seen.aiTexts.some((t) => !t.endsWith("[end]")), `the second tab saw the answer growing: ${JSON.stringify(seen.aiTexts)}`);
  assert.equal(await second.evaluate(() => window.__chatLog.loadingSeen), true, "the second tab showed the run as running");
  const firstDone = await waitFor(first, () => !window.__chat.isLoading && window.__chat.messages.at(-1)?.text.endsWith("[end]") && window.__chat.messages.at(-1).text,
    null, "the first tab to complete too");
  assert.equal(seen.messages.at(-1).text, firstDone);
});

scenario("a turn over the WebSocket transport", async (s) => {
  const page = await s.open({ ...slowchat(0.03, 6), transport: "websocket" });
  await send(page, "over ws");
  await waitFor(page, () => window.__chat.messages.some((m) => m.type === "ai" && m.text.endsWith("[end]")) && !window.__chat.isLoading,
    null, "the answer over the WebSocket");
  assert.ok(s.requests.some((r) => r.method === "WS"), "the page opened a WebSocket");
  assert.ok(s.requests.some((r) => r.method === "WS-SEND" && r.body?.method === "run.start"), "run.start went over the socket");
});

// -- main -------------------------------------------------------------------------------------

const selected = scenarios.filter((sc) => sc.name.includes(FILTER));
const dist = await build();
const { server, url: pageUrl } = await servePage(dist);
let browser;
let passed = 0;
let failed = 0;
const netlog = {};
try {
  // Playwright gives the browser a fresh temporary profile (--user-data-dir) and removes it after.
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: LAUNCH_ARGS });
  for (const { name, fn } of selected) {
    const session = makeSession(browser, pageUrl);
    const started = Date.now();
    try {
      await fn(session);
      passed += 1;
      console.log(`ok    ${name}  (${Date.now() - started} ms)`);
    } catch (err) {
      failed += 1;
      console.log(`FAIL  ${name}  (${Date.now() - started} ms)\n      ${String(err?.stack ?? err).replace(/\n/g, "\n      ")}`);
    } finally {
      netlog[name] = session.requests;
      await session.close().catch(() => {});
    }
  }
} finally {
  await browser?.close().catch(() => {});
  server.close();
}
if (NETLOG) await writeFile(NETLOG, JSON.stringify(netlog, null, 1));
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
