// Custom auth and the API key with the official JS SDK (@langchain/langgraph-sdk 1.15.x).
//
//   node tests/js/auth_e2e.mjs custom http://127.0.0.1:PORT    (langgraph.auth.json: tests/graphs/auth.py)
//   node tests/js/auth_e2e.mjs apikey http://127.0.0.1:PORT KEY (a server started with that key)
//
// Prints one line per check and a final `N passed, M failed`; exits non-zero on a failure.

import assert from "node:assert/strict";
import { Client } from "@langchain/langgraph-sdk";

const [MODE, URL, KEY] = process.argv.slice(2);
if (!MODE || !URL) {
  console.error("usage: node auth_e2e.mjs custom|apikey <server-url> [key]");
  process.exit(2);
}

const checks = [];
const check = (name, fn) => checks.push({ name, fn });

// apiKey: null keeps the SDK from reading LANGGRAPH_API_KEY & co. from the environment.
const as = (token) => new Client({ apiUrl: URL, apiKey: null, defaultHeaders: token ? { Authorization: `Bearer ${token}` } : {} });
const collect = async (stream) => {
  const out = [];
  for await (const chunk of stream) out.push(chunk);
  return out;
};
async function rejectsWithStatus(promise, status) {
  await assert.rejects(promise, (err) => {
    assert.equal(err?.status, status, `expected HTTP ${status}, got ${err?.status}: ${err?.message}`);
    return true;
  });
}

if (MODE === "custom") {
  const alice = as("alice-token");
  const bob = as("bob-token");

  check("no credentials, a bad token, an expired one: 401", async () => {
    for (const client of [as(null), as("nope"), as("expired-token")]) {
      await rejectsWithStatus(client.threads.create(), 401);
      await rejectsWithStatus(client.assistants.search(), 401);
      await rejectsWithStatus(client.store.listNamespaces(), 401);
    }
  });

  check("a thread is its owner's: bob gets 404, search and count leave it out", async () => {
    const thread = await alice.threads.create({ metadata: { js: true } });
    assert.equal(thread.metadata.owner, "alice");
    await rejectsWithStatus(bob.threads.get(thread.thread_id), 404);
    await rejectsWithStatus(bob.threads.update(thread.thread_id, { metadata: { owner: "bob" } }), 404);
    await rejectsWithStatus(bob.threads.delete(thread.thread_id), 404);
    await rejectsWithStatus(bob.threads.getState(thread.thread_id), 404);
    await rejectsWithStatus(bob.runs.wait(thread.thread_id, "agent", { input: { topic: "bob" } }), 404);
    const found = await bob.threads.search({ metadata: { js: true }, limit: 100 });
    assert.ok(found.every((t) => t.metadata.owner === "bob"));
    assert.ok(!found.some((t) => t.thread_id === thread.thread_id));
    assert.equal((await alice.threads.get(thread.thread_id)).metadata.owner, "alice");
  });

  check("a denied join gets one error event (the reference's shape), the owner's join works", async () => {
    const thread = await alice.threads.create();
    const run = await alice.runs.create(thread.thread_id, "slow", { input: { delay: 0.2 } });
    const denied = await collect(bob.runs.joinStream(thread.thread_id, run.run_id));
    assert.equal(denied.length, 1);
    assert.equal(denied[0].event, "error");
    assert.match(denied[0].data.message, /404/);
    const threadStream = await collect(bob.threads.joinStream(thread.thread_id));
    assert.deepEqual(threadStream.map((c) => c.event), ["error"]);
    await rejectsWithStatus(bob.runs.get(thread.thread_id, run.run_id), 404);
    await rejectsWithStatus(bob.runs.cancel(thread.thread_id, run.run_id), 404);
    const own = await collect(alice.runs.joinStream(thread.thread_id, run.run_id));
    assert.ok(own.length > 0 && !own.some((c) => c.event === "error"));
    assert.equal((await alice.runs.get(thread.thread_id, run.run_id)).status, "success");
  });

  check("a run sees its user, whatever its config says", async () => {
    const thread = await alice.threads.create();
    const forged = { langgraph_auth_user_id: "bob", langgraph_auth_user: { identity: "bob" } };
    const result = await alice.runs.wait(thread.thread_id, "whoami", { input: {}, config: { configurable: forged } });
    assert.equal(result.seen.identity_attr, "alice");
    assert.equal(result.seen.user_id_key, "alice");
    assert.equal(result.seen.org, "wonderland");
  });

  check("assistants and store items are their owners'", async () => {
    const mine = await alice.assistants.create({ graphId: "agent", name: "js" });
    assert.equal(mine.metadata.owner, "alice");
    await rejectsWithStatus(bob.assistants.get(mine.assistant_id), 404);
    assert.ok(!(await bob.assistants.search({ limit: 100 })).some((a) => a.assistant_id === mine.assistant_id));
    await alice.store.putItem(["alice", "js"], "k", { v: 1 });
    await rejectsWithStatus(bob.store.getItem(["alice", "js"], "k"), 403);
    await rejectsWithStatus(bob.store.putItem(["alice", "js"], "k", { v: 2 }), 403);
    assert.deepEqual((await alice.store.getItem(["alice", "js"], "k")).value, { v: 1 });
  });

  check("a denying handler: 403", async () => {
    await rejectsWithStatus(as("reader-token").threads.create(), 403);
  });
} else if (MODE === "apikey") {
  check("the SDK's apiKey (x-api-key) is all a client needs", async () => {
    const client = new Client({ apiUrl: URL, apiKey: KEY });
    const thread = await client.threads.create();
    const result = await client.runs.wait(thread.thread_id, "agent", { input: { topic: "keys" } });
    assert.match(result.joke, /keys/);
  });

  check("no key or a wrong one: 401 with a detail", async () => {
    for (const client of [new Client({ apiUrl: URL, apiKey: null }), new Client({ apiUrl: URL, apiKey: `${KEY}-wrong` })]) {
      await rejectsWithStatus(client.threads.create(), 401);
      await rejectsWithStatus(client.runs.wait(null, "agent", { input: { topic: "x" } }), 401);
    }
  });
} else {
  console.error(`unknown mode ${MODE}`);
  process.exit(2);
}

let passed = 0;
let failed = 0;
for (const { name, fn } of checks) {
  const t0 = Date.now();
  try {
    await fn();
    passed += 1;
    console.log(`ok    ${name}  (${Date.now() - t0} ms)`);
  } catch (err) {
    failed += 1;
    console.log(`FAIL  ${name}  (${Date.now() - t0} ms)\n      ${err?.stack ?? err}`);
  }
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
