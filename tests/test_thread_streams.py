"""Thread streams, resuming from any event, and run control (cancel, multitask, disconnect)."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
import sse
from langgraph_sdk.errors import ConflictError, NotFoundError

pytestmark = pytest.mark.anyio


async def collect(stream):
    return [chunk async for chunk in stream]


async def until_started(http, tid: str, run_id: str) -> None:
    """Until the run's graph is under way: its first graph event is in the log."""
    await sse.read_until(http, f"/threads/{tid}/runs/{run_id}/stream", lambda evs: any(e.event != "metadata" for e in evs))


def runs_done(n: int):
    return lambda events: sum(1 for e in events if e.event == "metadata" and (e.data or {}).get("status") == "run_done") >= n


async def test_thread_stream_sees_runs_during_not_before(client, http):
    thread = await client.threads.create()
    tid = thread["thread_id"]
    await client.runs.wait(tid, "agent", input={"topic": "before"})

    reader = await sse.start_reading(http, f"/threads/{tid}/stream", runs_done(2))
    r1 = await client.runs.create(tid, "agent", input={"topic": "a"}, stream_mode="updates")
    await client.runs.join(tid, r1["run_id"])
    await client.runs.create(tid, "agent", input={"topic": "b"})
    events, _ = await reader
    names = [e.event for e in events]
    assert names == ["metadata", "updates", "updates", "metadata", "metadata", "values", "values", "values", "metadata"]
    assert events[1].data == {"refine_topic": {"topic": "a and cats"}}
    assert events[3].data["status"] == "run_done" and events[3].data["run_id"] == events[0].data["run_id"]
    assert events[5].data == {"topic": "b", "joke": "This is a joke about a and cats"}
    ids = [tuple(map(int, e.id.split("-"))) for e in events]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)


async def test_sdk_join_stream_with_modes(client):
    thread = await client.threads.create()
    tid = thread["thread_id"]
    got = []

    async def follow():
        # From the thread's first event: the run below is on it however late this connects.
        async for chunk in await client.threads.join_stream(tid, stream_mode=["lifecycle", "state_update"], last_event_id="-"):
            got.append(chunk)
            if chunk.event == "state_update":
                return

    task = asyncio.create_task(follow())
    await client.runs.wait(tid, "agent", input={"topic": "x"})
    await asyncio.wait_for(task, 10)
    events = [c.event for c in got]
    assert events == ["lifecycle", "metadata", "metadata", "lifecycle", "state_update"]
    start, meta, done, end, update = got
    assert start.data["status"] == "running" and end.data["status"] == "success"
    assert start.data["run_id"] == meta.data["run_id"] == done.data["run_id"] == end.data["run_id"]
    assert "timestamp" in start.data and meta.data["attempt"] == 1 and done.data["status"] == "run_done"
    assert update.data["thread_id"] == tid
    assert update.data["state"]["values"] == {"topic": "x and cats", "joke": "This is a joke about x and cats"}
    assert update.data["state"]["next"] == []


async def test_replay_from_start_and_resume_from_every_id(client, http):
    thread = await client.threads.create()
    tid = thread["thread_id"]
    await client.runs.wait(tid, "agent", input={"topic": "a"})
    await client.runs.wait(tid, "custom", input={"query": "q"})
    full, _ = await sse.read_until(http, f"/threads/{tid}/stream", runs_done(2), headers={"Last-Event-ID": "-"})
    assert len(full) == (1 + 3 + 1) + (1 + 2 + 1)  # per run: metadata, its values events, run_done
    for i, event in enumerate(full):
        rest = full[i + 1 :]
        if not rest:
            break
        got, _ = await sse.read_until(http, f"/threads/{tid}/stream", lambda evs, n=len(rest): len(evs) >= n, headers={"Last-Event-ID": event.id})
        assert [(e.id, e.event, e.data) for e in got] == [(e.id, e.event, e.data) for e in rest]
    # The SDK's own spelling of "from the start".
    sdk = []
    async for chunk in await client.threads.join_stream(tid, last_event_id="-"):
        sdk.append(chunk)
        if len(sdk) == len(full):
            break
    assert [(c.event, c.data) for c in sdk] == [(e.event, e.data) for e in full]


async def test_run_stream_resume_with_last_event_id(client, http):
    thread = await client.threads.create()
    tid = thread["thread_id"]
    res = await http.post(f"/threads/{tid}/runs/stream", json={"assistant_id": "agent", "input": {"topic": "a"}, "stream_mode": ["updates", "values"]})
    events, _ = sse.parse(res.text)
    location = res.headers["location"]
    for i, event in enumerate(events):
        again = await http.get(location, headers={"Last-Event-ID": event.id})
        got, _ = sse.parse(again.text)
        assert [(e.id, e.data) for e in got] == [(e.id, e.data) for e in events[i + 1 :]]
    replay = await http.get(location, headers={"Last-Event-ID": "-1"})
    assert [e.id for e in sse.parse(replay.text)[0]] == [e.id for e in events]
    filtered = await http.get(location, params={"stream_mode": "updates"})
    assert [e.event for e in sse.parse(filtered.text)[0]] == ["metadata", "updates", "updates"]


async def test_many_subscribers_see_the_same_sequence(client, http):
    thread = await client.threads.create()
    tid = thread["thread_id"]
    n = 40
    readers = [await sse.start_reading(http, f"/threads/{tid}/stream", runs_done(3), timeout=30) for _ in range(n)]
    for topic in ("a", "b", "c"):
        await client.runs.create(tid, "llm", input={"topic": topic}, stream_mode="messages-tuple", multitask_strategy="enqueue")
    results = await asyncio.gather(*readers)
    first = [(e.id, e.event) for e in results[0][0]]
    assert len(first) > 30
    for events, _ in results[1:]:
        assert [(e.id, e.event) for e in events] == first


async def test_heartbeats_on_idle_streams(tmp_path):
    from serverproc import ServerProcess

    server = ServerProcess(tmp_path / "hb", extra_args=["--heartbeat", "0.3"]).start()
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
            tid = (await http.post("/threads", json={})).json()["thread_id"]
            _, comments = await sse.read_until(http, f"/threads/{tid}/stream", lambda events, c=0: c >= 3, timeout=5)
            assert comments >= 3
    finally:
        server.stop()


# -- cancel --------------------------------------------------------------------------------


async def test_cancel_stops_a_sleeping_run_promptly(client, http):
    thread = await client.threads.create()
    tid = thread["thread_id"]
    run = await client.runs.create(tid, "slow", input={"delay": 30})
    await until_started(http, tid, run["run_id"])
    started = time.monotonic()
    await client.runs.cancel(tid, run["run_id"], wait=True)
    assert time.monotonic() - started < 2
    got = await client.runs.get(tid, run["run_id"])
    assert got["status"] == "interrupted"
    t = await client.threads.get(tid)
    assert t["status"] in ("interrupted", "idle")
    assert t["error"]["error"] == "UserInterrupt"
    with pytest.raises(NotFoundError):
        await client.runs.cancel(tid, run["run_id"])


async def test_cancel_rollback_deletes_the_run(client, http):
    thread = await client.threads.create()
    tid = thread["thread_id"]
    run = await client.runs.create(tid, "slow", input={"delay": 30})
    await until_started(http, tid, run["run_id"])
    res = await http.post(f"/threads/{tid}/runs/{run['run_id']}/cancel", params={"action": "rollback", "wait": "true"})
    assert res.status_code == 200
    with pytest.raises(NotFoundError):
        await client.runs.get(tid, run["run_id"])
    t = await client.threads.get(tid)
    assert t["status"] == "idle" and t["error"]["error"] == "UserRollback"


async def test_cancel_without_wait_answers_202_and_stream_ends(client, http):
    thread = await client.threads.create()
    tid = thread["thread_id"]
    async with http.stream("POST", f"/threads/{tid}/runs/stream", json={"assistant_id": "slow", "input": {"delay": 30}}) as res:
        run_path = res.headers["content-location"]
        lines = res.aiter_lines()
        while "metadata" not in await lines.__anext__():
            pass
        cancel = await http.post(f"{run_path}/cancel")
        assert cancel.status_code == 202
        rest = [line async for line in lines]  # the stream ends by itself
    assert not any("error" in line for line in rest)


async def test_bulk_cancel(client, http):
    thread = await client.threads.create()
    tid = thread["thread_id"]
    run = await client.runs.create(tid, "slow", input={"delay": 30})
    res = await http.post("/runs/cancel", json={"thread_id": tid, "run_ids": [run["run_id"]]})
    assert res.status_code == 204
    await client.runs.join(tid, run["run_id"])
    assert (await client.runs.get(tid, run["run_id"]))["status"] == "interrupted"


# -- multitask -----------------------------------------------------------------------------


async def test_multitask_reject(client):
    thread = await client.threads.create()
    tid = thread["thread_id"]
    first = await client.runs.create(tid, "slow", input={"delay": 0.3})
    assert (await client.threads.get(tid))["status"] == "busy"
    with pytest.raises(ConflictError):
        await client.runs.create(tid, "slow", input={"delay": 0.1}, multitask_strategy="reject")
    await client.runs.join(tid, first["run_id"])
    assert len(await client.runs.list(tid)) == 1


async def test_multitask_enqueue(client):
    thread = await client.threads.create()
    tid = thread["thread_id"]
    first = await client.runs.create(tid, "slow", input={"delay": 0.2})
    second = await client.runs.create(tid, "slow", input={"delay": 0.1}, multitask_strategy="enqueue")
    assert second["status"] == "pending"
    result = await client.runs.join(tid, second["run_id"])
    assert result["log"] == ["tick", "tock", "tick", "tock"]
    assert (await client.runs.get(tid, first["run_id"]))["status"] == "success"


async def test_multitask_interrupt(client, http):
    thread = await client.threads.create()
    tid = thread["thread_id"]
    first = await client.runs.create(tid, "slow", input={"delay": 30})
    await until_started(http, tid, first["run_id"])
    second = await client.runs.create(tid, "slow", input={"delay": 0.05}, multitask_strategy="interrupt")
    result = await client.runs.join(tid, second["run_id"])
    assert result["log"] == ["tick", "tock"]
    assert (await client.runs.get(tid, first["run_id"]))["status"] == "interrupted"
    assert (await client.runs.get(tid, second["run_id"]))["status"] == "success"


async def test_multitask_rollback(client, http):
    thread = await client.threads.create()
    tid = thread["thread_id"]
    first = await client.runs.create(tid, "slow", input={"delay": 30})
    await until_started(http, tid, first["run_id"])
    second = await client.runs.create(tid, "slow", input={"delay": 0.05}, multitask_strategy="rollback")
    await client.runs.join(tid, second["run_id"])
    with pytest.raises(NotFoundError):
        await client.runs.get(tid, first["run_id"])
    assert [r["run_id"] for r in await client.runs.list(tid)] == [second["run_id"]]


# -- disconnects ---------------------------------------------------------------------------


async def _disconnect_after_metadata(http, tid: str, on_disconnect: str | None) -> str:
    body = {"assistant_id": "slow", "input": {"delay": 0.4}}
    if on_disconnect:
        body["on_disconnect"] = on_disconnect
    async with http.stream("POST", f"/threads/{tid}/runs/stream", json=body) as res:
        run_path = res.headers["content-location"]
        async for line in res.aiter_lines():
            if line.startswith("data:"):
                break
    return run_path.rsplit("/", 1)[1]


async def test_on_disconnect_cancel(client, http):
    thread = await client.threads.create()
    run_id = await _disconnect_after_metadata(http, thread["thread_id"], "cancel")
    await client.runs.join(thread["thread_id"], run_id)
    assert (await client.runs.get(thread["thread_id"], run_id))["status"] == "interrupted"
    assert (await client.threads.get(thread["thread_id"]))["error"]["message"].startswith("client disconnected")


async def test_on_disconnect_continue_is_default(client, http):
    thread = await client.threads.create()
    run_id = await _disconnect_after_metadata(http, thread["thread_id"], None)
    result = await client.runs.join(thread["thread_id"], run_id)
    assert result["log"] == ["tick", "tock"]
    assert (await client.runs.get(thread["thread_id"], run_id))["status"] == "success"


async def test_webhook_gets_the_finished_run(client, http):
    """A run created with `webhook` POSTs itself there when it ends, as the reference."""
    import json

    received: asyncio.Queue = asyncio.Queue()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length"))
        body = await reader.readexactly(length)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        await writer.drain()
        writer.close()
        await received.put((head.split(b" ")[1].decode(), json.loads(body)))

    receiver = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = receiver.sockets[0].getsockname()[1]
    try:
        thread = await client.threads.create()
        run = await client.runs.create(thread["thread_id"], "agent", input={"topic": "hooks"}, webhook=f"http://127.0.0.1:{port}/done")
        path, payload = await asyncio.wait_for(received.get(), 10)
        assert path == "/done"
        assert payload["run_id"] == run["run_id"] and payload["status"] == "success"
        assert payload["values"]["joke"] == "This is a joke about hooks and cats"
        assert payload["run_started_at"] and payload["run_ended_at"] and payload["webhook_sent_at"]
        failing = await client.runs.create(thread["thread_id"], "failing", input={"topic": "t"}, webhook=f"http://127.0.0.1:{port}/failed")
        path, payload = await asyncio.wait_for(received.get(), 10)
        assert payload["run_id"] == failing["run_id"] and payload["status"] == "error"
        assert payload["error"] == {"error": "ValueError", "message": "boom: t!"}
    finally:
        receiver.close()
    bad = await http.post(f"/threads/{thread['thread_id']}/runs", json={"assistant_id": "agent", "webhook": "not a url"})
    assert bad.status_code == 422


async def test_sdk_reconnects_a_dropped_run_stream_without_loss(base_url):
    """The official client resumes a run stream cut mid-way (GET Location + Last-Event-ID):
    every event arrives exactly once, in order."""
    from urllib.parse import urlparse

    from langgraph_sdk import get_client

    target = urlparse(base_url)
    cut_after = 600  # bytes of the first response: inside the stream, after a few events
    connections = 0

    async def pipe(reader, writer, limit=None):
        sent = 0
        try:
            while data := await reader.read(256):
                if limit is not None and sent + len(data) > limit:
                    writer.write(data[: limit - sent])
                    await writer.drain()
                    raise ConnectionResetError
                writer.write(data)
                await writer.drain()
                sent += len(data)
        finally:
            writer.close()

    async def handle(client_reader, client_writer):
        nonlocal connections
        connections += 1
        limit = cut_after if connections == 1 else None
        server_reader, server_writer = await asyncio.open_connection(target.hostname, target.port)
        upstream = asyncio.create_task(pipe(client_reader, server_writer))
        try:
            await pipe(server_reader, client_writer, limit)
        except ConnectionResetError:
            client_writer.transport.abort()
        finally:
            upstream.cancel()
            server_writer.close()

    proxy = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = proxy.sockets[0].getsockname()[1]
    try:
        direct = get_client(url=base_url)
        thread = await direct.threads.create()
        client = get_client(url=f"http://127.0.0.1:{port}")
        chunks = [c async for c in client.runs.stream(thread["thread_id"], "llm", input={"topic": "ice cream"}, stream_mode="messages-tuple")]
        assert connections >= 2, "the proxy never cut the stream"
        assert chunks[0].event == "metadata"
        text = "".join(c.data[0]["content"] for c in chunks if c.event == "messages")
        assert text == "Why did the ice cream cross the road? To get to the other side!"
        ids = [c.id for c in chunks]
        assert len(set(ids)) == len(ids)
    finally:
        proxy.close()
