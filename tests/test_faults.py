"""Faults a user can meet, each as the user meets it, over real HTTP (or signals): none
may cost a run or the server, and each leaves a one-line trace in the log."""

from __future__ import annotations

import asyncio
import socket
import struct
import time

import httpx
import pytest
import sse
from langgraph_sdk import get_client
from serverproc import ServerProcess

pytestmark = pytest.mark.anyio


async def _wait_for(predicate, *, timeout: float = 10.0, what: str = "condition"):
    """Poll an async predicate until it holds (no fixed sleeps: a condition, with a deadline)."""
    deadline = time.monotonic() + timeout
    while True:
        value = await predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


# -- webhooks -----------------------------------------------------------------------------


@pytest.mark.parametrize("url", ["http://example.com:abc/hook", "http://[::1/x", "ftp://example.com/hook", "http:///nohost"])
async def test_an_unusable_webhook_url_is_refused_at_creation(http, url):
    """It used to pass validation and kill the server when the run ended (or answer 500)."""
    thread = (await http.post("/threads", json={})).json()
    res = await http.post(f"/threads/{thread['thread_id']}/runs", json={"assistant_id": "agent", "input": {"topic": "x"}, "webhook": url})
    assert res.status_code == 422, res.text
    assert "webhook" in res.json()["detail"].lower()
    assert (await http.get(f"/threads/{thread['thread_id']}/runs")).json() == []  # nothing stored
    assert (await http.get("/ok")).status_code == 200


async def test_a_failing_webhook_costs_neither_the_run_nor_the_server(tmp_path):
    server = ServerProcess(tmp_path / "data", extra_args=["--log-level", "info"]).start()
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
            with socket.socket() as closed:
                closed.bind(("127.0.0.1", 0))
                port = closed.getsockname()[1]  # nothing listens here once closed
            thread = (await http.post("/threads", json={})).json()["thread_id"]
            res = await http.post(f"/threads/{thread}/runs/wait", json={"assistant_id": "agent", "input": {"topic": "x"}, "webhook": f"http://127.0.0.1:{port}/hook"})
            assert res.json()["joke"] == "This is a joke about x and cats"
            run_id = res.headers["Content-Location"].rsplit("/", 1)[1]
            await _wait_for(lambda: _log_has(server, f"webhook of run {run_id} on thread {thread}"), what="the webhook failure in the log")
            assert (await http.get("/ok")).status_code == 200
            again = await http.post(f"/threads/{thread}/runs/wait", json={"assistant_id": "agent", "input": {"topic": "y"}})
            assert again.json()["joke"] == "This is a joke about y and cats"
    finally:
        server.stop()


async def _log_has(server: ServerProcess, text: str) -> bool:
    return text in server.log_path.read_text(errors="replace")


# -- disconnects mid-request ----------------------------------------------------------------


def _post_and_reset(port: int, path: str, body: bytes, after: float) -> None:
    """Send a whole request, then reset the connection `after` seconds later (a client
    that vanishes while the server is storing what it asked for)."""
    sock = socket.create_connection(("127.0.0.1", port))
    request = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    sock.sendall(request)
    time.sleep(after)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


async def test_a_client_that_disconnects_while_creating_a_run_orphans_nothing(server, client):
    """Each stored run is also started: it ends, its thread becomes free, cancel finds it."""
    threads = [(await client.threads.create())["thread_id"] for _ in range(30)]
    body = b'{"assistant_id": "slow", "input": {"delay": 0.05}}'
    for i, thread in enumerate(threads):  # resets spread over the first 4 ms of each request
        await asyncio.to_thread(_post_and_reset, server.port, f"/threads/{thread}/runs", body, (i % 5) * 0.001)
    for thread in threads:
        async def settled(thread=thread):
            runs = await client.runs.list(thread)
            status = (await client.threads.get(thread))["status"]
            return all(r["status"] == "success" for r in runs) and status != "busy"
        await _wait_for(settled, timeout=20, what=f"every run of thread {thread} to end")


# -- the thread's status --------------------------------------------------------------------


async def test_cancelling_a_queued_run_leaves_the_thread_busy_while_another_runs(client):
    thread = (await client.threads.create())["thread_id"]
    running = await client.runs.create(thread, "slow", input={"delay": 1.0})
    queued = await client.runs.create(thread, "slow", input={"delay": 0.01}, multitask_strategy="enqueue")
    await client.runs.cancel(thread, queued["run_id"])
    assert (await client.runs.get(thread, queued["run_id"]))["status"] == "interrupted"
    assert (await client.threads.get(thread))["status"] == "busy"
    await client.runs.join(thread, running["run_id"])
    assert (await client.threads.get(thread))["status"] == "idle"


async def test_cancelling_a_scheduled_run_shows_interrupted_at_once(client):
    thread = (await client.threads.create())["thread_id"]
    later = await client.runs.create(thread, "agent", input={"topic": "x"}, after_seconds=30)
    assert (await client.runs.get(thread, later["run_id"]))["status"] == "pending"
    await client.runs.cancel(thread, later["run_id"])
    assert [r["run_id"] for r in await client.runs.list(thread, status="interrupted")] == [later["run_id"]]
    assert (await client.threads.get(thread))["status"] == "idle"


# -- visibility of a thread's first run ------------------------------------------------------


async def test_a_thread_shows_its_first_run_while_it_runs(client):
    thread = (await client.threads.create(metadata={"owner": "first-run"}))["thread_id"]
    run = await client.runs.create(thread, "slow", input={"delay": 1.0})

    async def has_input_checkpoint():
        state = await client.threads.get_state(thread)
        return state if state["checkpoint"] else None

    state = await _wait_for(has_input_checkpoint, what="the first checkpoint in the thread's state")
    assert (await client.runs.get(thread, run["run_id"]))["status"] == "running"
    assert state["values"]["delay"] == 1.0
    assert await client.threads.get_history(thread, limit=10) != []
    found = await client.threads.search(metadata={"graph_id": "slow", "owner": "first-run"})
    assert [t["thread_id"] for t in found] == [thread]
    await client.runs.join(thread, run["run_id"])


# -- deleting a thread under its streams ------------------------------------------------------


async def test_deleting_a_thread_ends_its_streams_and_cancels_its_runs(client, http):
    thread = (await client.threads.create())["thread_id"]
    run = await client.runs.create(thread, "slow", input={"delay": 30})
    follower = asyncio.create_task(sse.read_until(http, f"/threads/{thread}/stream", lambda evs: False, timeout=15))
    joiner = asyncio.create_task(sse.read_until(http, f"/threads/{thread}/runs/{run['run_id']}/stream", lambda evs: False, timeout=15))
    await _graph_started(client, thread, run["run_id"])
    started = time.monotonic()
    await client.threads.delete(thread)
    await follower  # ended by the server, not by the 15 s timeout
    await joiner
    assert time.monotonic() - started < 10
    assert (await http.get(f"/threads/{thread}/runs/{run['run_id']}")).status_code == 404
    assert (await http.get(f"/threads/{thread}")).status_code == 404


async def _graph_started(client, thread: str, run_id: str, timeout: float = 15.0) -> None:
    """Wait until the run's graph is executing: its first `values` event (the input, which
    LangGraph emits as it starts). `running` alone is not enough: with graph workers a run
    is running from the moment the queue starts it, even while it waits for a worker."""
    async with asyncio.timeout(timeout):
        async for part in client.runs.join_stream(thread, run_id):
            if part.event == "values":
                return
    raise AssertionError(f"run {run_id} ended before its graph started")


# -- sync nodes -----------------------------------------------------------------------------------


async def test_cancelled_sync_nodes_do_not_starve_other_runs(client):
    """Eight cancelled runs whose sync nodes keep their worker threads (more than the
    default pool of 6 on two cores), then a trivial sync run on another thread."""
    stuck = []
    for _ in range(8):
        thread = (await client.threads.create())["thread_id"]
        run = await client.runs.create(thread, "sync_slow", input={"delay": 20})
        stuck.append((thread, run["run_id"]))
    for thread, run_id in stuck:
        await _graph_started(client, thread, run_id)
    for thread, run_id in stuck:
        await client.runs.cancel(thread, run_id, wait=True)
    thread = (await client.threads.create())["thread_id"]
    started = time.monotonic()
    result = await client.runs.wait(thread, "sync_slow", input={"delay": 0.01})
    assert result["done"] is True
    assert time.monotonic() - started < 5


async def test_sigterm_during_a_sync_node_exits_within_the_grace_period(tmp_path):
    server = ServerProcess(tmp_path / "data").start()
    client = get_client(url=server.url)
    thread = (await client.threads.create())["thread_id"]
    run = await client.runs.create(thread, "sync_slow", input={"delay": 30})
    await _graph_started(client, thread, run["run_id"])
    await client.http.client.aclose()
    started = time.monotonic()
    code = server.stop(timeout=20)
    assert code == 0
    assert time.monotonic() - started < 8


# -- a graph that ignores cancellation ---------------------------------------------------------------


async def test_a_graph_that_ignores_cancellation_is_abandoned_and_cannot_write(tmp_path):
    server = ServerProcess(tmp_path / "data").start()
    try:
        client = get_client(url=server.url)
        thread = (await client.threads.create())["thread_id"]
        run = await client.runs.create(thread, "stubborn", input={"delay": 7.0})
        await _graph_started(client, thread, run["run_id"])
        await client.runs.cancel(thread, run["run_id"], wait=True)
        assert (await client.runs.get(thread, run["run_id"]))["status"] == "interrupted"
        await _wait_for(lambda: _log_has(server, "ignored cancellation"), what="the abandonment in the log")
        # The graph carries on and tries to write its update; the thread must not change.
        await asyncio.sleep(0)
        follow_up = await client.runs.wait(thread, "agent", input={"topic": "later"}, multitask_strategy="enqueue")
        assert follow_up["joke"] == "This is a joke about later and cats"
        await _wait_for(lambda: _log_has(server, "its checkpoint writes are refused"), timeout=15, what="the refused write")
        assert "note" not in (await client.threads.get_state(thread))["values"]
        await client.http.client.aclose()
    finally:
        server.stop()


# -- state types across a restart -------------------------------------------------------------------


async def test_custom_state_types_survive_a_restart(tmp_path):
    data = tmp_path / "data"
    server = ServerProcess(data).start()
    client = get_client(url=server.url)
    thread = (await client.threads.create())["thread_id"]
    assert (await client.runs.wait(thread, "typed", input={}))["seen"] == 1
    await client.http.client.aclose()
    server.stop()
    server = ServerProcess(data, port=server.port).start()
    try:
        client = get_client(url=server.url)
        assert (await client.runs.wait(thread, "typed", input={}))["seen"] == 2  # read the dataclass back
        await client.http.client.aclose()
    finally:
        server.stop()
    assert "Could not reconstruct" not in server.log_path.read_text(errors="replace")


# -- smaller ones ------------------------------------------------------------------------------------


def test_messages_mode_does_not_add_complete_messages_together():
    """Two complete messages with one id, or with none, used to be summed into a prompt
    template. (LangGraph's own stream dedupes by id, so this is driven directly.)"""
    import orjson
    from langchain_core.messages import AIMessage, AIMessageChunk

    from trioserver.runtime.chunks import ChunkEncoder

    out = []
    encoder = ChunkEncoder("run", ["messages"], False, out.append)
    for msg in (AIMessage(content="first", id="same"), AIMessage(content="second", id="same"), AIMessage(content="a"), AIMessage(content="b")):
        encoder.graph_chunk(None, "messages", (msg, {}))
    encoder.graph_chunk(None, "messages", (AIMessageChunk(content="str", id="s"), {}))
    encoder.graph_chunk(None, "messages", (AIMessageChunk(content="eam", id="s"), {}))
    encoder.finish()
    complete = [orjson.loads(e.data)[0] for e in out if e.event == "messages/complete"]
    assert [(m["type"], m["content"]) for m in complete] == [("ai", "first"), ("ai", "second"), ("ai", "a"), ("ai", "b"), ("ai", "stream")]
    partial = [orjson.loads(e.data)[0]["content"] for e in out if e.event == "messages/partial"]
    assert partial == ["str", "stream"]


async def test_an_async_graph_factory_builds_for_graph_and_schemas(http):
    assert (await http.get("/assistants/async_factory/graph")).status_code == 200
    schemas = await http.get("/assistants/async_factory/schemas")
    assert schemas.status_code == 200 and schemas.json()["graph_id"] == "async_factory"
