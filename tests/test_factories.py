"""Graph factories called the way the reference calls them: with the config, a
`ServerRuntime` (why the graph is needed, for whom, the store and a run's context), or
both; returning a graph, a StateGraph, or a context manager kept open while the graph is
used. Driven with the official SDK as a custom-auth user (tests/graphs/factorygraphs.py)."""

from __future__ import annotations

import os
from types import SimpleNamespace

import pytest
from authsupport import ROOT, user_client
from serverproc import ServerProcess

from trioserver.ids import graph_assistant_id

pytestmark = pytest.mark.anyio

FACTORIES = ROOT / "tests" / "graphs" / "langgraph.factories.json"
ALICE = "alice-token"


@pytest.fixture(scope="module")
def factory_server(tmp_path_factory):
    """Our server; TRIOSERVER_FACTORY_TEST_URL points the tests at another one serving the
    same config (the reference, say)."""
    other = os.environ.get("TRIOSERVER_FACTORY_TEST_URL")
    if other:
        yield SimpleNamespace(url=other.rstrip("/"))
        return
    proc = ServerProcess(tmp_path_factory.mktemp("factories") / "data", config=FACTORIES).start()
    yield proc
    proc.stop()


@pytest.fixture
async def alice(factory_server):
    client = user_client(factory_server.url, ALICE)
    yield client
    await client.http.client.aclose()


def _use(access: str, *, context=None, tag=None) -> dict:
    return {"access": access, "user": "alice", "context": context, "store": True, "tag": tag, "open": 1}


async def _recorded(client, access: str) -> dict:
    item = await client.store.get_item(["alice", "factory"], access)
    assert item is not None, f"the factory was not called for {access}"
    return item["value"]


async def test_a_factory_with_config_and_runtime_sees_each_use(alice):
    thread = await alice.threads.create()
    first = await alice.runs.wait(thread["thread_id"], "runtime_cm", input={"topic": "a"}, context={"k": "v"})
    assert first["seen"] == _use("threads.create_run", context={"k": "v"})

    state = await alice.threads.get_state(thread["thread_id"])
    assert state["values"]["seen"] == first["seen"]
    assert await _recorded(alice, "threads.read") == _use("threads.read")

    await alice.threads.update_state(thread["thread_id"], {"topic": "b"}, as_node="report")
    assert await _recorded(alice, "threads.update") == _use("threads.update")

    drawn = await alice.assistants.get_graph("runtime_cm")
    report = next(node for node in drawn["nodes"] if node["id"] == "report")
    assert report["metadata"]["seen"] == _use("assistants.read")
    schemas = await alice.assistants.get_schemas(graph_assistant_id("runtime_cm"))  # the reference takes only its UUID here
    assert "seen" in schemas["state_schema"]["properties"]

    # Every earlier use closed its graph: the next run's factory is the only one open. (A run
    # given no context gets its configurable as context, as in the reference.)
    second = await alice.runs.wait(thread["thread_id"], "runtime_cm", input={"topic": "c"}, config={"configurable": {"tag": "t2"}})
    assert second["seen"] == _use("threads.create_run", context={"tag": "t2"}, tag="t2")


async def test_a_factory_of_one_annotated_parameter_gets_the_runtime(alice):
    result = await alice.runs.wait(None, "runtime_only", input={"topic": "a"}, context={"n": 1})
    assert result["seen"] == {**_use("threads.create_run", context={"n": 1}), "tag": None}


async def test_a_sync_context_manager_factory_gets_the_config_and_is_closed_after_each_run(alice):
    thread = await alice.threads.create()
    for tag in ("s1", "s2"):
        result = await alice.runs.wait(thread["thread_id"], "sync_cm", input={"topic": tag}, config={"configurable": {"tag": tag}})
        assert result["seen"] == {"access": None, "user": None, "context": None, "store": False, "tag": tag, "open": 1}
