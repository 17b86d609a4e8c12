// A small chat page on @langchain/react's useStream, for driving in headless Chromium.
//
// Query string: api=<server URL> (required), assistant=<id> (default chat),
// thread=<id> (rejoin that thread), transport=sse|websocket (default sse),
// input=<state key> (send the text as {<key>: text} instead of as a human message),
// extra=<JSON object> (merged into every submitted input, e.g. {"delay":0.2}).
//
// Everything a driver asserts on is in the DOM (ids below) and in window.__chat, which is
// refreshed after every render: the hook's state plus `aiTexts`, every distinct text the
// last AI message was rendered with (to tell token streaming from a message that lands whole).

import { useEffect, useRef, useState } from "react";
import { createRoot } from "react-dom/client";
import { useStream } from "@langchain/react";

const params = new URLSearchParams(location.search);
const API_URL = params.get("api");
const ASSISTANT = params.get("assistant") ?? "chat";
const INITIAL_THREAD = params.get("thread") ?? undefined;
const TRANSPORT = params.get("transport") ?? "sse";
const INPUT_KEY = params.get("input");
const EXTRA = JSON.parse(params.get("extra") ?? "{}");

/** The plain text of a message, whether its content is a string or content blocks. */
function textOf(message) {
  if (typeof message.content === "string") return message.content;
  if (Array.isArray(message.content)) {
    return message.content.map((block) => (typeof block === "string" ? block : block.text ?? "")).join("");
  }
  return "";
}

function typeOf(message) {
  return typeof message.getType === "function" ? message.getType() : message.type;
}

/** Shared with the driver: what happened, in order, outside React's state. */
const log = (window.__chatLog = { created: [], completed: [], threadIds: [], errors: [], actions: [], loadingSeen: false });

function Chat() {
  const [draft, setDraft] = useState("");
  const [resumeDraft, setResumeDraft] = useState("yes");
  const aiTexts = useRef([]);
  const stream = useStream({
    apiUrl: API_URL,
    assistantId: ASSISTANT,
    threadId: INITIAL_THREAD,
    transport: TRANSPORT,
    onThreadId: (threadId) => {
      log.threadIds.push(threadId);
      // Keep the thread in the address bar, so a reload rejoins it.
      const url = new URL(location.href);
      url.searchParams.set("thread", threadId);
      history.replaceState(null, "", url);
    },
    onCreated: (info) => log.created.push(info.runId),
    onCompleted: (info) => log.completed.push({ runId: info.runId ?? null, reason: info.reason }),
  });

  if (stream.isLoading) log.loadingSeen = true; // since this page load: did it see a run running?
  const messages = stream.messages.map((m) => ({ type: typeOf(m), id: m.id ?? null, text: textOf(m) }));
  const lastAi = [...messages].reverse().find((m) => m.type === "ai");
  if (lastAi && aiTexts.current[aiTexts.current.length - 1] !== lastAi.text) aiTexts.current.push(lastAi.text);

  useEffect(() => {
    window.__chat = {
      ready: true,
      threadId: stream.threadId,
      isLoading: stream.isLoading,
      isThreadLoading: stream.isThreadLoading,
      messages,
      values: stream.values,
      interrupts: stream.interrupts.map((i) => ({ id: i.id ?? null, value: i.value })),
      error: stream.error == null ? null : String(stream.error?.message ?? stream.error),
      aiTexts: [...aiTexts.current],
    };
  });

  const act = (name, promise) => {
    log.actions.push(name);
    Promise.resolve(promise).catch((err) => log.errors.push(`${name}: ${err?.message ?? err}`));
  };
  const send = () => {
    const input = INPUT_KEY ? { [INPUT_KEY]: draft, ...EXTRA } : { messages: [{ type: "human", content: draft }], ...EXTRA };
    setDraft("");
    aiTexts.current = [];
    act("submit", stream.submit(input));
  };

  return (
    <main>
      <h1>v2 chat: {ASSISTANT}</h1>
      <p id="status" data-loading={String(stream.isLoading)} data-thread={stream.threadId ?? ""}>
        {stream.isLoading ? "running" : "idle"} {stream.threadId ? `on ${stream.threadId}` : ""}
      </p>
      <ul id="messages">
        {messages.map((m, i) => (
          <li key={m.id ?? i} className="msg" data-type={m.type} data-id={m.id ?? ""}>{m.text}</li>
        ))}
      </ul>
      {stream.interrupt && (
        <section id="interrupt" data-id={stream.interrupt.id ?? ""}>
          <pre id="interrupt-value">{JSON.stringify(stream.interrupt.value)}</pre>
          <input id="resume-input" value={resumeDraft} onChange={(e) => setResumeDraft(e.target.value)} />
          <button id="resume" onClick={() => act("respond", stream.respond(resumeDraft))}>Resume</button>
        </section>
      )}
      <form onSubmit={(e) => { e.preventDefault(); send(); }}>
        <input id="input" value={draft} onChange={(e) => setDraft(e.target.value)} placeholder="Say something" />
        <button id="send" type="submit" disabled={stream.isLoading}>Send</button>
        <button id="stop" type="button" disabled={!stream.isLoading} onClick={() => act("stop", stream.stop())}>Stop</button>
      </form>
      {stream.error != null && <p id="error">{String(stream.error?.message ?? stream.error)}</p>}
      <pre id="values">{JSON.stringify(stream.values, null, 1)}</pre>
    </main>
  );
}

createRoot(document.getElementById("root")).render(<Chat />);
