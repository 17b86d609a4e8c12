"""Thread state, history, updates, interrupts and Command resume."""

from __future__ import annotations

import pytest
from langgraph_sdk.errors import BadRequestError, ConflictError

pytestmark = pytest.mark.anyio


async def collect(stream):
    return [chunk async for chunk in stream]


async def test_state_after_run(client):
    thread = await client.threads.create()
    await client.runs.wait(thread["thread_id"], "agent", input={"topic": "cats"})
    state = await client.threads.get_state(thread["thread_id"])
    assert state["values"] == {"topic": "cats and cats", "joke": "This is a joke about cats and cats"}
    assert state["next"] == [] and state["tasks"] == [] and state["interrupts"] == []
    assert state["checkpoint"]["thread_id"] == thread["thread_id"]
    assert state["checkpoint"]["checkpoint_ns"] == ""
    assert state["checkpoint_id"] == state["checkpoint"]["checkpoint_id"]
    assert state["parent_checkpoint_id"] == state["parent_checkpoint"]["checkpoint_id"]
    assert state["metadata"]["source"] == "loop" and state["metadata"]["step"] == 2
    assert state["metadata"]["graph_id"] == "agent"


async def test_state_of_fresh_thread(client):
    thread = await client.threads.create()
    state = await client.threads.get_state(thread["thread_id"])
    assert state["values"] == {} and state["checkpoint"] is None and state["next"] == []
    assert await client.threads.get_history(thread["thread_id"]) == []


async def test_history_limit_before_and_filter(client):
    thread = await client.threads.create()
    await client.runs.wait(thread["thread_id"], "agent", input={"topic": "cats"})
    history = await client.threads.get_history(thread["thread_id"], limit=10)
    assert [h["metadata"]["step"] for h in history] == [2, 1, 0, -1]  # newest first
    older = await client.threads.get_history(thread["thread_id"], limit=10, before={"configurable": {"checkpoint_id": history[1]["checkpoint_id"]}})
    assert [h["metadata"]["step"] for h in older] == [0, -1]
    inputs = await client.threads.get_history(thread["thread_id"], limit=10, metadata={"source": "input"})
    assert [h["metadata"]["step"] for h in inputs] == [-1]
    at = await client.threads.get_state(thread["thread_id"], checkpoint_id=history[2]["checkpoint_id"])
    assert at["values"] == {"topic": "cats"} and at["next"] == ["refine_topic"]


async def test_update_state_as_node(client):
    thread = await client.threads.create()
    await client.runs.wait(thread["thread_id"], "agent", input={"topic": "cats"})
    result = await client.threads.update_state(thread["thread_id"], {"topic": "dogs"}, as_node="refine_topic")
    assert result["checkpoint"]["thread_id"] == thread["thread_id"] and result["checkpoint"]["checkpoint_id"]
    state = await client.threads.get_state(thread["thread_id"])
    assert state["values"]["topic"] == "dogs" and state["next"] == ["generate_joke"]
    assert (await client.threads.get(thread["thread_id"]))["status"] == "interrupted"
    # Continue from there: input None resumes the pending node.
    final = await client.runs.wait(thread["thread_id"], "agent", input=None)
    assert final["joke"] == "This is a joke about dogs"
    with pytest.raises(BadRequestError):
        await client.threads.update_state(thread["thread_id"], {"topic": "x"}, as_node="nope")


async def test_update_state_needs_a_graph(client):
    thread = await client.threads.create()
    with pytest.raises(BadRequestError):
        await client.threads.update_state(thread["thread_id"], {"topic": "x"})


async def test_update_state_while_running_conflicts(client):
    thread = await client.threads.create()
    run = await client.runs.create(thread["thread_id"], "slow", input={"delay": 0.5})
    with pytest.raises(ConflictError):
        await client.threads.update_state(thread["thread_id"], {"log": ["x"]})
    await client.runs.join(thread["thread_id"], run["run_id"])


async def test_interrupt_then_resume(client):
    thread = await client.threads.create()
    chunks = await collect(client.runs.stream(thread["thread_id"], "asking", input={"question": "sure?"}, stream_mode=["updates", "values"]))
    updates = [c.data for c in chunks if c.event == "updates"]
    assert updates[-1]["__interrupt__"][0]["value"] == {"question": "sure?"}
    assert chunks[-1].event == "values" and "__interrupt__" in chunks[-1].data
    got = await client.threads.get(thread["thread_id"])
    assert got["status"] == "interrupted"
    (task_id, interrupts), = got["interrupts"].items()
    assert interrupts[0]["value"] == {"question": "sure?"} and interrupts[0]["id"]
    state = await client.threads.get_state(thread["thread_id"])
    assert state["next"] == ["ask"] and state["tasks"][0]["interrupts"][0]["value"] == {"question": "sure?"}
    resumed = await collect(client.runs.stream(thread["thread_id"], "asking", command={"resume": "yes"}, stream_mode="updates"))
    assert [c.data for c in resumed[1:]] == [{"ask": {"answer": "yes"}}, {"finish": {"answer": "yes (confirmed)"}}]
    after = await client.threads.get(thread["thread_id"])
    assert after["status"] == "idle" and after["interrupts"] == {}
    assert after["values"] == {"question": "sure?", "answer": "yes (confirmed)"}


async def test_wait_returns_interrupt(client):
    thread = await client.threads.create()
    result = await client.runs.wait(thread["thread_id"], "asking", input={"question": "ok?"})
    assert result["question"] == "ok?"
    assert result["__interrupt__"][0]["value"] == {"question": "ok?"}
    resumed = await client.runs.wait(thread["thread_id"], "asking", command={"resume": "no"})
    assert resumed == {"question": "ok?", "answer": "no (confirmed)"}


async def test_interrupt_before_and_after(client):
    thread = await client.threads.create()
    await client.runs.wait(thread["thread_id"], "agent", input={"topic": "a"}, interrupt_before=["generate_joke"])
    state = await client.threads.get_state(thread["thread_id"])
    assert state["next"] == ["generate_joke"] and state["values"] == {"topic": "a and cats"}
    assert (await client.threads.get(thread["thread_id"]))["status"] == "interrupted"
    final = await client.runs.wait(thread["thread_id"], "agent", input=None)
    assert final["joke"] == "This is a joke about a and cats"
    other = await client.threads.create()
    chunks = await collect(client.runs.stream(other["thread_id"], "agent", input={"topic": "b"}, stream_mode="updates", interrupt_after=["refine_topic"]))
    assert [c.data for c in chunks[1:]] == [{"refine_topic": {"topic": "b and cats"}}, {"__interrupt__": []}]


async def test_command_goto_and_update(client):
    thread = await client.threads.create()
    await client.runs.wait(thread["thread_id"], "agent", input={"topic": "a"})
    result = await client.runs.wait(thread["thread_id"], "agent", command={"update": {"topic": "zebras"}, "goto": "generate_joke"})
    assert result["joke"] == "This is a joke about zebras"


async def test_copy_thread(client):
    thread = await client.threads.create(metadata={"k": "v"})
    await client.runs.wait(thread["thread_id"], "agent", input={"topic": "cats"})
    copy = await client.threads.copy(thread["thread_id"])
    assert copy["thread_id"] != thread["thread_id"]
    state = await client.threads.get_state(copy["thread_id"])
    assert state["values"]["joke"] == "This is a joke about cats and cats"
    assert state["checkpoint"]["thread_id"] == copy["thread_id"]
    history = await client.threads.get_history(copy["thread_id"], limit=10)
    assert len(history) == 4


async def test_prune_threads(client, http):
    keep = await client.threads.create()
    gone = await client.threads.create()
    for tid in (keep["thread_id"], gone["thread_id"]):
        await client.runs.wait(tid, "agent", input={"topic": "p"})
    res = await http.post("/threads/prune", json={"thread_ids": [keep["thread_id"]], "strategy": "keep_latest"})
    assert res.json() == {"pruned_count": 1}
    history = await client.threads.get_history(keep["thread_id"], limit=10)
    assert len(history) == 1 and history[0]["values"]["joke"] == "This is a joke about p and cats"
    res = await http.post("/threads/prune", json={"thread_ids": [gone["thread_id"]]})
    assert res.json() == {"pruned_count": 1}
    assert (await http.get(f"/threads/{gone['thread_id']}")).status_code == 404
    assert (await http.post("/threads/prune", json={"thread_ids": ["x"]})).status_code == 422
