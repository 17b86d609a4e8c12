"""Run streaming, judged by the official SDK and by the wire (issue: core stream modes)."""

from __future__ import annotations

from pathlib import Path

import pytest
import sse

pytestmark = pytest.mark.anyio

# Raw responses recorded from the reference server (tests/transcripts).
TRANSCRIPTS = Path(__file__).resolve().parent / "transcripts"


async def collect(stream):
    return [chunk async for chunk in stream]


async def test_seed_updates_example(client):
    thread = await client.threads.create()
    chunks = await collect(
        client.runs.stream(thread["thread_id"], "agent", input={"topic": "ice cream"}, stream_mode="updates")
    )
    assert [c.event for c in chunks] == ["metadata", "updates", "updates"]
    assert chunks[0].data["attempt"] == 1 and chunks[0].data["run_id"]
    assert chunks[1].data == {"refine_topic": {"topic": "ice cream and cats"}}
    assert chunks[2].data == {"generate_joke": {"joke": "This is a joke about ice cream and cats"}}


async def test_values_mode_and_thread_state(client):
    thread = await client.threads.create()
    chunks = await collect(client.runs.stream(thread["thread_id"], "agent", input={"topic": "ice cream"}, stream_mode="values"))
    assert [c.data for c in chunks[1:]] == [
        {"topic": "ice cream"},
        {"topic": "ice cream and cats"},
        {"topic": "ice cream and cats", "joke": "This is a joke about ice cream and cats"},
    ]
    after = await client.threads.get(thread["thread_id"])
    assert after["status"] == "idle"
    assert after["values"]["joke"] == "This is a joke about ice cream and cats"


async def test_default_mode_is_values(client):
    thread = await client.threads.create()
    chunks = await collect(client.runs.stream(thread["thread_id"], "agent", input={"topic": "x"}))
    assert {c.event for c in chunks[1:]} == {"values"}


async def test_mode_list_updates_custom(client):
    thread = await client.threads.create()
    chunks = await collect(client.runs.stream(thread["thread_id"], "custom", input={"query": "example"}, stream_mode=["updates", "custom"]))
    events = [(c.event, c.data) for c in chunks[1:]]
    assert events == [
        ("custom", {"progress": 0, "query": "example"}),
        ("custom", {"progress": 1, "query": "example"}),
        ("custom", {"progress": 2, "query": "example"}),
        ("updates", {"work": {"answer": "done: example"}}),
    ]


async def test_messages_tuple_tokens(client):
    thread = await client.threads.create()
    text = ""
    count = 0
    async for chunk in client.runs.stream(thread["thread_id"], "llm", input={"topic": "ice cream"}, stream_mode="messages-tuple"):
        if chunk.event != "messages":
            continue
        message_chunk, metadata = chunk.data
        assert metadata["langgraph_node"] == "call_model"
        assert message_chunk["type"] == "AIMessageChunk"
        text += message_chunk["content"]
        count += 1
    assert count > 5
    assert text == "Why did the ice cream cross the road? To get to the other side!"


def shape(value):
    """`value` with every leaf replaced by its type: what must match, ids and times aside."""
    if isinstance(value, dict):
        return {k: shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [shape(v) for v in value]
    return type(value).__name__


@pytest.mark.parametrize(
    "mode, assistant, graph_input",
    [
        ("values", "agent", {"topic": "ice cream"}),
        ("updates", "agent", {"topic": "ice cream"}),
        ("custom", "custom", {"query": "example"}),
        ("debug", "agent", {"topic": "ice cream"}),
        ("events", "agent", {"topic": "ice cream"}),
        ("messages-tuple", "llm", {"topic": "ice cream"}),
    ],
)
async def test_wire_matches_reference_transcript(http, client, mode, assistant, graph_input):
    """Event names, order and data shapes as recorded from the reference server."""
    thread = await client.threads.create()
    res = await http.post(f"/threads/{thread['thread_id']}/runs/stream", json={"assistant_id": assistant, "input": graph_input, "stream_mode": mode})
    transcript = (TRANSCRIPTS / f"stream_{mode}.txt").read_text()
    headers, body = transcript.split("# body", 1)
    ours, _ = sse.parse(res.text)
    ref, _ = sse.parse(body)
    assert [e.event for e in ours] == [e.event for e in ref]
    for got, expected in zip(ours, ref):
        assert shape(got.data) == shape(expected.data), got.event
    if mode in ("values", "updates", "custom"):
        assert [e.data for e in ours[1:]] == [e.data for e in ref[1:]]
    for name in ("content-type", "cache-control", "x-accel-buffering"):
        recorded = next(line.split(": ", 1)[1] for line in headers.splitlines() if line.startswith(name + ":"))
        assert res.headers[name] == recorded.strip()


async def test_messages_mode_partial_and_metadata(client):
    chunks = await collect(client.runs.stream(None, "llm", input={"topic": "ice cream"}, stream_mode="messages"))
    events = [c.event for c in chunks]
    assert events[1] == "messages/metadata"
    assert "messages/partial" in events
    last_partial = [c for c in chunks if c.event == "messages/partial"][-1]
    assert last_partial.data[0]["content"] == "Why did the ice cream cross the road? To get to the other side!"
    # As the JS server: the whole message once more when it is complete.
    assert events[-1] == "messages/complete" and events.count("messages/complete") == 1
    assert chunks[-1].data[0]["content"] == last_partial.data[0]["content"]
    assert chunks[-1].data[0]["type"] == "ai"


async def test_debug_mode(client):
    thread = await client.threads.create()
    chunks = await collect(client.runs.stream(thread["thread_id"], "agent", input={"topic": "ice cream"}, stream_mode="debug"))
    kinds = [c.data["type"] for c in chunks[1:]]
    assert "checkpoint" in kinds and "task" in kinds and "task_result" in kinds
    assert all({"step", "timestamp", "type", "payload"} <= c.data.keys() for c in chunks[1:])


async def test_events_mode(client):
    thread = await client.threads.create()
    chunks = await collect(client.runs.stream(thread["thread_id"], "agent", input={"topic": "ice cream"}, stream_mode="events"))
    names = [c.data["event"] for c in chunks[1:]]
    assert names[0] == "on_chain_start"
    assert "on_chain_stream" in names and "on_chain_end" in names
    assert all(c.event == "events" for c in chunks[1:])


async def test_subgraphs_namespaced(client):
    thread = await client.threads.create()
    chunks = await collect(client.runs.stream(thread["thread_id"], "subgraph", input={"foo": "foo"}, stream_subgraphs=True, stream_mode="updates"))
    names = [c.event for c in chunks]
    assert names[0] == "metadata"
    assert names[1] == "updates"
    sub = [c for c in chunks if c.event.startswith("updates|node_2:")]
    assert [c.data for c in sub] == [{"subgraph_node_1": {"bar": "bar"}}, {"subgraph_node_2": {"foo": "hi! foobar"}}]
    assert chunks[-1].data == {"node_2": {"foo": "hi! foobar"}}


async def test_subgraphs_off_hides_inner_events(client):
    chunks = await collect(client.runs.stream(None, "subgraph", input={"foo": "foo"}, stream_mode="updates"))
    assert all("|" not in c.event for c in chunks)


async def test_stateless_stream(client, http):
    chunks = await collect(client.runs.stream(None, "agent", input={"topic": "ice cream"}, stream_mode="updates"))
    assert [c.event for c in chunks] == ["metadata", "updates", "updates"]
    # The temporary thread is gone afterwards, and its run with it.
    run_id = chunks[0].data["run_id"]
    gone = await http.get(f"/runs/{run_id}/stream")
    assert gone.status_code == 404 and gone.json()["detail"] == f"Run {run_id} not found"


async def test_wire_headers_and_ids(http, client):
    thread = await client.threads.create()
    tid = thread["thread_id"]
    res = await http.post(f"/threads/{tid}/runs/stream", json={"assistant_id": "agent", "input": {"topic": "a"}, "stream_mode": "updates"})
    assert res.status_code == 200
    assert res.headers["content-type"] == "text/event-stream; charset=utf-8"
    assert res.headers["cache-control"] == "no-store"
    assert res.headers["x-accel-buffering"] == "no"
    events, _ = sse.parse(res.text)
    run_id = events[0].data["run_id"]
    assert res.headers["content-location"] == f"/threads/{tid}/runs/{run_id}"
    assert res.headers["location"] == f"/threads/{tid}/runs/{run_id}/stream"
    assert "\r\n" in res.text  # CRLF, like the reference
    ids = [e.id for e in events]
    assert all(ids)
    parsed = [tuple(map(int, i.split("-"))) for i in ids]
    assert parsed == sorted(parsed) and len(set(parsed)) == len(parsed)


async def test_graph_error_event_and_thread_status(client):
    thread = await client.threads.create()
    chunks = await collect(client.runs.stream(thread["thread_id"], "failing", input={"topic": "t"}, stream_mode="updates"))
    assert chunks[-1].event == "error"
    assert chunks[-1].data == {"error": "ValueError", "message": "boom: t!"}
    assert (await client.threads.get(thread["thread_id"]))["status"] == "error"
    runs = await client.runs.list(thread["thread_id"])
    assert runs[0]["status"] == "error"


async def test_wait_returns_final_values(client):
    thread = await client.threads.create()
    result = await client.runs.wait(thread["thread_id"], "agent", input={"topic": "ice cream"})
    assert result == {"topic": "ice cream and cats", "joke": "This is a joke about ice cream and cats"}
    stateless = await client.runs.wait(None, "agent", input={"topic": "x"})
    assert stateless["joke"] == "This is a joke about x and cats"


async def test_wait_on_error_has_error_key(http, client):
    thread = await client.threads.create()
    res = await http.post(f"/threads/{thread['thread_id']}/runs/wait", json={"assistant_id": "failing", "input": {"topic": "t"}})
    assert res.status_code == 200
    assert res.json()["__error__"] == {"error": "ValueError", "message": "boom: t!"}
    assert res.headers["content-location"].startswith(f"/threads/{thread['thread_id']}/runs/")


async def test_background_run_then_join(client):
    thread = await client.threads.create()
    run = await client.runs.create(thread["thread_id"], "slow", input={"delay": 0.1})
    assert run["status"] in ("pending", "running")
    result = await client.runs.join(thread["thread_id"], run["run_id"])
    assert result["log"] == ["tick", "tock"]
    got = await client.runs.get(thread["thread_id"], run["run_id"])
    assert got["status"] == "success"


async def test_join_stream_of_background_run(client):
    thread = await client.threads.create()
    run = await client.runs.create(thread["thread_id"], "slow", input={"delay": 0.1}, stream_mode=["updates"])
    chunks = await collect(client.runs.join_stream(thread["thread_id"], run["run_id"]))
    assert [c.event for c in chunks] == ["metadata", "updates", "updates"]
    # The run remembers its own modes: joining after the end replays the same.
    again = await collect(client.runs.join_stream(thread["thread_id"], run["run_id"]))
    assert [(c.event, c.data) for c in again] == [(c.event, c.data) for c in chunks]


async def test_list_and_get_runs(client):
    thread = await client.threads.create()
    await client.runs.wait(thread["thread_id"], "agent", input={"topic": "a"})
    await client.runs.wait(thread["thread_id"], "agent", input={"topic": "b"})
    runs = await client.runs.list(thread["thread_id"])
    assert len(runs) == 2
    assert runs[0]["created_at"] >= runs[1]["created_at"]
    assert {"run_id", "thread_id", "assistant_id", "status", "metadata", "kwargs", "multitask_strategy", "created_at", "updated_at"} <= runs[0].keys()


async def test_after_seconds_delays_the_start(client):
    import time

    thread = await client.threads.create()
    started = time.monotonic()
    run = await client.runs.create(thread["thread_id"], "agent", input={"topic": "later"}, after_seconds=0.6)
    assert (await client.runs.get(thread["thread_id"], run["run_id"]))["status"] == "pending"
    result = await client.runs.join(thread["thread_id"], run["run_id"])
    assert time.monotonic() - started >= 0.55
    assert result["joke"] == "This is a joke about later and cats"
    other = await client.threads.create()
    scheduled = await client.runs.create(other["thread_id"], "agent", input={"topic": "never"}, after_seconds=30)
    await client.runs.cancel(other["thread_id"], scheduled["run_id"], wait=True)
    assert (await client.runs.get(other["thread_id"], scheduled["run_id"]))["status"] == "interrupted"
    assert (await client.threads.get_state(other["thread_id"]))["values"] == {}


async def test_chat_graph_messages_round_trip(client):
    """The bundled MessagesState chatbot, as a chat UI drives it: values carry serialized
    messages, messages-tuple streams the reply's tokens, and the thread keeps the history."""
    thread = await client.threads.create()
    tokens = []
    last_values = None
    async for chunk in client.runs.stream(
        thread["thread_id"], "chat", input={"messages": [{"role": "user", "content": "hi there"}]},
        stream_mode=["values", "messages-tuple"],
    ):
        if chunk.event == "messages":
            tokens.append(chunk.data[0]["content"])
        elif chunk.event == "values":
            last_values = chunk.data
    assert "".join(tokens) == "You said: hi there"
    human, ai = last_values["messages"]
    assert human["type"] == "human" and human["content"] == "hi there" and human["id"]
    assert ai["type"] == "ai" and ai["content"] == "You said: hi there"
    await client.runs.wait(thread["thread_id"], "chat", input={"messages": [{"role": "user", "content": "again"}]})
    state = await client.threads.get_state(thread["thread_id"])
    assert [m["content"] for m in state["values"]["messages"]] == ["hi there", "You said: hi there", "again", "You said: again"]
