"""Assistants, threads, runs as resources; bad input gets the reference's status and a `detail`."""

from __future__ import annotations

import uuid

import httpx
import pytest
from langgraph_sdk.errors import ConflictError, NotFoundError

pytestmark = pytest.mark.anyio

AGENT_ID = "fe096781-5601-53d2-b2f6-0d3403f7e9ca"  # the reference's id for graph "agent"


async def test_ok_and_info(http):
    assert (await http.get("/ok")).json()["ok"] is True
    info = (await http.get("/info")).json()
    assert "version" in info and "flags" in info


async def test_default_assistants(client):
    found = await client.assistants.search(graph_id="agent")
    assert len(found) == 1
    agent = found[0]
    assert agent["assistant_id"] == AGENT_ID
    assert agent["name"] == "agent"
    assert agent["metadata"] == {"created_by": "system"}
    assert (await client.assistants.get(AGENT_ID))["graph_id"] == "agent"


async def test_assistant_create_update_versions(client):
    created = await client.assistants.create("agent", config={"configurable": {"x": 1}}, metadata={"m": 1}, name="mine")
    assert created["context"] == {"x": 1}  # mirrored from configurable, as the reference
    updated = await client.assistants.update(created["assistant_id"], metadata={"n": 2}, name="renamed")
    assert updated["version"] == 2 and updated["metadata"] == {"m": 1, "n": 2}
    versions = await client.assistants.get_versions(created["assistant_id"])
    assert [v["version"] for v in versions] == [2, 1]
    back = await client.assistants.set_latest(created["assistant_id"], 1)
    assert back["name"] == "mine"
    with pytest.raises(ConflictError):
        await client.assistants.create("agent", assistant_id=created["assistant_id"])
    same = await client.assistants.create("agent", assistant_id=created["assistant_id"], if_exists="do_nothing")
    assert same["assistant_id"] == created["assistant_id"]
    # A run with a user assistant uses its graph.
    thread = await client.threads.create()
    result = await client.runs.wait(thread["thread_id"], created["assistant_id"], input={"topic": "z"})
    assert result["joke"] == "This is a joke about z and cats"
    await client.assistants.delete(created["assistant_id"])
    with pytest.raises(NotFoundError):
        await client.assistants.get(created["assistant_id"])


async def test_assistant_graph_and_schemas(client):
    graph = await client.assistants.get_graph(AGENT_ID)
    assert {n["id"] for n in graph["nodes"]} >= {"__start__", "refine_topic", "generate_joke", "__end__"}
    schemas = await client.assistants.get_schemas(AGENT_ID)
    assert schemas["graph_id"] == "agent"


async def test_thread_crud(client):
    thread = await client.threads.create(metadata={"owner": "me"})
    assert thread["status"] == "idle" and thread["metadata"] == {"owner": "me"} and thread["values"] is None
    got = await client.threads.get(thread["thread_id"])
    assert got["thread_id"] == thread["thread_id"]
    patched = await client.threads.update(thread["thread_id"], metadata={"extra": True})
    assert patched["metadata"] == {"owner": "me", "extra": True}
    with pytest.raises(ConflictError):
        await client.threads.create(thread_id=thread["thread_id"])
    same = await client.threads.create(thread_id=thread["thread_id"], if_exists="do_nothing")
    assert same["metadata"] == {"owner": "me", "extra": True}
    await client.threads.delete(thread["thread_id"])
    with pytest.raises(NotFoundError):
        await client.threads.get(thread["thread_id"])


async def test_thread_search(client, http):
    tag = str(uuid.uuid4())
    made = [await client.threads.create(metadata={"tag": tag, "i": i}) for i in range(3)]
    found = await client.threads.search(metadata={"tag": tag})
    assert [t["thread_id"] for t in found] == [t["thread_id"] for t in reversed(made)]  # newest first
    res = await http.post("/threads/search", json={"metadata": {"tag": tag}, "limit": 2})
    assert len(res.json()) == 2
    assert res.headers["x-pagination-next"] == "2"
    asc = await client.threads.search(metadata={"tag": tag}, sort_by="created_at", sort_order="asc")
    assert [t["thread_id"] for t in asc] == [t["thread_id"] for t in made]
    assert await client.threads.count(metadata={"tag": tag}) == 3
    await client.runs.wait(made[0]["thread_id"], "failing", input={"topic": "x"}, raise_error=False)
    errored = await client.threads.search(metadata={"tag": tag}, status="error")
    assert [t["thread_id"] for t in errored] == [made[0]["thread_id"]]


async def test_run_on_missing_thread_with_if_not_exists(client):
    thread_id = str(uuid.uuid4())
    result = await client.runs.wait(thread_id, "agent", input={"topic": "q"}, if_not_exists="create")
    assert result["joke"] == "This is a joke about q and cats"
    thread = await client.threads.get(thread_id)
    assert thread["metadata"]["graph_id"] == "agent"


# -- bad input -----------------------------------------------------------------------------


async def _thread(http) -> str:
    return (await http.post("/threads", json={})).json()["thread_id"]


async def _assert_error(res: httpx.Response, status: int, contains: str = "") -> None:
    assert res.status_code == status, res.text
    assert res.headers["content-type"].startswith("application/json")
    detail = res.json()["detail"]
    assert isinstance(detail, str) and contains in detail


async def test_bad_input_statuses(http):
    tid = await _thread(http)
    run = {"assistant_id": "agent", "input": {"topic": "x"}}
    await _assert_error(await http.post(f"/threads/{tid}/runs/stream", json={**run, "assistant_id": "nope"}), 422, "Invalid assistant")
    await _assert_error(await http.post(f"/threads/{tid}/runs/stream", json={**run, "assistant_id": str(uuid.uuid4())}), 404, "not found")
    await _assert_error(await http.post(f"/threads/{uuid.uuid4()}/runs/stream", json=run), 404, "Thread or assistant not found")
    await _assert_error(await http.post("/threads/abc/runs/stream", json=run), 400, "UUID")
    await _assert_error(await http.post(f"/threads/{tid}/runs/stream", content=b"{not json", headers={"content-type": "application/json"}), 422, "Invalid JSON")
    await _assert_error(await http.post(f"/threads/{tid}/runs/stream", json={**run, "stream_mode": "bogus"}), 422, "bogus")
    await _assert_error(await http.post(f"/threads/{tid}/runs/stream", json={**run, "stream_mode": ["values", "bogus"]}), 422, "bogus")
    await _assert_error(await http.post(f"/threads/{tid}/runs/stream", json={"input": {}}), 422, "assistant_id")
    await _assert_error(await http.post(f"/threads/{tid}/runs/stream", json={**run, "multitask_strategy": "bogus"}), 422, "bogus")
    await _assert_error(await http.post("/runs/stream", json={**run, "assistant_id": "nope"}), 422, "Invalid assistant")
    await _assert_error(await http.get(f"/threads/{uuid.uuid4()}"), 404, "not found")
    await _assert_error(await http.get("/threads/abc"), 422, "Invalid thread ID")
    await _assert_error(await http.get(f"/assistants/{uuid.uuid4()}"), 404)
    await _assert_error(await http.get(f"/threads/{tid}/runs/{uuid.uuid4()}"), 404)
    await _assert_error(await http.get(f"/threads/{tid}/stream", headers={"Last-Event-ID": "garbage"}), 422, "last-event-id")
    await _assert_error(await http.get(f"/threads/{tid}/stream", params={"stream_modes": "bogus"}), 422, "Invalid stream mode")
    await _assert_error(await http.post("/threads/search", json={"limit": 0}), 422)
    await _assert_error(await http.post("/runs/cancel", json={}), 422)
    await _assert_error(await http.get("/no/such/path"), 404, "Not Found")
    res = await http.get("/threads")
    await _assert_error(res, 405, "Method Not Allowed")
    assert "POST" in res.headers["allow"]


async def test_rejected_requests_store_nothing(http):
    tid = await _thread(http)
    for body in (
        {"assistant_id": "nope"},
        {"assistant_id": "agent", "stream_mode": "bogus"},
        {"assistant_id": "agent", "multitask_strategy": "bogus"},
    ):
        assert (await http.post(f"/threads/{tid}/runs", json=body)).status_code == 422
    assert (await http.get(f"/threads/{tid}/runs")).json() == []
    thread = (await http.get(f"/threads/{tid}")).json()
    assert thread["status"] == "idle"


async def test_cors_for_browser_clients(http):
    res = await http.get("/ok", headers={"Origin": "http://localhost:3000"})
    assert res.headers["access-control-allow-origin"] == "*"
    assert "content-location" in res.headers["access-control-expose-headers"]
    pre = await http.options("/threads", headers={"Origin": "http://localhost:3000", "Access-Control-Request-Method": "POST"})
    assert pre.status_code == 200
    assert "POST" in pre.headers["access-control-allow-methods"]


async def test_stateless_batch_and_subgraphs(client, http):
    res = await http.post("/runs/batch", json=[{"assistant_id": "agent", "input": {"topic": "a"}}, {"assistant_id": "custom", "input": {"query": "q"}}])
    assert res.status_code == 200
    runs = res.json()
    custom_id = str(uuid.uuid5(uuid.UUID("6ba7b821-9dad-11d1-80b4-00c04fd430c8"), "custom"))  # the reference's id for graph "custom"
    assert [r["assistant_id"] for r in runs] == [AGENT_ID, custom_id]
    assert all(r["status"] in ("pending", "running", "success") and r["thread_id"] for r in runs)
    subgraphs = await client.assistants.get_subgraphs("22e3354e-e6ec-5d11-8579-a7f4019b0f8b")  # graph "subgraph"
    assert list(subgraphs) == ["node_2"]
