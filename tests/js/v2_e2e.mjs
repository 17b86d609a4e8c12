// End-to-end checks of the event streaming protocol ("v2": /threads/{t}/commands and
// /threads/{t}/stream/events) with the official JS SDK's `client.threads.stream(...)`
// (@langchain/langgraph-sdk 1.15.x), over SSE and over WebSocket, on the bundled graphs.
//
//   node --experimental-websocket tests/js/v2_e2e.mjs http://127.0.0.1:PORT [name-filter]
//
// (Node 22+ has WebSocket without the flag.) Prints one line per check, then a plain
// `N passed, M failed` (preceded by `K skipped`); exits non-zero when any check failed.
//
// V2_TARGET says what the server must do beyond what the Python reference does:
//   ours (default)  every check runs: all nine channels for Python graphs, agent.getTree and
//                   state.get over HTTP, classic runs on a v2 stream...
//   reference       checks marked `beyondReference` are skipped (reported, with the reason)
// so the same script proves itself against the reference and then holds our server to more.

import assert from "node:assert/strict";
import { Client, ProtocolSseTransportAdapter } from "@langchain/langgraph-sdk";

const API_URL = (process.argv[2] ?? "").replace(/\/$/, "");
const FILTER = process.argv[3] ?? process.env.V2_E2E_FILTER ?? "";
const TARGET = process.env.V2_TARGET ?? "ours";
const CHECK_TIMEOUT_MS = Number(process.env.V2_E2E_CHECK_TIMEOUT_MS ?? 20000);
if (!API_URL) {
  console.error("usage: node v2_e2e.mjs <server-url> [name-filter]");
  process.exit(2);
}
if (typeof WebSocket === "undefined") {
  console.error("no global WebSocket: run node with --experimental-websocket (Node 20) or use Node 22+");
  process.exit(2);
}

const ALL_CHANNELS = ["values", "updates", "messages", "tools", "lifecycle", "input", "checkpoints", "tasks", "custom"];
const JOKE = "This is a joke about ice cream and cats";
const LLM_TEXT = "Why did the ice cream cross the road? To get to the other side!";
const TRANSPORTS = ["sse", "websocket"];

// -- harness ------------------------------------------------------------------------------

const checks = [];
/** `opts.beyondReference`: why the Python reference fails this (skipped when V2_TARGET=reference). */
function check(name, fn, opts = {}) {
  checks.push({ name, fn, ...opts });
}

function withTimeout(promise, ms, what) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** Every ThreadStream a check opens, closed after it (pass or fail). */
let opened = [];
function openThread(transport, assistantId, threadId, extra = {}) {
  const client = new Client({ apiUrl: API_URL });
  const options = { assistantId, transport, ...extra };
  const thread = threadId ? client.threads.stream(threadId, options) : client.threads.stream(options);
  opened.push(thread);
  return thread;
}

const isRootTerminal = (e) =>
  e.method === "lifecycle" && e.params.namespace.length === 0 && ["completed", "failed", "interrupted"].includes(e.params.data.event);

/**
 * Read a subscription up to (and including) the next event matching `until` (default: the
 * run's root terminal lifecycle). Uses the iterator directly, so the subscription stays open
 * for the next run on the thread.
 */
async function readUntil(iterator, until = isRootTerminal, what = "the run's end") {
  const events = [];
  for (;;) {
    const { value, done } = await withTimeout(iterator.next(), CHECK_TIMEOUT_MS, what);
    if (done) throw new Error(`subscription ended before ${what}; got ${JSON.stringify(events.map((e) => e.method))}`);
    events.push(value);
    if (until(value)) return events;
  }
}

async function subscribe(thread, params) {
  const sub = await thread.subscribe(params);
  return { sub, it: sub[Symbol.asyncIterator]() };
}

/** Subscribe to every channel, start a run, read to its end. */
async function runAll(thread, input, { channels = ALL_CHANNELS, subscribeFirst = true } = {}) {
  let s;
  if (subscribeFirst) s = await subscribe(thread, { channels });
  const { run_id } = await thread.run.start({ input });
  if (!subscribeFirst) s = await subscribe(thread, { channels });
  const events = await readUntil(s.it);
  return { runId: run_id, events, ...s };
}

const of = (events, method) => events.filter((e) => e.method === method);
const root = (events) => events.filter((e) => e.params.namespace.length === 0);
const lastValues = (events) => of(root(events), "values").at(-1)?.params.data;

/** What every event must look like, on any channel. */
function assertEnvelopes(events) {
  let seq = -Infinity;
  for (const e of events) {
    assert.equal(e.type, "event");
    assert.equal(typeof e.method, "string");
    assert.ok(typeof e.event_id === "string" && e.event_id.length > 0, `event_id: ${JSON.stringify(e)}`);
    assert.ok(Number.isInteger(e.seq) && e.seq > seq, `seq must grow: ${seq} then ${e.seq}`);
    seq = e.seq;
    assert.ok(Array.isArray(e.params.namespace) && e.params.namespace.every((s) => typeof s === "string"));
    assert.equal(typeof e.params.timestamp, "number");
    assert.ok("data" in e.params);
  }
}

function assertRootLifecycle(events, terminal, graph) {
  const lc = of(root(events), "lifecycle").map((e) => e.params.data);
  assert.equal(lc[0].event, "running", `root lifecycle starts running: ${JSON.stringify(lc)}`);
  assert.equal(lc.at(-1).event, terminal, `root lifecycle ends ${terminal}: ${JSON.stringify(lc)}`);
  for (const d of lc) assert.equal(d.graph_name, graph);
}

/** Concatenate a message's text deltas, from message-start to message-finish. */
function messageTexts(events) {
  const texts = [];
  let current = null;
  for (const e of of(events, "messages")) {
    const d = e.params.data;
    if (d.event === "message-start") current = { id: d.id, text: "", finished: null, namespace: e.params.namespace };
    else if (d.event === "content-block-delta" && d.delta?.type === "text-delta") current.text += d.delta.text;
    else if (d.event === "content-block-finish") current.finished = d.content;
    else if (d.event === "message-finish") {
      texts.push(current);
      current = null;
    }
  }
  return texts;
}

/** An event without its timestamp (the reference re-stamps the events it makes itself on replay). */
const comparable = ({ params: { timestamp, ...params }, ...event }) => ({ ...event, params });

/** A raw SSE reader of /stream/events: the events as parsed JSON, until `until` matches. */
async function rawStream(threadId, body, until, what) {
  const ac = new AbortController();
  const res = await fetch(`${API_URL}/threads/${threadId}/stream/events`, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "text/event-stream" },
    body: JSON.stringify(body),
    signal: ac.signal,
  });
  if (res.status !== 200) throw new Error(`stream/events answered ${res.status}: ${await res.text()}`);
  const events = [];
  const decoder = new TextDecoder();
  let buffer = "";
  try {
    const reader = res.body.getReader();
    for (;;) {
      const { value, done } = await withTimeout(reader.read(), CHECK_TIMEOUT_MS, what);
      if (done) throw new Error(`stream ended before ${what}`);
      buffer += decoder.decode(value, { stream: true });
      const lines = buffer.split(/\r?\n/);
      buffer = lines.pop();
      for (const line of lines) {
        if (!line.startsWith("data:")) continue;
        const event = JSON.parse(line.slice(5).trim());
        events.push(event);
        if (until(event, events)) return events;
      }
    }
  } finally {
    ac.abort();
  }
}

async function command(threadId, cmd) {
  const res = await fetch(`${API_URL}/threads/${threadId}/commands`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: typeof cmd === "string" ? cmd : JSON.stringify(cmd),
  });
  const text = await res.text();
  let body = text;
  try { body = JSON.parse(text); } catch { /* not JSON */ }
  return { status: res.status, body };
}

// -- checks, per transport ----------------------------------------------------------------

for (const T of TRANSPORTS) {
  check(`agent: values, lifecycle and envelopes [${T}]`, async () => {
    const thread = openThread(T, "agent");
    const { events } = await runAll(thread, { topic: "ice cream" });
    assertEnvelopes(events);
    assertRootLifecycle(events, "completed", "agent");
    const values = of(root(events), "values").map((e) => e.params.data);
    assert.deepEqual(values[0], { topic: "ice cream" });
    assert.deepEqual(values.at(-1), { topic: "ice cream and cats", joke: JOKE });
    assert.deepEqual(await withTimeout(Promise.resolve(thread.output), CHECK_TIMEOUT_MS, "thread.output"), { topic: "ice cream and cats", joke: JOKE });
  });

  check(`agent: updates, checkpoints and tasks [${T}]`, async () => {
    const thread = openThread(T, "agent");
    const { events } = await runAll(thread, { topic: "ice cream" });
    const updates = of(events, "updates").map((e) => [e.params.node, e.params.data]);
    assert.deepEqual(updates, [["refine_topic", { topic: "ice cream and cats" }], ["generate_joke", { joke: JOKE }]]);
    const checkpoints = of(events, "checkpoints").map((e) => e.params.data);
    assert.ok(checkpoints.length >= 3, `a checkpoint per step: ${JSON.stringify(checkpoints)}`);
    assert.deepEqual(checkpoints.map((c) => c.step), [-1, 0, 1, 2].slice(0, checkpoints.length));
    for (const [i, c] of checkpoints.entries()) {
      assert.equal(typeof c.id, "string");
      if (i > 0) assert.equal(c.parent_id, checkpoints[i - 1].id);
    }
    const state = await (await fetch(`${API_URL}/threads/${thread.threadId}/state`)).json();
    assert.equal(checkpoints.at(-1).id, state.checkpoint.checkpoint_id, "the last checkpoint event is the thread's head");
    const tasks = of(events, "tasks").map((e) => e.params.data);
    for (const node of ["refine_topic", "generate_joke"]) {
      const start = tasks.find((t) => t.name === node && "input" in t);
      const result = tasks.find((t) => t.name === node && "result" in t);
      assert.ok(start && result && start.id === result.id, `task start and result for ${node}: ${JSON.stringify(tasks)}`);
    }
  }, { beyondReference: "the Python reference emits no updates, checkpoints or tasks for Python graphs" });

  check(`custom: stream-writer events [${T}]`, async () => {
    const thread = openThread(T, "custom");
    const { events } = await runAll(thread, { query: "q" });
    const custom = of(events, "custom").map((e) => e.params.data);
    assert.deepEqual(custom, [0, 1, 2].map((i) => ({ payload: { progress: i, query: "q" } })));
    assert.deepEqual(lastValues(events), { query: "q", answer: "done: q" });
  }, { beyondReference: "the Python reference emits no custom events without a CustomTransformer" });

  check(`llm: messages as content blocks, and the messages projection [${T}]`, async () => {
    const thread = openThread(T, "llm");
    const handles = [];
    const collecting = (async () => {
      for await (const message of thread.messages) handles.push({ id: message.id, text: await message.text });
    })();
    const { events } = await runAll(thread, { topic: "ice cream" });
    assertRootLifecycle(events, "completed", "llm");
    const [message, ...more] = messageTexts(events);
    assert.equal(more.length, 0);
    assert.equal(message.text, LLM_TEXT, "the deltas add up to the answer");
    assert.deepEqual(message.finished, { type: "text", text: LLM_TEXT });
    const deltas = of(events, "messages").filter((e) => e.params.data.event === "content-block-delta");
    assert.ok(deltas.length > 5, "streamed token by token");
    const start = of(events, "messages")[0].params.data;
    assert.equal(start.event, "message-start");
    assert.equal(of(events, "messages").at(-1).params.data.event, "message-finish");
    await withTimeout(thread.close(), CHECK_TIMEOUT_MS, "close");
    await withTimeout(collecting, CHECK_TIMEOUT_MS, "the messages projection to end");
    assert.deepEqual(handles, [{ id: start.id, text: LLM_TEXT }]);
  });

  check(`subgraph: namespaces, depth and subgraph lifecycle [${T}]`, async () => {
    const all = openThread(T, "subgraph");
    const rootOnly = openThread(T, "subgraph", all.threadId);
    const childOnly = openThread(T, "subgraph", all.threadId);
    const a = await subscribe(all, { channels: ["values", "lifecycle"] });
    const r = await subscribe(rootOnly, { channels: ["values", "lifecycle"], namespaces: [[]], depth: 0 });
    const c = await subscribe(childOnly, { channels: ["values", "lifecycle"], namespaces: [["node_2"]] });
    await all.run.start({ input: { foo: "foo" } });
    const everything = await readUntil(a.it);
    const child = everything.find((e) => e.params.namespace.length > 0).params.namespace;
    assert.equal(child.length, 1);
    assert.match(child[0], /^node_2:/);
    const childLc = of(everything, "lifecycle").filter((e) => e.params.namespace[0] === child[0]).map((e) => e.params.data.event);
    assert.deepEqual([childLc[0], childLc.at(-1)], ["started", "completed"]);
    const childValues = of(everything, "values").filter((e) => e.params.namespace[0] === child[0]).map((e) => e.params.data);
    assert.deepEqual(childValues.at(-1), { foo: "hi! foobar", bar: "bar" });
    assert.deepEqual(lastValues(everything), { foo: "hi! foobar" });

    const rootEvents = await readUntil(r.it);
    assert.ok(rootEvents.every((e) => e.params.namespace.length === 0), "depth 0 under [] is the root only");
    assert.deepEqual(rootEvents.map((e) => e.event_id), root(everything).map((e) => e.event_id));
    const childEvents = await readUntil(c.it, (e) => e.method === "lifecycle" && e.params.data.event === "completed", "the subgraph's end");
    assert.ok(childEvents.every((e) => e.params.namespace[0] === child[0]), "a prefix without ':' matches the node's namespaces");
    assert.deepEqual(childEvents.map((e) => e.event_id), everything.filter((e) => e.params.namespace[0] === child[0]).map((e) => e.event_id));
  });

  check(`asking: an interrupt, then input.respond resumes [${T}]`, async () => {
    const thread = openThread(T, "asking");
    const { events, it } = await runAll(thread, { question: "Deploy?" });
    assertRootLifecycle(events, "interrupted", "asking");
    const [asked, ...more] = of(events, "input.requested");
    assert.equal(more.length, 0);
    assert.deepEqual(asked.params.namespace, []);
    assert.deepEqual(asked.params.data.payload, { question: "Deploy?" });
    const interruptId = asked.params.data.interrupt_id;
    assert.equal(typeof interruptId, "string");
    assert.equal(thread.interrupted, true);
    assert.deepEqual(thread.interrupts.map((i) => [i.interruptId, i.payload]), [[interruptId, { question: "Deploy?" }]]);
    await thread.input.respond({ interrupt_id: interruptId, response: "yes", namespace: [] });
    const resumed = await readUntil(it, (e) => isRootTerminal(e) && e.params.data.event !== "interrupted", "the resumed run's end");
    assert.equal(resumed.filter(isRootTerminal).at(-1).params.data.event, "completed");
    assert.deepEqual(lastValues(resumed), { question: "Deploy?", answer: "yes (confirmed)" });
    const runs = await (await fetch(`${API_URL}/threads/${thread.threadId}/runs`)).json();
    assert.equal(runs.length, 2, "the answer is a second run on the thread");
  });

  check(`asking: run.start on an interrupted thread resumes it [${T}]`, async () => {
    const thread = openThread(T, "asking");
    const { it } = await runAll(thread, { question: "Deploy?" });
    await thread.run.start({ input: "sure" });
    const resumed = await readUntil(it, (e) => isRootTerminal(e) && e.params.data.event !== "interrupted", "the resumed run's end");
    assert.deepEqual(lastValues(resumed), { question: "Deploy?", answer: "sure (confirmed)" });
  });

  check(`tools: the tools channel, tool-call blocks and a named custom channel [${T}]`, async () => {
    const thread = openThread(T, "tools");
    const named = await subscribe(thread, { channels: ["custom:toolCallCount"] });
    const { events } = await runAll(thread, { messages: [{ type: "human", content: "weather in Paris?" }] });
    assertRootLifecycle(events, "completed", "tools");
    const tools = of(events, "tools").map((e) => e.params.data);
    const started = tools.find((t) => t.event === "tool-started");
    const finished = tools.find((t) => t.event === "tool-finished");
    assert.equal(started.tool_call_id, "call-weather-1");
    assert.equal(started.tool_name, "get_weather");
    assert.deepEqual(typeof started.input === "string" ? JSON.parse(started.input) : started.input, { city: "Paris" });
    assert.equal(finished.tool_call_id, "call-weather-1");
    assert.equal(finished.output.content, "It is sunny in Paris.");
    const call = of(events, "messages").map((e) => e.params.data).find((d) => d.event === "content-block-finish" && d.content.type === "tool_call");
    assert.deepEqual(call.content, { type: "tool_call", id: "call-weather-1", name: "get_weather", args: { city: "Paris" } });
    const argDeltas = of(events, "messages").map((e) => e.params.data.delta).filter((d) => d?.type === "tool-call-delta").map((d) => d.args);
    assert.equal(argDeltas.join(""), '{"city": "Paris"}');
    assert.deepEqual(of(events, "custom").map((e) => e.params.data), [{ name: "toolCallCount", payload: 1 }]);
    const [count] = await readUntil(named.it, () => true, "custom:toolCallCount");
    assert.deepEqual([count.method, count.params.data], ["custom", { name: "toolCallCount", payload: 1 }]);
    const answers = messageTexts(events).filter((m) => m.text);
    assert.equal(answers.at(-1).text, "The weather: It is sunny in Paris.");
    const final = lastValues(events).messages;
    assert.deepEqual(final.map((m) => m.type), ["human", "ai", "tool", "ai"]);
  });

  check(`classic and v2 together: a v2 run is a run, a classic run shows on v2 [${T}]`, async () => {
    const client = new Client({ apiUrl: API_URL });
    const thread = openThread(T, "agent");
    const { runId } = await runAll(thread, { topic: "ice cream" });
    const run = await client.runs.get(thread.threadId, runId);
    assert.equal(run.status, "success");
    assert.deepEqual(await client.runs.join(thread.threadId, runId), { topic: "ice cream and cats", joke: JOKE });
    const runs = await client.runs.list(thread.threadId);
    assert.deepEqual(runs.map((r) => r.run_id), [runId]);
    // A classic run on the same thread shows on a v2 stream. Read raw: the SDK pauses a fresh
    // stream's subscriptions at each root terminal it replays, and whether a run replayed
    // after one resumes them depends on how the frames arrive (one read or several).
    const classic = await client.runs.create(thread.threadId, "agent", { input: { topic: "tea" } });
    await client.runs.join(thread.threadId, classic.run_id);
    let tea = null;
    await rawStream(thread.threadId, { channels: ["values", "lifecycle"] }, (e) => {
      if (e.method === "values" && e.params.namespace.length === 0 && e.params.data.topic === "tea and cats") tea = e.params.data;
      return tea?.joke && isRootTerminal(e);
    }, "the classic run on the v2 stream");
    assert.deepEqual(tea, { topic: "tea and cats", joke: "This is a joke about tea and cats" });
  }, { beyondReference: "the Python reference's v2 stream shows only runs started through v2" });
}

// -- checks on one transport ----------------------------------------------------------------

check("agent.getTree over a WebSocket [websocket]", async () => {
  const thread = openThread("websocket", "subgraph");
  await runAll(thread, { foo: "foo" });
  const { tree } = await thread.agent.getTree();
  assert.deepEqual(tree.namespace, []);
  assert.equal(tree.graph_name, "subgraph");
  assert.equal(tree.status, "completed");
  assert.equal(tree.children.length, 1);
  assert.match(tree.children[0].namespace[0], /^node_2:/);
  assert.equal(tree.children[0].status, "completed");
});

check("agent.getTree and state.get over HTTP [sse]", async () => {
  const thread = openThread("sse", "agent");
  await runAll(thread, { topic: "ice cream" });
  const { tree } = await thread.agent.getTree();
  assert.deepEqual([tree.namespace, tree.graph_name, tree.status], [[], "agent", "completed"]);
  const state = await thread.state.get({ namespace: [] });
  assert.deepEqual(state.values, { topic: "ice cream and cats", joke: JOKE });
  assert.equal(typeof state.checkpoint.id, "string");
}, { beyondReference: "the Python reference answers agent.getTree over HTTP with no_such_run and has no state.get" });

check("reconnect: since gives exactly the suffix [sse]", async () => {
  const thread = openThread("sse", "llm");
  await runAll(thread, { topic: "ice cream" });
  const full = await rawStream(thread.threadId, { channels: ALL_CHANNELS }, isRootTerminal, "the whole replay");
  assert.ok(full.length > 10);
  for (const since of [0, full[0].seq, full[Math.floor(full.length / 2)].seq, full.at(-2).seq]) {
    const rest = await rawStream(thread.threadId, { channels: ALL_CHANNELS, since }, isRootTerminal, `the replay after ${since}`);
    assert.deepEqual(rest.map(comparable), full.filter((e) => e.seq > since).map(comparable), `since ${since}`);
  }
  // The SDK's own transport, resuming from a seq: the same suffix.
  const adapter = new ProtocolSseTransportAdapter({ apiUrl: API_URL, threadId: thread.threadId });
  const since = full[3].seq;
  const stream = adapter.openEventStream({ channels: ALL_CHANNELS, since });
  const it = stream.events[Symbol.asyncIterator]();
  try {
    assert.deepEqual((await readUntil(it)).map((e) => e.seq), full.filter((e) => e.seq > since).map((e) => e.seq));
  } finally {
    stream.close();
    await adapter.close();
  }
});

check("reconnect: a dropped SSE connection goes on without loss or repeats [sse]", async () => {
  // Cut the first event stream that carries a few events (the SDK may rotate streams before
  // that); the SDK reconnects and dedupes by event_id.
  let cut = false;
  const cuttingFetch = async (input, init) => {
    const res = await fetch(input, init);
    const url = typeof input === "string" ? input : input.url;
    if (cut || !url.endsWith("/stream/events") || !res.body) return res;
    let seen = 0;
    const reader = res.body.getReader();
    const body = new ReadableStream({
      async pull(controller) {
        const { value, done } = await reader.read();
        if (done) return controller.close();
        controller.enqueue(value);
        seen += new TextDecoder().decode(value).split("data:").length - 1;
        if (seen >= 4 && !cut) {
          cut = true;
          reader.cancel().catch(() => {});
          controller.error(new TypeError("network connection lost"));
        }
      },
      cancel: () => reader.cancel(),
    });
    return new Response(body, { status: res.status, headers: res.headers });
  };
  let reconnects = 0;
  const thread = openThread("sse", "llm", undefined, { fetch: cuttingFetch, reconnectDelayMs: () => 20, onReconnect: () => { reconnects += 1; } });
  const { events } = await runAll(thread, { topic: "ice cream" });
  assert.ok(cut, "the stream was cut");
  assert.ok(reconnects >= 1, "the SDK reconnected");
  const ids = events.map((e) => e.event_id);
  assert.equal(new Set(ids).size, ids.length, "no event twice");
  const clean = await rawStream(thread.threadId, { channels: ALL_CHANNELS }, isRootTerminal, "a clean replay");
  assert.deepEqual(ids, clean.map((e) => e.event_id), "every event once, in order");
  assert.equal(messageTexts(events)[0].text, LLM_TEXT);
});

check("reconnect: subscription.reconnect replays after since [websocket]", async () => {
  const thread = openThread("sse", "agent");
  await runAll(thread, { topic: "ice cream" });
  const full = await rawStream(thread.threadId, { channels: ALL_CHANNELS }, isRootTerminal, "the whole replay");
  const since = full[1].seq;
  const ws = new WebSocket(`${API_URL.replace(/^http/, "ws")}/threads/${thread.threadId}/stream/events`);
  const frames = [];
  let wake;
  ws.onmessage = (m) => { frames.push(JSON.parse(m.data)); wake?.(); };
  await withTimeout(new Promise((resolve, reject) => { ws.onopen = resolve; ws.onerror = reject; }), CHECK_TIMEOUT_MS, "the socket");
  try {
    // The reference binds a new socket to the thread's last run a moment after it opens, and
    // answers no_such_run until then: only against it, ask again until it knows the run.
    let id = 1;
    ws.send(JSON.stringify({ id, method: "subscription.reconnect", params: { channels: ALL_CHANNELS, since } }));
    await withTimeout((async () => {
      while (!(frames.some((f) => f.id === id && f.type === "success") && frames.some((f) => f.type === "event" && isRootTerminal(f)))) {
        const answer = frames.find((f) => f.id === id);
        if (answer?.type === "error") {
          if (!(TARGET === "reference" && answer.error === "no_such_run")) break;
          id += 1;
          ws.send(JSON.stringify({ id, method: "subscription.reconnect", params: { channels: ALL_CHANNELS, since } }));
        }
        await new Promise((resolve) => { wake = resolve; });
      }
    })(), CHECK_TIMEOUT_MS, "the reconnect's replay").catch((err) => {
      throw new Error(`${err.message}; frames: ${JSON.stringify(frames).slice(0, 2000)}`);
    });
    const answer = frames.find((f) => f.id === id);
    assert.equal(answer.type, "success", JSON.stringify(answer));
    assert.equal(typeof answer.result.subscription_id, "string");
    const replayed = frames.filter((f) => f.type === "event");
    assert.deepEqual(replayed.map((e) => e.seq), full.filter((e) => e.seq > since).map((e) => e.seq));
  } finally {
    ws.close();
  }
});

check("replay: a late subscriber still gets named custom events [sse]", async () => {
  const thread = openThread("sse", "tools");
  await runAll(thread, { messages: [{ type: "human", content: "weather in Paris?" }] });
  const late = await rawStream(thread.threadId, { channels: ["custom:toolCallCount", "lifecycle"] }, isRootTerminal, "the replay");
  assert.deepEqual(of(late, "custom").map((e) => e.params.data), [{ name: "toolCallCount", payload: 1 }]);
}, { beyondReference: "the Python reference does not replay named custom events" });

check("errors: bad commands and filters get the reference's answers [sse]", async () => {
  const t = crypto.randomUUID();
  let r = await command(t, "{not json");
  assert.equal(r.status, 400);
  r = await command(t, { method: "run.start", params: {} });
  assert.equal(r.status, 400);
  assert.deepEqual([r.body.type, r.body.error], ["error", "invalid_argument"]);
  r = await command(t, { id: 1, method: "no.such.command", params: {} });
  assert.equal(r.status, 200);
  assert.deepEqual([r.body.type, r.body.id, r.body.error], ["error", 1, "unknown_command"]);
  r = await command(t, { id: 2, method: "run.start", params: {} });
  assert.deepEqual([r.body.type, r.body.error], ["error", "invalid_argument"]);
  r = await command(t, { id: 3, method: "run.start", params: { assistant_id: "no-such-graph" } });
  assert.deepEqual([r.status, r.body.type, r.body.id], [200, "error", 3]);
  r = await command(t, { id: 4, method: "input.respond", params: { interrupt_id: "x", response: 1 } });
  assert.deepEqual([r.body.type, r.body.error], ["error", "no_such_run"]);
  for (const body of [{}, { channels: [] }, { channels: ["debug"] }]) {
    const res = await fetch(`${API_URL}/threads/${t}/stream/events`, {
      method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body),
    });
    assert.equal(res.status, 400, `stream/events ${JSON.stringify(body)}`);
    assert.equal(typeof (await res.json()).detail, "string");
  }
});

// -- main -------------------------------------------------------------------------------------

const selected = checks.filter((c) => c.name.includes(FILTER));
if (selected.length === 0) {
  console.error(`no check matches ${JSON.stringify(FILTER)}`);
  console.log("0 passed, 1 failed");
  process.exit(1);
}
let passed = 0;
let failed = 0;
let skipped = 0;
for (const { name, fn, beyondReference } of selected) {
  if (beyondReference && TARGET === "reference") {
    skipped += 1;
    console.log(`skip  ${name}  (reference: ${beyondReference})`);
    continue;
  }
  const started = Date.now();
  try {
    await withTimeout(fn(), CHECK_TIMEOUT_MS * 2, name);
    passed += 1;
    console.log(`ok    ${name}  (${Date.now() - started} ms)`);
  } catch (err) {
    failed += 1;
    console.log(`FAIL  ${name}  (${Date.now() - started} ms)\n      ${String(err?.stack ?? err).replace(/\n/g, "\n      ")}`);
  } finally {
    await Promise.allSettled(opened.map((t) => withTimeout(t.close(), 5000, "close")));
    opened = [];
  }
}
if (skipped) console.log(`${skipped} skipped`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
