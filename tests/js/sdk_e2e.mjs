// End-to-end checks of trioserver with the official JS SDK (@langchain/langgraph-sdk 1.15.x).
//
//   node tests/js/sdk_e2e.mjs http://127.0.0.1:PORT [name-filter]
//
// Runs named checks one after another against a running server and prints one line per
// check, then a final plain line `N passed, M failed` (preceded by `K skipped` when some are).
// Exits non-zero when any check fails.
//
// Checks named in KNOWN_SERVER_BUGS are skipped (reported as skipped, never as passed):
// each is a place where the server is known to behave differently from what the SDK and
// the reference server expect. Set RUN_KNOWN_BUGS=1 to run them anyway (they then count
// like any other check), e.g. to see whether a fix landed.

import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { Client } from "@langchain/langgraph-sdk";

/** Checks that fail because of a server bug, not because of the test (see the report). */
const KNOWN_SERVER_BUGS = [];

const API_URL = (process.argv[2] ?? "").replace(/\/$/, "");
const FILTER = process.argv[3] ?? process.env.SDK_E2E_FILTER ?? "";
const RUN_KNOWN_BUGS = process.env.RUN_KNOWN_BUGS === "1";
const CHECK_TIMEOUT_MS = Number(process.env.SDK_E2E_CHECK_TIMEOUT_MS ?? 20000);
if (!API_URL) {
  console.error("usage: node sdk_e2e.mjs <server-url> [name-filter]");
  process.exit(2);
}

const AGENT_ID = "fe096781-5601-53d2-b2f6-0d3403f7e9ca"; // the reference's id for graph "agent"
const JOKE = "This is a joke about ice cream and cats";
const LLM_TEXT = "Why did the ice cream cross the road? To get to the other side!";
const EVENT_ID = /^\d+-\d+$/;

// -- harness ------------------------------------------------------------------------------

const checks = [];
function check(name, fn) {
  checks.push({ name, fn });
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

/**
 * A Client whose every HTTP exchange is recorded: `log` holds {method, path, search, headers,
 * status, response, comments} per request (response = the Response headers), so checks can
 * assert on what the SDK sent and on what the server answered. `droppable(pred)` lets a
 * check break the next matching response off mid-body, like a dropped connection.
 */
function makeClient() {
  const log = [];
  const waiters = [];
  const cuts = [];
  const recordingFetch = async (input, init = {}) => {
    const url = new URL(typeof input === "string" ? input : input.url);
    const entry = {
      method: (init.method ?? "GET").toUpperCase(),
      path: url.pathname,
      search: url.searchParams,
      headers: new Headers(init.headers ?? {}),
      status: undefined,
      response: undefined,
    };
    log.push(entry);
    let res = await fetch(input, init);
    entry.status = res.status;
    entry.response = res.headers;
    entry.comments = 0; // SSE comment lines (heartbeats) seen in the body, which the SDK hides
    if (res.body && res.headers.get("content-type")?.startsWith("text/event-stream")) {
      let atLineStart = true;
      const counter = new TransformStream({
        transform(chunk, controller) {
          for (const byte of chunk) {
            if (atLineStart && byte === 58) entry.comments += 1;
            atLineStart = byte === 10 || byte === 13;
          }
          controller.enqueue(chunk);
        },
      });
      res = new Response(res.body.pipeThrough(counter), { status: res.status, statusText: res.statusText, headers: res.headers });
    }
    const cut = cuts.findIndex((c) => c.pred(entry));
    if (cut !== -1 && res.body) {
      const { handle } = cuts.splice(cut, 1)[0];
      res = new Response(droppable(res.body, handle), { status: res.status, statusText: res.statusText, headers: res.headers });
    }
    for (const w of waiters.slice()) {
      if (w.pred(entry)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(entry);
      }
    }
    return res;
  };
  const client = new Client({ apiUrl: API_URL, apiKey: null, callerOptions: { fetch: recordingFetch } });
  return {
    client,
    log,
    /** Resolves with the log entry of the first response (from now on) matching `pred`. */
    responded(pred) {
      return new Promise((resolve) => waiters.push({ pred, resolve }));
    },
    /** The next response matching `pred` can be broken off with the returned `drop()`. */
    droppable(pred) {
      const handle = { drop: () => assert.fail("no matching response to drop yet") };
      cuts.push({ pred, handle });
      return handle;
    },
  };
}

/** A body that passes everything through until `drop()`, then errors like a dropped socket. */
function droppable(body, handle) {
  const reader = body.getReader();
  let ctrl;
  let dropped = false;
  handle.drop = () => {
    if (dropped) return;
    dropped = true;
    reader.cancel().catch(() => {});
    try {
      ctrl.error(new TypeError("terminated (connection dropped by the test)"));
    } catch {}
  };
  return new ReadableStream({
    start(controller) {
      ctrl = controller;
    },
    async pull(controller) {
      const { done, value } = await reader.read().catch(() => ({ done: true }));
      if (dropped) return;
      if (done) controller.close();
      else controller.enqueue(value);
    },
    cancel(reason) {
      return reader.cancel(reason);
    },
  });
}

async function collect(iterable) {
  const out = [];
  for await (const chunk of iterable) out.push(chunk);
  return out;
}

/** Read an endless stream until `until(chunks)` holds, then abort its connection. */
async function readUntil(makeIterable, until, { timeoutMs = 15000 } = {}) {
  const controller = new AbortController();
  const chunks = [];
  const reading = (async () => {
    try {
      for await (const chunk of makeIterable(controller.signal)) {
        chunks.push(chunk);
        if (until(chunks)) break;
      }
    } catch (err) {
      if (!controller.signal.aborted) throw err;
    } finally {
      controller.abort();
    }
  })();
  try {
    await withTimeout(reading, timeoutMs, `stream condition; got ${JSON.stringify(chunks.map((c) => c.event))}`);
  } finally {
    controller.abort();
  }
  return chunks;
}

const runsDone = (n) => (chunks) => chunks.filter((c) => c.event === "metadata" && c.data?.status === "run_done").length >= n;

function parseId(id) {
  assert.match(id ?? "", EVENT_ID, `event id ${JSON.stringify(id)} is not <ms>-<seq>`);
  const [ms, seq] = id.split("-").map(BigInt);
  return [ms, seq];
}

function assertIncreasingIds(chunks) {
  let prev = null;
  for (const chunk of chunks) {
    const cur = parseId(chunk.id);
    if (prev) assert.ok(cur[0] > prev[0] || (cur[0] === prev[0] && cur[1] > prev[1]), `ids not increasing: ${chunks.map((c) => c.id)}`);
    prev = cur;
  }
}

async function rejectsWithStatus(promise, status) {
  await assert.rejects(promise, (err) => {
    assert.equal(err?.status, status, `expected HTTP ${status}, got ${err?.status}: ${err?.message}`);
    return true;
  });
}

const streamRequests = (log, tid) => log.filter((e) => e.path.startsWith(`/threads/${tid}/runs/`) && e.path.endsWith("/stream"));

// -- the seed's examples, one per stream mode -----------------------------------------------

check("seed: threads.create + runs.stream updates", async () => {
  const { client, log } = makeClient();
  const thread = await client.threads.create();
  const threadID = thread["thread_id"];
  assert.equal(thread.status, "idle");
  const chunks = await collect(client.runs.stream(threadID, "agent", { input: { topic: "ice cream" }, streamMode: "updates" }));
  assert.deepEqual(chunks.map((c) => c.event), ["metadata", "updates", "updates"]);
  assert.equal(chunks[0].data.attempt, 1);
  assert.ok(chunks[0].data.run_id);
  assert.deepEqual(chunks[1].data, { refine_topic: { topic: "ice cream and cats" } });
  assert.deepEqual(chunks[2].data, { generate_joke: { joke: JOKE } });
  assertIncreasingIds(chunks);
  // The stream ended because the run did: the SDK checked the run and did not reconnect.
  assert.equal(streamRequests(log, threadID).length, 1, "the SDK reconnected a finished run stream");
});

check("seed: streamMode values", async () => {
  const { client } = makeClient();
  const { thread_id } = await client.threads.create();
  const chunks = await collect(client.runs.stream(thread_id, "agent", { input: { topic: "ice cream" }, streamMode: "values" }));
  assert.deepEqual(chunks.map((c) => c.event), ["metadata", "values", "values", "values"]);
  assert.deepEqual(chunks.slice(1).map((c) => c.data), [
    { topic: "ice cream" },
    { topic: "ice cream and cats" },
    { topic: "ice cream and cats", joke: JOKE },
  ]);
  const after = await client.threads.get(thread_id);
  assert.equal(after.status, "idle");
  assert.deepEqual(after.values, { topic: "ice cream and cats", joke: JOKE });
});

check("no streamMode defaults to values", async () => {
  const { client } = makeClient();
  const { thread_id } = await client.threads.create();
  const chunks = await collect(client.runs.stream(thread_id, "agent", { input: { topic: "x" } }));
  assert.deepEqual(chunks.map((c) => c.event), ["metadata", "values", "values", "values"]);
});

check("seed: streamMode messages-tuple streams tokens", async () => {
  const { client } = makeClient();
  const { thread_id } = await client.threads.create();
  let text = "";
  let count = 0;
  let runId;
  for await (const chunk of client.runs.stream(thread_id, "llm", { input: { topic: "ice cream" }, streamMode: "messages-tuple" })) {
    if (chunk.event === "metadata") runId = chunk.data.run_id;
    if (chunk.event !== "messages") continue;
    const [message, metadata] = chunk.data;
    assert.equal(message.type, "AIMessageChunk");
    assert.equal(metadata.langgraph_node, "call_model");
    assert.equal(metadata.run_id, runId);
    assert.equal(metadata.thread_id, thread_id);
    assert.equal(metadata.graph_id, "llm");
    text += chunk.data[0]["content"];
    count += 1;
  }
  assert.ok(count > 5, `only ${count} message chunks`);
  assert.equal(text, LLM_TEXT);
});

check("streamMode messages: messages/metadata, then accumulated partials", async () => {
  const { client } = makeClient();
  const chunks = await collect(client.runs.stream(null, "llm", { input: { topic: "ice cream" }, streamMode: "messages" }));
  const events = chunks.map((c) => c.event);
  assert.equal(events[0], "metadata");
  assert.equal(events[1], "messages/metadata");
  const partials = chunks.filter((c) => c.event === "messages/partial");
  assert.ok(partials.length > 5);
  assert.equal(partials.at(-1).data[0].content, LLM_TEXT);
  // The reference sends the accumulated message as a plain message ("ai") when the graph
  // streamed LangChain objects, as a chunk when it streamed dicts: either is fine here.
  assert.ok(["ai", "AIMessageChunk"].includes(partials.at(-1).data[0].type), partials.at(-1).data[0].type);
  const [[msgId, { metadata }]] = Object.entries(chunks[1].data);
  assert.equal(partials.at(-1).data[0].id, msgId);
  assert.equal(metadata.langgraph_node, "call_model");
});

check("streamMode messages: messages/complete after the partials (as the JS server sends it)", async () => {
  const { client } = makeClient();
  const chunks = await collect(client.runs.stream(null, "llm", { input: { topic: "ice cream" }, streamMode: "messages" }));
  const events = chunks.map((c) => c.event);
  const complete = events.indexOf("messages/complete");
  assert.ok(complete > events.lastIndexOf("messages/partial"), `no messages/complete after the partials: ${[...new Set(events)]}`);
  assert.equal(chunks[complete].data[0].content, LLM_TEXT);
});

check("seed: streamMode debug", async () => {
  const { client } = makeClient();
  const { thread_id } = await client.threads.create();
  const chunks = await collect(client.runs.stream(thread_id, "agent", { input: { topic: "ice cream" }, streamMode: "debug" }));
  assert.equal(chunks[0].event, "metadata");
  const debug = chunks.slice(1);
  assert.ok(debug.every((c) => c.event === "debug"));
  for (const c of debug) assert.ok(["step", "timestamp", "type", "payload"].every((k) => k in c.data), JSON.stringify(c.data));
  assert.deepEqual(debug.map((c) => c.data.type), ["checkpoint", "checkpoint", "task", "task_result", "checkpoint", "task", "task_result", "checkpoint"]);
  const tasks = debug.filter((c) => c.data.type === "task").map((c) => c.data.payload.name);
  assert.deepEqual(tasks, ["refine_topic", "generate_joke"]);
  const results = debug.filter((c) => c.data.type === "task_result").map((c) => c.data.payload);
  assert.deepEqual(results.map((r) => r.result), [{ topic: "ice cream and cats" }, { joke: JOKE }]);
  assert.deepEqual(results.map((r) => r.interrupts), [[], []]);
  const checkpoints = debug.filter((c) => c.data.type === "checkpoint").map((c) => c.data.payload);
  assert.deepEqual(checkpoints.at(-1).values, { topic: "ice cream and cats", joke: JOKE });
  assert.deepEqual(checkpoints[1].tasks.map((t) => [t.name, t.interrupts, t.state]), [["refine_topic", [], null]]);
  assert.deepEqual(checkpoints.map((c) => c.metadata.step), [-1, 0, 1, 2]);
  assert.equal(checkpoints.at(-1).config.configurable.thread_id, thread_id);
  assert.equal(checkpoints[0].parent_config, null);
});

check("streamMode debug: checkpoint payloads carry checkpoint / parent_checkpoint (reference shape)", async () => {
  const { client } = makeClient();
  const { thread_id } = await client.threads.create();
  const chunks = await collect(client.runs.stream(thread_id, "agent", { input: { topic: "ice cream" }, streamMode: "debug" }));
  const checkpoints = chunks.filter((c) => c.data?.type === "checkpoint").map((c) => c.data.payload);
  assert.equal(checkpoints.length, 4);
  for (const p of checkpoints) {
    assert.ok("checkpoint" in p && "parent_checkpoint" in p, `payload keys: ${Object.keys(p)}`);
    assert.deepEqual(p.checkpoint, { checkpoint_id: p.config.configurable.checkpoint_id, thread_id, checkpoint_ns: "" });
  }
  assert.equal(checkpoints[0].parent_checkpoint, null);
  assert.deepEqual(checkpoints[1].parent_checkpoint, checkpoints[0].checkpoint);
});

check("seed: streamMode custom", async () => {
  const { client } = makeClient();
  const { thread_id } = await client.threads.create();
  const chunks = await collect(client.runs.stream(thread_id, "custom", { input: { query: "example" }, streamMode: "custom" }));
  assert.deepEqual(chunks.map((c) => c.event), ["metadata", "custom", "custom", "custom"]);
  assert.deepEqual(chunks.slice(1).map((c) => c.data), [0, 1, 2].map((i) => ({ progress: i, query: "example" })));
});

check("seed: streamMode events", async () => {
  const { client } = makeClient();
  const { thread_id } = await client.threads.create();
  const chunks = await collect(client.runs.stream(thread_id, "agent", { input: { topic: "ice cream" }, streamMode: "events" }));
  const runId = chunks[0].data.run_id;
  const events = chunks.slice(1);
  assert.ok(events.every((c) => c.event === "events"));
  const first = events[0].data;
  assert.equal(first.event, "on_chain_start");
  assert.equal(first.run_id, runId);
  assert.equal(first.metadata.graph_id, "agent");
  assert.deepEqual(first.data, { input: { topic: "ice cream" } });
  const names = events.map((c) => c.data.event);
  assert.ok(names.includes("on_chain_stream") && names.includes("on_chain_end"));
  const started = events.filter((c) => c.data.event === "on_chain_start").map((c) => c.data.name);
  assert.ok(started.includes("refine_topic") && started.includes("generate_joke"), `${started}`);
  const last = events.at(-1).data;
  assert.equal(last.event, "on_chain_end");
  assert.equal(last.run_id, runId);
  assert.deepEqual(last.data.output, { topic: "ice cream and cats", joke: JOKE });
});

check("streamMode events: the root chain is named after the graph (reference)", async () => {
  const { client } = makeClient();
  const chunks = await collect(client.runs.stream(null, "agent", { input: { topic: "ice cream" }, streamMode: "events" }));
  const root = chunks.filter((c) => c.event === "events" && c.data.run_id === chunks[0].data.run_id);
  assert.deepEqual(root.map((c) => [c.data.event, c.data.name]), [["on_chain_start", "agent"], ["on_chain_end", "agent"]]);
});

check("seed: streamMode list [updates, custom]", async () => {
  const { client } = makeClient();
  const { thread_id } = await client.threads.create();
  const chunks = await collect(client.runs.stream(thread_id, "custom", { input: { query: "example" }, streamMode: ["updates", "custom"] }));
  assert.deepEqual(
    chunks.slice(1).map((c) => [c.event, c.data]),
    [
      ["custom", { progress: 0, query: "example" }],
      ["custom", { progress: 1, query: "example" }],
      ["custom", { progress: 2, query: "example" }],
      ["updates", { work: { answer: "done: example" } }],
    ],
  );
  // And the agent graph with the same list: only its updates.
  const agent = await collect(client.runs.stream(thread_id, "agent", { input: { topic: "ice cream" }, streamMode: ["updates", "custom"] }));
  assert.deepEqual(agent.map((c) => c.event), ["metadata", "updates", "updates"]);
});

check("streamMode list [values, updates, messages-tuple] interleaves in order", async () => {
  const { client } = makeClient();
  const chunks = await collect(client.runs.stream(null, "agent", { input: { topic: "ice cream" }, streamMode: ["values", "updates", "messages-tuple"] }));
  assert.deepEqual(chunks.map((c) => c.event), ["metadata", "values", "updates", "values", "updates", "values"]);
  assert.deepEqual(chunks[2].data, { refine_topic: { topic: "ice cream and cats" } });
  assert.deepEqual(chunks[3].data, { topic: "ice cream and cats" });
});

check("seed: streamSubgraphs gives namespaced events", async () => {
  const { client } = makeClient();
  const { thread_id } = await client.threads.create();
  const chunks = await collect(client.runs.stream(thread_id, "subgraph", { input: { foo: "foo" }, streamSubgraphs: true, streamMode: "updates" }));
  const names = chunks.map((c) => c.event);
  assert.equal(names.length, 5, `${names}`);
  assert.deepEqual(names.slice(0, 2), ["metadata", "updates"]);
  assert.deepEqual(chunks[1].data, { node_1: { foo: "hi! foo" } });
  assert.match(names[2], /^updates\|node_2:[0-9a-f-]{36}$/);
  assert.equal(names[3], names[2], "both subgraph updates carry the same namespace");
  assert.deepEqual([chunks[2].data, chunks[3].data], [{ subgraph_node_1: { bar: "bar" } }, { subgraph_node_2: { foo: "hi! foobar" } }]);
  assert.equal(names[4], "updates");
  assert.deepEqual(chunks[4].data, { node_2: { foo: "hi! foobar" } });
  // Without streamSubgraphs, no namespaced events.
  const plain = await collect(client.runs.stream(null, "subgraph", { input: { foo: "foo" }, streamMode: "updates" }));
  assert.deepEqual(plain.map((c) => c.event), ["metadata", "updates", "updates"]);
});

check("seed: streamSubgraphs with a mode list", async () => {
  const { client } = makeClient();
  const chunks = await collect(client.runs.stream(null, "subgraph", { input: { foo: "foo" }, streamSubgraphs: true, streamMode: ["values", "updates"] }));
  const events = chunks.map((c) => c.event);
  const sub = events.filter((e) => e.includes("|"));
  assert.ok(sub.length > 0 && sub.every((e) => /^(values|updates)\|node_2:[0-9a-f-]{36}$/.test(e)), `${events}`);
  assert.ok(sub.some((e) => e.startsWith("values|")) && sub.some((e) => e.startsWith("updates|")), `${events}`);
  const inner = chunks.filter((c) => c.event.startsWith("updates|")).map((c) => c.data);
  assert.deepEqual(inner, [{ subgraph_node_1: { bar: "bar" } }, { subgraph_node_2: { foo: "hi! foobar" } }]);
  assert.equal(chunks.at(-1).event, "values");
  assert.deepEqual(chunks.at(-1).data, { foo: "hi! foobar" });
});

check("seed: stateless runs.stream(null, ...)", async () => {
  const { client, log } = makeClient();
  let created;
  const chunks = await collect(
    client.runs.stream(null, "agent", { input: { topic: "ice cream" }, streamMode: "updates", onRunCreated: (meta) => (created = meta) }),
  );
  assert.deepEqual(chunks.map((c) => c.event), ["metadata", "updates", "updates"]);
  assert.deepEqual(chunks[2].data, { generate_joke: { joke: JOKE } });
  const runId = chunks[0].data.run_id;
  assert.ok(created, "onRunCreated was not called");
  assert.equal(created.run_id, runId);
  const post = log.find((e) => e.method === "POST" && e.path === "/runs/stream");
  assert.equal(post.response.get("content-location"), `/runs/${runId}`);
});

// -- what the SDK's run tracking and reconnects rely on -------------------------------------

check("run stream: Content-Location/Location headers and onRunCreated", async () => {
  const { client, log } = makeClient();
  const { thread_id } = await client.threads.create();
  let created;
  const chunks = await collect(
    client.runs.stream(thread_id, "agent", { input: { topic: "a" }, streamMode: "updates", onRunCreated: (meta) => (created = meta) }),
  );
  const runId = chunks[0].data.run_id;
  assert.deepEqual(created, { run_id: runId, thread_id });
  const post = log.find((e) => e.method === "POST" && e.path === `/threads/${thread_id}/runs/stream`);
  assert.equal(post.status, 200);
  assert.equal(post.response.get("content-type"), "text/event-stream; charset=utf-8");
  assert.equal(post.response.get("content-location"), `/threads/${thread_id}/runs/${runId}`);
  assert.equal(post.response.get("location"), `/threads/${thread_id}/runs/${runId}/stream`);
});

check("onRunCreated on runs.create and runs.wait", async () => {
  const { client } = makeClient();
  const { thread_id } = await client.threads.create();
  let fromCreate;
  const run = await client.runs.create(thread_id, "agent", { input: { topic: "a" }, onRunCreated: (m) => (fromCreate = m) });
  assert.deepEqual(fromCreate, { run_id: run.run_id, thread_id });
  await client.runs.join(thread_id, run.run_id);
  let fromWait;
  await client.runs.wait(thread_id, "agent", { input: { topic: "b" }, onRunCreated: (m) => (fromWait = m) });
  assert.equal(fromWait?.thread_id, thread_id);
  const runs = await client.runs.list(thread_id);
  assert.equal(runs[0].run_id, fromWait.run_id);
});

/** Stream a run, breaking its connection off once `dropAfter` chunks have been read. */
async function streamWithDrop(tool, threadId, assistantId, payload, dropAfter) {
  const link = tool.droppable((e) => e.method === "POST" && e.path === `/threads/${threadId}/runs/stream`);
  const chunks = [];
  for await (const chunk of tool.client.runs.stream(threadId, assistantId, payload)) {
    chunks.push(chunk);
    if (chunks.length === dropAfter) link.drop();
  }
  return chunks;
}

check("run stream survives a dropped connection: SDK resumes via Location + Last-Event-ID", async () => {
  const tool = makeClient();
  const { client, log } = tool;
  const { thread_id } = await client.threads.create();
  // Drop the connection right after the metadata event; the run goes on meanwhile (its
  // nodes take 1.5 s each, the SDK waits 1-2 s before reconnecting), so the SDK reconnects
  // to a running run and must get the rest exactly once.
  let created;
  const chunks = await streamWithDrop(
    tool, thread_id, "slow", { input: { delay: 1.5 }, streamMode: "updates", onRunCreated: (m) => (created = m) }, 1,
  );
  assert.deepEqual(
    chunks.map((c) => [c.event, c.data?.run_id ? "run" : c.data]),
    [["metadata", "run"], ["updates", { tick: { log: ["tick"] } }], ["updates", { tock: { log: ["tock"] } }]],
  );
  assertIncreasingIds(chunks);
  const runId = chunks[0].data.run_id;
  assert.equal(created.run_id, runId);
  const again = log.filter((e) => e.path === `/threads/${thread_id}/runs/${runId}/stream`);
  assert.equal(again.length, 1, "expected exactly one reconnect");
  assert.equal(again[0].method, "GET");
  assert.equal(again[0].headers.get("last-event-id"), chunks[0].id);
  assert.equal(again[0].status, 200);
  assert.equal((await client.runs.get(thread_id, runId)).status, "success");
});

check("run stream dropped mid-way, reconnect after the run ended: rest replayed once", async () => {
  const tool = makeClient();
  const { client, log } = tool;
  const { thread_id } = await client.threads.create();
  const chunks = await streamWithDrop(tool, thread_id, "agent", { input: { topic: "ice cream" }, streamMode: ["updates", "values"] }, 2);
  assert.deepEqual(chunks.map((c) => c.event), ["metadata", "values", "updates", "values", "updates", "values"]);
  assert.deepEqual(chunks.at(-1).data, { topic: "ice cream and cats", joke: JOKE });
  assertIncreasingIds(chunks);
  const again = log.filter((e) => e.method === "GET" && e.path.endsWith("/stream"));
  assert.equal(again.length, 1, "expected exactly one reconnect");
  assert.equal(again[0].headers.get("last-event-id"), chunks[1].id);
});

// -- wait, create + join, joinStream ----------------------------------------------------------

check("runs.wait returns the final values (thread and stateless)", async () => {
  const { client } = makeClient();
  const { thread_id } = await client.threads.create();
  const result = await client.runs.wait(thread_id, "agent", { input: { topic: "ice cream" } });
  assert.deepEqual(result, { topic: "ice cream and cats", joke: JOKE });
  const stateless = await client.runs.wait(null, "agent", { input: { topic: "x" } });
  assert.deepEqual(stateless, { topic: "x and cats", joke: "This is a joke about x and cats" });
});

check("runs.wait of a failing graph throws; raiseError:false returns __error__", async () => {
  const { client } = makeClient();
  const { thread_id } = await client.threads.create();
  await assert.rejects(client.runs.wait(thread_id, "failing", { input: { topic: "t" } }), { message: "ValueError: boom: t!" });
  const res = await client.runs.wait(thread_id, "failing", { input: { topic: "u" }, raiseError: false });
  assert.deepEqual(res.__error__, { error: "ValueError", message: "boom: u!" });
  assert.equal((await client.threads.get(thread_id)).status, "error");
});

check("runs.stream of a failing graph ends with an error event", async () => {
  const { client, log } = makeClient();
  const { thread_id } = await client.threads.create();
  const chunks = await collect(client.runs.stream(thread_id, "failing", { input: { topic: "t" }, streamMode: "updates" }));
  assert.deepEqual(chunks.map((c) => c.event), ["metadata", "updates", "error"]);
  assert.deepEqual(chunks[1].data, { ok: { topic: "t!" } });
  assert.deepEqual(chunks[2].data, { error: "ValueError", message: "boom: t!" });
  const runs = await client.runs.list(thread_id);
  assert.equal(runs[0].status, "error");
  assert.equal(streamRequests(log, thread_id).length, 1);
});

check("runs.create + runs.join + runs.get/list", async () => {
  const { client } = makeClient();
  const { thread_id } = await client.threads.create();
  const run = await client.runs.create(thread_id, "slow", { input: { delay: 0.1 } });
  assert.ok(["pending", "running"].includes(run.status), run.status);
  assert.equal(run.thread_id, thread_id);
  assert.equal(run.assistant_id, (await client.assistants.search({ graphId: "slow" }))[0].assistant_id);
  const result = await client.runs.join(thread_id, run.run_id);
  assert.deepEqual(result.log, ["tick", "tock"]);
  const got = await client.runs.get(thread_id, run.run_id);
  assert.equal(got.status, "success");
  const runs = await client.runs.list(thread_id);
  assert.deepEqual(runs.map((r) => r.run_id), [run.run_id]);
});

check("seed: runs.joinStream of a background run, and again after it ended", async () => {
  const { client } = makeClient();
  const { thread_id } = await client.threads.create();
  const run = await client.runs.create(thread_id, "slow", { input: { delay: 0.1 }, streamMode: ["updates"] });
  const runId = run.run_id;
  const chunks = await collect(client.runs.joinStream(thread_id, runId));
  assert.deepEqual(chunks.map((c) => c.event), ["metadata", "updates", "updates"]);
  assert.deepEqual(chunks.slice(1).map((c) => c.data), [{ tick: { log: ["tick"] } }, { tock: { log: ["tock"] } }]);
  assert.equal(chunks[0].data.run_id, runId);
  const again = await collect(client.runs.joinStream(thread_id, runId));
  assert.deepEqual(again.map((c) => [c.event, c.data]), chunks.map((c) => [c.event, c.data]));
});

check("runs.joinStream with streamMode filter and lastEventId", async () => {
  const { client } = makeClient();
  const { thread_id } = await client.threads.create();
  const all = await collect(client.runs.stream(thread_id, "agent", { input: { topic: "a" }, streamMode: ["updates", "values"] }));
  const runId = all[0].data.run_id;
  const updates = await collect(client.runs.joinStream(thread_id, runId, { streamMode: "updates" }));
  assert.deepEqual(updates.map((c) => c.event), ["metadata", "updates", "updates"]);
  const rest = await collect(client.runs.joinStream(thread_id, runId, { lastEventId: all[2].id }));
  assert.deepEqual(rest.map((c) => [c.id, c.event, c.data]), all.slice(3).map((c) => [c.id, c.event, c.data]));
  // "-1" (what the SDK's hooks send on remount) replays from the start.
  const replay = await collect(client.runs.joinStream(thread_id, runId, { lastEventId: "-1" }));
  assert.deepEqual(replay.map((c) => c.id), all.map((c) => c.id));
});

check("runs.joinStream signal stops reading; the run goes on", async () => {
  const { client } = makeClient();
  const { thread_id } = await client.threads.create();
  const run = await client.runs.create(thread_id, "slow", { input: { delay: 0.3 }, streamMode: "updates" });
  const first = await readUntil((signal) => client.runs.joinStream(thread_id, run.run_id, { signal }), (cs) => cs.length >= 1);
  assert.equal(first[0].event, "metadata");
  const result = await client.runs.join(thread_id, run.run_id);
  assert.deepEqual(result.log, ["tick", "tock"]);
});

check("runs.stream abort with onDisconnect cancel interrupts the run", async () => {
  const { client } = makeClient();
  const { thread_id } = await client.threads.create();
  const chunks = await readUntil(
    (signal) => client.runs.stream(thread_id, "slow", { input: { delay: 0.5 }, streamMode: "updates", onDisconnect: "cancel", signal }),
    (cs) => cs.length >= 1,
  );
  const runId = chunks[0].data.run_id;
  await client.runs.join(thread_id, runId);
  assert.equal((await client.runs.get(thread_id, runId)).status, "interrupted");
});

check("runs.joinStream cancelOnDisconnect cancels the run when the reader leaves", async () => {
  const { client } = makeClient();
  const { thread_id } = await client.threads.create();
  const run = await client.runs.create(thread_id, "slow", { input: { delay: 0.5 } });
  await readUntil((signal) => client.runs.joinStream(thread_id, run.run_id, { signal, cancelOnDisconnect: true }), (cs) => cs.length >= 1);
  await client.runs.join(thread_id, run.run_id);
  assert.equal((await client.runs.get(thread_id, run.run_id)).status, "interrupted");
});

// -- thread streams ---------------------------------------------------------------------------

check("seed: threads.joinStream follows runs created during the subscription", async () => {
  const { client, responded } = makeClient();
  const { thread_id } = await client.threads.create();
  await client.runs.wait(thread_id, "agent", { input: { topic: "before" } }); // before: not seen
  const connected = responded((e) => e.path === `/threads/${thread_id}/stream`);
  const reading = readUntil((signal) => client.threads.joinStream(thread_id, { signal }), runsDone(2));
  await withTimeout(connected, 5000, "thread stream connect");
  await sleep(100);
  const r1 = await client.runs.create(thread_id, "agent", { input: { topic: "a" }, streamMode: "updates" });
  await client.runs.join(thread_id, r1.run_id);
  const r2 = await client.runs.create(thread_id, "agent", { input: { topic: "b" } });
  const chunks = await reading;
  assert.deepEqual(chunks.map((c) => c.event), ["metadata", "updates", "updates", "metadata", "metadata", "values", "values", "values", "metadata"]);
  assert.deepEqual(chunks[0].data, { run_id: r1.run_id, attempt: 1 });
  assert.deepEqual(chunks[1].data, { refine_topic: { topic: "a and cats" } });
  assert.deepEqual(chunks[3].data, { status: "run_done", run_id: r1.run_id });
  assert.equal(chunks[4].data.run_id, r2.run_id);
  assert.deepEqual(chunks[5].data, { topic: "b", joke: "This is a joke about a and cats" });
  assert.deepEqual(chunks[8].data, { status: "run_done", run_id: r2.run_id });
  assertIncreasingIds(chunks);
});

check("seed: threads.joinStream streamMode [lifecycle, state_update]", async () => {
  const { client, log, responded } = makeClient();
  const { thread_id } = await client.threads.create();
  const connected = responded((e) => e.path === `/threads/${thread_id}/stream`);
  const reading = readUntil(
    (signal) => client.threads.joinStream(thread_id, { streamMode: ["lifecycle", "state_update"], signal }),
    (cs) => cs.at(-1).event === "state_update",
  );
  await withTimeout(connected, 5000, "thread stream connect");
  await sleep(100);
  await client.runs.wait(thread_id, "agent", { input: { topic: "x" } });
  const chunks = await reading;
  assert.deepEqual(log.find((e) => e.path === `/threads/${thread_id}/stream`).search.getAll("stream_mode"), ["lifecycle", "state_update"]);
  assert.deepEqual(chunks.map((c) => c.event), ["lifecycle", "metadata", "metadata", "lifecycle", "state_update"]);
  const [start, meta, done, end, update] = chunks;
  assert.equal(start.data.status, "running");
  assert.equal(end.data.status, "success");
  assert.ok("timestamp" in start.data);
  for (const c of [meta, done, end]) assert.equal(c.data.run_id, start.data.run_id);
  assert.equal(meta.data.attempt, 1);
  assert.equal(done.data.status, "run_done");
  assert.equal(update.data.thread_id, thread_id);
  assert.deepEqual(update.data.state.values, { topic: "x and cats", joke: "This is a joke about x and cats" });
  assert.deepEqual(update.data.state.next, []);
});

check("seed: threads.joinStream lastEventId '-' replays, and resumes from any id", async () => {
  const { client } = makeClient();
  const { thread_id } = await client.threads.create();
  await client.runs.wait(thread_id, "agent", { input: { topic: "a" } });
  await client.runs.wait(thread_id, "custom", { input: { query: "q" } });
  const full = await readUntil((signal) => client.threads.joinStream(thread_id, { lastEventId: "-", signal }), runsDone(2));
  assert.deepEqual(full.map((c) => c.event), ["metadata", "values", "values", "values", "metadata", "metadata", "values", "values", "metadata"]);
  assert.deepEqual(full[3].data, { topic: "a and cats", joke: "This is a joke about a and cats" });
  assert.deepEqual(full[7].data, { query: "q", answer: "done: q" });
  assertIncreasingIds(full);
  for (const i of [0, 3, 4, 7]) {
    const rest = full.slice(i + 1);
    const got = await readUntil((signal) => client.threads.joinStream(thread_id, { lastEventId: full[i].id, signal }), (cs) => cs.length >= rest.length);
    assert.deepEqual(got.map((c) => [c.id, c.event, c.data]), rest.map((c) => [c.id, c.event, c.data]));
  }
});

check("heartbeats on idle streams: the SDK skips them and stays on one connection", async () => {
  // The pytest starts the server with a short --heartbeat; with the default (5 s) this takes ~10 s.
  const { client, log, responded } = makeClient();
  const { thread_id } = await client.threads.create();
  const connected = responded((e) => e.path === `/threads/${thread_id}/stream`);
  const reading = readUntil((signal) => client.threads.joinStream(thread_id, { signal }), runsDone(1), { timeoutMs: 18000 });
  const entry = await withTimeout(connected, 5000, "thread stream connect");
  const quietSince = Date.now();
  while (entry.comments < 2 && Date.now() - quietSince < 12000) await sleep(20);
  const quietMs = Date.now() - quietSince;
  assert.ok(entry.comments >= 2, `only ${entry.comments} heartbeats in ${quietMs} ms on an idle thread stream`);
  // A run whose nodes are quiet for a while: heartbeats in its run stream too.
  const run = await collect(client.runs.stream(thread_id, "slow", { input: { delay: 0.8 }, streamMode: "updates" }));
  assert.deepEqual(run.map((c) => c.event), ["metadata", "updates", "updates"]);
  const chunks = await reading;
  assert.deepEqual(chunks.map((c) => c.event), ["metadata", "updates", "updates", "metadata"]);
  assert.deepEqual(chunks.slice(0, 3).map((c) => [c.id, c.data]), run.map((c) => [c.id, c.data]));
  assert.equal(log.filter((e) => e.path === `/threads/${thread_id}/stream`).length, 1, "the SDK reconnected the thread stream");
  assert.equal(streamRequests(log, thread_id).length, 1, "the SDK reconnected the run stream");
  const runStream = log.find((e) => e.method === "POST" && e.path === `/threads/${thread_id}/runs/stream`);
  // With heartbeats well under the 0.8 s quiet spells of the run (the pytest's setting).
  if (quietMs < 1500) assert.ok(runStream.comments >= 1, "no heartbeat in a run stream quiet for 2 x 0.8 s");
});

// -- interrupts and state ---------------------------------------------------------------------

check("interrupt, then resume with command", async () => {
  const { client } = makeClient();
  const { thread_id } = await client.threads.create();
  const chunks = await collect(client.runs.stream(thread_id, "asking", { input: { question: "sure?" }, streamMode: ["updates", "values"] }));
  const updates = chunks.filter((c) => c.event === "updates").map((c) => c.data);
  assert.deepEqual(updates.at(-1).__interrupt__.map((i) => i.value), [{ question: "sure?" }]);
  assert.ok(updates.at(-1).__interrupt__[0].id);
  assert.equal(chunks.at(-1).event, "values");
  assert.ok("__interrupt__" in chunks.at(-1).data);
  const thread = await client.threads.get(thread_id);
  assert.equal(thread.status, "interrupted");
  const [interrupts] = Object.values(thread.interrupts);
  assert.deepEqual(interrupts[0].value, { question: "sure?" });
  const state = await client.threads.getState(thread_id);
  assert.deepEqual(state.next, ["ask"]);
  assert.deepEqual(state.tasks[0].interrupts[0].value, { question: "sure?" });
  assert.deepEqual(state.interrupts?.[0]?.value, { question: "sure?" });
  const resumed = await collect(client.runs.stream(thread_id, "asking", { command: { resume: "yes" }, streamMode: "updates" }));
  assert.deepEqual(resumed.slice(1).map((c) => c.data), [{ ask: { answer: "yes" } }, { finish: { answer: "yes (confirmed)" } }]);
  const after = await client.threads.get(thread_id);
  assert.equal(after.status, "idle");
  assert.deepEqual(after.interrupts, {});
  assert.deepEqual(after.values, { question: "sure?", answer: "yes (confirmed)" });
});

check("runs.wait returns __interrupt__; wait with command resumes", async () => {
  const { client } = makeClient();
  const { thread_id } = await client.threads.create();
  const result = await client.runs.wait(thread_id, "asking", { input: { question: "ok?" } });
  assert.equal(result.question, "ok?");
  assert.deepEqual(result.__interrupt__[0].value, { question: "ok?" });
  const resumed = await client.runs.wait(thread_id, "asking", { command: { resume: "no" } });
  assert.deepEqual(resumed, { question: "ok?", answer: "no (confirmed)" });
});

check("interruptBefore / interruptAfter", async () => {
  const { client } = makeClient();
  const { thread_id } = await client.threads.create();
  await client.runs.wait(thread_id, "agent", { input: { topic: "a" }, interruptBefore: ["generate_joke"] });
  const state = await client.threads.getState(thread_id);
  assert.deepEqual(state.next, ["generate_joke"]);
  assert.deepEqual(state.values, { topic: "a and cats" });
  const final = await client.runs.wait(thread_id, "agent", { input: null });
  assert.equal(final.joke, "This is a joke about a and cats");
  const chunks = await collect(client.runs.stream(null, "agent", { input: { topic: "b" }, streamMode: "updates", interruptAfter: ["refine_topic"] }));
  assert.deepEqual(chunks.slice(1).map((c) => c.data), [{ refine_topic: { topic: "b and cats" } }, { __interrupt__: [] }]);
});

check("threads.getState / getHistory", async () => {
  const { client } = makeClient();
  const { thread_id } = await client.threads.create();
  const empty = await client.threads.getState(thread_id);
  assert.deepEqual(empty.values, {});
  assert.deepEqual(empty.next, []);
  assert.deepEqual(await client.threads.getHistory(thread_id), []);
  await client.runs.wait(thread_id, "agent", { input: { topic: "cats" } });
  const state = await client.threads.getState(thread_id);
  assert.deepEqual(state.values, { topic: "cats and cats", joke: "This is a joke about cats and cats" });
  assert.deepEqual([state.next, state.tasks], [[], []]);
  assert.equal(state.checkpoint.thread_id, thread_id);
  assert.equal(state.checkpoint.checkpoint_ns, "");
  assert.equal(state.checkpoint_id, state.checkpoint.checkpoint_id);
  assert.equal(state.metadata.step, 2);
  const history = await client.threads.getHistory(thread_id, { limit: 10 });
  assert.deepEqual(history.map((h) => h.metadata.step), [2, 1, 0, -1]);
  assert.equal(history[0].checkpoint.checkpoint_id, state.checkpoint.checkpoint_id);
  const limited = await client.threads.getHistory(thread_id, { limit: 2 });
  assert.deepEqual(limited.map((h) => h.metadata.step), [2, 1]);
  const before = await client.threads.getHistory(thread_id, { before: { configurable: { checkpoint_id: history[1].checkpoint.checkpoint_id } } });
  assert.deepEqual(before.map((h) => h.metadata.step), [0, -1]);
  const inputs = await client.threads.getHistory(thread_id, { metadata: { source: "input" } });
  assert.deepEqual(inputs.map((h) => h.metadata.step), [-1]);
  // At a checkpoint: by id (GET /state/{id}) and by checkpoint object (POST /state/checkpoint).
  const byId = await client.threads.getState(thread_id, history[2].checkpoint.checkpoint_id);
  assert.deepEqual([byId.values, byId.next], [{ topic: "cats" }, ["refine_topic"]]);
  const byObj = await client.threads.getState(thread_id, { checkpoint_id: history[2].checkpoint.checkpoint_id, checkpoint_ns: "" });
  assert.deepEqual([byObj.values, byObj.next], [{ topic: "cats" }, ["refine_topic"]]);
});

check("threads.updateState asNode, then continue", async () => {
  const { client } = makeClient();
  const { thread_id } = await client.threads.create();
  await client.runs.wait(thread_id, "agent", { input: { topic: "cats" } });
  const result = await client.threads.updateState(thread_id, { values: { topic: "dogs" }, asNode: "refine_topic" });
  assert.equal(result.checkpoint.thread_id, thread_id);
  assert.ok(result.checkpoint.checkpoint_id);
  const state = await client.threads.getState(thread_id);
  assert.equal(state.values.topic, "dogs");
  assert.deepEqual(state.next, ["generate_joke"]);
  assert.equal(state.checkpoint.checkpoint_id, result.checkpoint.checkpoint_id);
  const final = await client.runs.wait(thread_id, "agent", { input: null });
  assert.equal(final.joke, "This is a joke about dogs");
  await rejectsWithStatus(client.threads.updateState(thread_id, { values: { topic: "x" }, asNode: "nope" }), 400);
});

check("threads.updateState while a run is running conflicts (409)", async () => {
  const { client } = makeClient();
  const { thread_id } = await client.threads.create();
  const run = await client.runs.create(thread_id, "slow", { input: { delay: 0.5 } });
  assert.equal((await client.threads.get(thread_id)).status, "busy");
  await rejectsWithStatus(client.threads.updateState(thread_id, { values: { log: ["x"] } }), 409);
  await client.runs.join(thread_id, run.run_id);
});

// -- resources and errors ---------------------------------------------------------------------

check("assistants.search / get / getGraph / getSchemas", async () => {
  const { client } = makeClient();
  const found = await client.assistants.search({ graphId: "agent" });
  assert.equal(found.length, 1);
  assert.equal(found[0].assistant_id, AGENT_ID);
  assert.equal(found[0].name, "agent");
  assert.deepEqual(found[0].metadata, { created_by: "system" });
  const all = await client.assistants.search({ limit: 100 });
  const graphs = new Set(all.map((a) => a.graph_id));
  for (const g of ["agent", "subgraph", "llm", "custom", "slow", "failing", "asking", "chatty"]) assert.ok(graphs.has(g), g);
  const got = await client.assistants.get(AGENT_ID);
  assert.equal(got.graph_id, "agent");
  const graph = await client.assistants.getGraph(AGENT_ID);
  const ids = new Set(graph.nodes.map((n) => n.id));
  for (const n of ["__start__", "refine_topic", "generate_joke", "__end__"]) assert.ok(ids.has(n), n);
  const schemas = await client.assistants.getSchemas(AGENT_ID);
  assert.equal(schemas.graph_id, "agent");
  // A run named by assistant UUID works like one named by graph id.
  const res = await client.runs.wait(null, AGENT_ID, { input: { topic: "z" } });
  assert.equal(res.joke, "This is a joke about z and cats");
});

check("assistants.create / update / delete, and a run with it", async () => {
  const { client } = makeClient();
  const created = await client.assistants.create({ graphId: "agent", name: "mine", metadata: { m: 1 } });
  assert.equal(created.graph_id, "agent");
  const updated = await client.assistants.update(created.assistant_id, { metadata: { n: 2 } });
  assert.equal(updated.version, 2);
  assert.deepEqual(updated.metadata, { m: 1, n: 2 });
  const res = await client.runs.wait(null, created.assistant_id, { input: { topic: "q" } });
  assert.equal(res.joke, "This is a joke about q and cats");
  await client.assistants.delete(created.assistant_id);
  await rejectsWithStatus(client.assistants.get(created.assistant_id), 404);
});

check("threads: create with metadata/id, get, update, search, copy, delete", async () => {
  const { client } = makeClient();
  const tag = crypto.randomUUID();
  const thread = await client.threads.create({ metadata: { tag, owner: "me" } });
  assert.deepEqual(thread.metadata, { tag, owner: "me" });
  const patched = await client.threads.update(thread.thread_id, { metadata: { extra: true } });
  assert.deepEqual(patched.metadata, { tag, owner: "me", extra: true });
  await rejectsWithStatus(client.threads.create({ threadId: thread.thread_id }), 409);
  const same = await client.threads.create({ threadId: thread.thread_id, ifExists: "do_nothing" });
  assert.equal(same.thread_id, thread.thread_id);
  const mine = crypto.randomUUID();
  assert.equal((await client.threads.create({ threadId: mine, metadata: { tag } })).thread_id, mine);
  const found = await client.threads.search({ metadata: { tag } });
  assert.deepEqual(found.map((t) => t.thread_id).sort(), [thread.thread_id, mine].sort());
  await client.runs.wait(thread.thread_id, "agent", { input: { topic: "cats" } });
  const copy = await client.threads.copy(thread.thread_id);
  assert.notEqual(copy.thread_id, thread.thread_id);
  assert.equal((await client.threads.getState(copy.thread_id)).values.joke, "This is a joke about cats and cats");
  await client.threads.delete(thread.thread_id);
  await rejectsWithStatus(client.threads.get(thread.thread_id), 404);
});

check("errors: unknown assistant / thread / run reject", async () => {
  const { client } = makeClient();
  const { thread_id } = await client.threads.create();
  // A name that is no graph: 422, as the reference; a UUID that is no assistant: 404.
  await rejectsWithStatus(collect(client.runs.stream(thread_id, "nope", { input: {}, streamMode: "updates" })), 422);
  await rejectsWithStatus(client.runs.wait(null, "nope", { input: {} }), 422);
  await rejectsWithStatus(client.runs.create(thread_id, crypto.randomUUID(), { input: {} }), 404);
  await rejectsWithStatus(client.assistants.get(crypto.randomUUID()), 404);
  await rejectsWithStatus(client.threads.get(crypto.randomUUID()), 404);
  await rejectsWithStatus(client.runs.get(thread_id, crypto.randomUUID()), 404);
  await rejectsWithStatus(collect(client.runs.stream(crypto.randomUUID(), "agent", { input: {}, streamMode: "updates" })), 404);
  // Nothing was created by the failed calls.
  assert.deepEqual(await client.runs.list(thread_id), []);
});

check("multitask: reject answers 409, enqueue runs after", async () => {
  const { client } = makeClient();
  const { thread_id } = await client.threads.create();
  const first = await client.runs.create(thread_id, "slow", { input: { delay: 0.3 } });
  await rejectsWithStatus(client.runs.create(thread_id, "slow", { input: { delay: 0.1 }, multitaskStrategy: "reject" }), 409);
  const second = await client.runs.create(thread_id, "slow", { input: { delay: 0.05 }, multitaskStrategy: "enqueue" });
  assert.equal(second.status, "pending");
  const result = await client.runs.join(thread_id, second.run_id);
  assert.deepEqual(result.log, ["tick", "tock", "tick", "tock"]);
  assert.equal((await client.runs.get(thread_id, first.run_id)).status, "success");
});

check("runs.joinStream of an enqueued (pending) run waits for it to start", async () => {
  const { client } = makeClient();
  const { thread_id } = await client.threads.create();
  const first = await client.runs.create(thread_id, "slow", { input: { delay: 0.3 } });
  const second = await client.runs.create(thread_id, "agent", { input: { topic: "later" }, streamMode: "updates", multitaskStrategy: "enqueue" });
  assert.equal(second.status, "pending");
  const chunks = await collect(client.runs.joinStream(thread_id, second.run_id));
  assert.deepEqual(chunks.map((c) => c.event), ["metadata", "updates", "updates"]);
  assert.equal(chunks[0].data.run_id, second.run_id);
  assert.deepEqual(chunks[2].data, { generate_joke: { joke: "This is a joke about later and cats" } });
  assert.equal((await client.runs.get(thread_id, first.run_id)).status, "success");
});

// -- cancel -----------------------------------------------------------------------------------

check("runs.cancel with wait stops a sleeping run promptly", async () => {
  const { client } = makeClient();
  const { thread_id } = await client.threads.create();
  const run = await client.runs.create(thread_id, "slow", { input: { delay: 30 } });
  await sleep(300);
  assert.equal((await client.runs.get(thread_id, run.run_id)).status, "running");
  const started = Date.now();
  await client.runs.cancel(thread_id, run.run_id, true);
  assert.ok(Date.now() - started < 2000, `cancel took ${Date.now() - started} ms`);
  assert.equal((await client.runs.get(thread_id, run.run_id)).status, "interrupted");
  const thread = await client.threads.get(thread_id);
  assert.ok(["interrupted", "idle"].includes(thread.status), thread.status);
  // The run's stream is over: joining it ends by itself.
  const chunks = await withTimeout(collect(client.runs.joinStream(thread_id, run.run_id)), 5000, "joinStream of a cancelled run");
  assert.equal(chunks[0]?.event, "metadata");
  assert.ok(!chunks.some((c) => c.event === "updates"));
  await rejectsWithStatus(client.runs.cancel(thread_id, run.run_id), 404);
});

check("runs.cancel (no wait) ends a live runs.stream cleanly", async () => {
  const { client, log } = makeClient();
  const { thread_id } = await client.threads.create();
  const chunks = [];
  let cancelled;
  const started = Date.now();
  for await (const chunk of client.runs.stream(thread_id, "slow", { input: { delay: 30 }, streamMode: "updates" })) {
    chunks.push(chunk);
    if (chunk.event === "metadata" && !cancelled) cancelled = client.runs.cancel(thread_id, chunk.data.run_id);
  }
  await cancelled;
  assert.ok(Date.now() - started < 5000, `stream took ${Date.now() - started} ms to end`);
  assert.deepEqual(chunks.map((c) => c.event), ["metadata"]);
  const runId = chunks[0].data.run_id;
  assert.equal((await client.runs.get(thread_id, runId)).status, "interrupted");
  assert.equal(streamRequests(log, thread_id).length, 1, "the SDK reconnected: the run still looked active after its stream ended");
});

check("runs.cancel rollback deletes the run", async () => {
  const { client } = makeClient();
  const { thread_id } = await client.threads.create();
  const run = await client.runs.create(thread_id, "slow", { input: { delay: 30 } });
  await sleep(300);
  await client.runs.cancel(thread_id, run.run_id, true, "rollback");
  await rejectsWithStatus(client.runs.get(thread_id, run.run_id), 404);
  assert.equal((await client.threads.get(thread_id)).status, "idle");
});

check("runs.cancelMany by run ids", async () => {
  const { client } = makeClient();
  const { thread_id } = await client.threads.create();
  const run = await client.runs.create(thread_id, "slow", { input: { delay: 30 } });
  await client.runs.cancelMany({ threadId: thread_id, runIds: [run.run_id] });
  await client.runs.join(thread_id, run.run_id);
  assert.equal((await client.runs.get(thread_id, run.run_id)).status, "interrupted");
});

// -- run them ---------------------------------------------------------------------------------

const unknownBugs = KNOWN_SERVER_BUGS.filter((name) => !checks.some((c) => c.name === name));
if (unknownBugs.length) {
  console.error(`KNOWN_SERVER_BUGS names no check: ${JSON.stringify(unknownBugs)}`);
  process.exit(2);
}

try {
  const ok = await fetch(`${API_URL}/ok`, { signal: AbortSignal.timeout(5000) });
  assert.equal(ok.status, 200);
} catch (err) {
  console.error(`server at ${API_URL} does not answer GET /ok: ${err?.message ?? err}`);
  console.log("0 passed, 1 failed");
  process.exit(1);
}

let passed = 0;
let failed = 0;
let skipped = 0;
const started = Date.now();
for (const { name, fn } of checks) {
  if (FILTER && !name.includes(FILTER)) continue;
  if (KNOWN_SERVER_BUGS.includes(name) && !RUN_KNOWN_BUGS) {
    skipped += 1;
    console.log(`skip  ${name}  (KNOWN_SERVER_BUGS)`);
    continue;
  }
  const t0 = Date.now();
  try {
    await withTimeout(Promise.resolve().then(fn), CHECK_TIMEOUT_MS, name);
    passed += 1;
    console.log(`ok    ${name}  (${Date.now() - t0} ms)`);
  } catch (err) {
    failed += 1;
    console.log(`FAIL  ${name}  (${Date.now() - t0} ms)`);
    console.log(String(err?.stack ?? err).replace(/^/gm, "      "));
    if (err?.cause) console.log(`      cause: ${err.cause?.stack ?? err.cause}`);
  }
}
console.log(`(${((Date.now() - started) / 1000).toFixed(1)} s against ${API_URL}, @langchain/langgraph-sdk ${await sdkVersion()})`);
if (skipped) console.log(`${skipped} skipped (KNOWN_SERVER_BUGS)`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);

async function sdkVersion() {
  try {
    const { createRequire } = await import("node:module");
    const require = createRequire(import.meta.url);
    const { readFileSync } = await import("node:fs");
    const { join, dirname } = await import("node:path");
    const main = require.resolve("@langchain/langgraph-sdk");
    let dir = dirname(main);
    while (dir !== dirname(dir)) {
      try {
        const pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8"));
        if (pkg.name === "@langchain/langgraph-sdk") return pkg.version;
      } catch {}
      dir = dirname(dir);
    }
  } catch {}
  return "?";
}
