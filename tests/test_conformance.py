"""What the reference serves, key by key: LANGGRAPH_CONFIG, run config and user_id, thread
config, factories built with the assistant's config, versions, cancelling pending runs,
copies, supersteps, schemas, resource shapes, 404s and bodiless answers, storage.

Each test drives the conformance server (graphs and LANGGRAPH_CONFIG of the recording)
with the official SDK or raw httpx and compares with the reference's recorded answers
(`reference.probe`), ids and timestamps aside. Deliberate differences are asserted as
such (README.md lists them).
"""

from __future__ import annotations

import uuid

import httpx
import pytest
from langgraph_sdk import get_client
from reference import key_types, normalized, probe, recorded, without

SYSTEM_KEYS = ("config", "context", "metadata", "name", "version", "description")
SERVER_KEYS = {"langgraph_request_id", "__request_start_time_ms__", "run_id", "thread_id", "assistant_id", "checkpoint_id"}
MISSING = "00000000-0000-4000-8000-000000000000"


@pytest.fixture
async def client(conformance_url):
    client = get_client(url=conformance_url, api_key=None)
    yield client
    await client.http.client.aclose()


@pytest.fixture
async def http(conformance_url):
    async with httpx.AsyncClient(base_url=conformance_url, timeout=30) as http:
        yield http


def seen(values: dict) -> dict:
    """What the `seeconfig` graph saw, minus per-run values."""
    out = dict(values["seen"])
    out["configurable"] = {k: v for k, v in out["configurable"].items() if k not in SERVER_KEYS}
    out["metadata"] = {k: v for k, v in out["metadata"].items() if k in ("created_by", "graph_id", "assistant_id", "thread_id", "run_id")}
    return normalized(out)


@pytest.mark.anyio
async def test_langgraph_config_sets_system_assistants(client):
    for graph in ("agent", "seeconfig", "dynamic", "slow"):
        found = await client.assistants.search(graph_id=graph, metadata={"created_by": "system"})
        ours = [{k: a[k] for k in SYSTEM_KEYS} for a in found]
        assert ours == probe("p1", f"system_{graph}"), graph
    user_made = await client.assistants.create(graph_id="seeconfig")
    assert {k: user_made[k] for k in ("config", "context", "metadata", "name")} == probe("p1", "user_assistant_seeconfig")


@pytest.mark.anyio
async def test_runs_see_the_defaults_and_the_clients_values(client):
    cases = {
        "run_seeconfig_default": {},
        "run_seeconfig_override": {"config": {"configurable": {"greeting": "yo", "user_id": "client-user"}}},
        "run_seeconfig_ctx": {"context": {"ctxk": "w", "more": 2}},
    }
    for key, extra in cases.items():
        thread = await client.threads.create()
        values = await client.runs.wait(thread["thread_id"], "seeconfig", input={"x": 1}, **extra)
        assert seen(values) == seen(probe("p1", key)), key
    values = await client.runs.wait(None, "dynamic", input={"messages": ["input"]})
    assert values == probe("p1", "run_dynamic_sys")  # the factory built with LANGGRAPH_CONFIG's nodeName


@pytest.mark.anyio
async def test_user_id_precedence(client):
    thread = await client.threads.create()
    values = await client.runs.wait(thread["thread_id"], "agent", input={"topic": "x"}, config={"configurable": {"user_id": "alice"}})
    assert values == probe("p1", "user_id_client")
    metadata = (await client.threads.get_state(thread["thread_id"]))["metadata"]
    reference = probe("p1", "user_id_client_ckpt_meta")
    assert metadata["user_id"] == "alice" and metadata["model"] == reference["model"] and metadata["context"] == reference["context"]
    assert metadata["thread_id"] == thread["thread_id"]
    deliberate = {"langgraph_plan", "langgraph_api_version", "langgraph_api_url", "langgraph_version"}  # ours, see README
    assert {k: v for k, v in normalized(metadata).items() if k not in deliberate} == {k: v for k, v in normalized(reference).items() if k not in deliberate}
    owner = await client.assistants.create(graph_id="seeconfig", config={"configurable": {"user_id": "asst-user"}})
    for key, extra in (("user_id_assistant", {}), ("user_id_assistant_plus_client", {"config": {"configurable": {"user_id": "client2"}}})):
        thread = await client.threads.create()
        values = await client.runs.wait(thread["thread_id"], owner["assistant_id"], input={"x": 1}, **extra)
        assert seen(values) == seen(probe("p1", key)) | {"metadata": seen(values)["metadata"]}, key
        assert values["seen"]["configurable"]["user_id"] == probe("p1", key)["seen"]["configurable"]["user_id"]


@pytest.mark.anyio
async def test_run_resource_matches_the_reference(client, http):
    thread = await client.threads.create()
    created = (await http.post(f"/threads/{thread['thread_id']}/runs", json={"assistant_id": "seeconfig", "input": {"x": 1}})).json()
    reference = probe("p1", "run_obj_seeconfig")
    assert list(created) == list(reference)
    assert list(created["kwargs"]) == list(reference["kwargs"])
    assert without(created["kwargs"], "config") == without(reference["kwargs"], "config")
    config, ref_config = created["kwargs"]["config"], reference["kwargs"]["config"]
    assert list(config["configurable"]) == list(ref_config["configurable"])
    assert without(config, "configurable") == normalized(without(ref_config, "configurable")) | {"metadata": config["metadata"]}
    assert normalized(config["metadata"]) == normalized(ref_config["metadata"])
    assert created["metadata"] == {**reference["metadata"], "assistant_id": created["assistant_id"]}
    assert created["status"] in ("pending", "running")  # ours: "running" when it started at once (README)
    assert created["langsmith_session_name"] is None
    await client.runs.join(thread["thread_id"], created["run_id"])
    done = (await http.get(f"/threads/{thread['thread_id']}/runs/{created['run_id']}")).json()
    assert key_types(done) == probe("p4", "keytypes")["run(get, done)"]


@pytest.mark.anyio
async def test_thread_keeps_the_assistants_config(client):
    assistant = await client.assistants.create(graph_id="agent", config={"configurable": {"ak": 1}, "tags": ["at"]})
    thread = await client.threads.create()
    await client.runs.wait(thread["thread_id"], assistant["assistant_id"], input={"topic": "x"}, config={"configurable": {"rk": 2}, "tags": ["rt"]})
    assert (await client.threads.get(thread["thread_id"]))["config"] == probe("p7", "thread_config_after_user_assistant_run")
    thread = await client.threads.create()
    await client.runs.wait(thread["thread_id"], "slow", input={"delay": 0.01}, config={"configurable": {"rk": 2}})
    assert (await client.threads.get(thread["thread_id"]))["config"] == probe("p7", "thread_config_after_system_run")
    await client.threads.update_state(thread["thread_id"], {"log": ["u"]}, as_node="tock")
    metadata = (await client.threads.get_state(thread["thread_id"]))["metadata"]
    assert normalized(metadata) == normalized(probe("p7", "update_ckpt_meta"))


@pytest.mark.anyio
async def test_factories_are_built_with_the_assistants_config(client, http):
    """The reference's own JS test "dynamic graph": nodeName from the assistant's config."""

    async def nodes(assistant_id, thread_id=None, **kwargs):
        chunks = [c async for c in client.runs.stream(thread_id, assistant_id, input={"messages": ["input"]}, stream_mode="updates", **kwargs)]
        return [list(c.data) for c in chunks if c.event == "updates"]

    plain = await client.assistants.create(graph_id="dynamic")
    assert await nodes(plain["assistant_id"]) == probe("p2", "dyn_default")
    assert await nodes(plain["assistant_id"], config={"configurable": {"nodeName": "runtime"}}) == probe("p2", "dyn_runtime")
    named = await client.assistants.create(graph_id="dynamic", config={"configurable": {"nodeName": "assistant"}})
    thread = await client.threads.create(graph_id="dynamic")
    assert await nodes(named["assistant_id"], thread["thread_id"]) == probe("p2", "dyn_assistant")
    assert (await client.threads.get(thread["thread_id"]))["config"] == probe("p2", "dyn_thread_after")["config"]
    updated = await http.post(f"/threads/{thread['thread_id']}/state", json={"values": {"messages": "update"}, "as_node": "assistant"})
    assert updated.status_code == 200, updated.text
    state = await client.threads.get_state(thread["thread_id"])
    assert state["values"] == probe("p2", "dyn_state_after")
    assert without(normalized(state["metadata"]), "step") == without(normalized(probe("p2", "dyn_state_full")["body"]["metadata"]), "step")
    for key, assistant_id in (("dyn_graph_cfg_assistant", named["assistant_id"]), ("dyn_graph_default_assistant", plain["assistant_id"]), ("dyn_graph_system", "dynamic")):
        drawn = (await http.get(f"/assistants/{assistant_id}/graph")).json()
        assert drawn == probe("p2", key)["body"], key


@pytest.mark.anyio
async def test_assistant_versions_filter(client, http):
    assistant = await client.assistants.create(graph_id="agent", metadata={"tag": "a", "n": 1}, name="v")
    aid = assistant["assistant_id"]
    await client.assistants.update(aid, metadata={"tag": "b"})
    await client.assistants.update(aid, metadata={"tag": "a", "n": 3})
    await client.assistants.update(aid, config={"configurable": {"k": 4}})
    everything = (await http.post(f"/assistants/{aid}/versions", json={})).json()
    reference = probe("p1", "versions_all")["body"]
    assert [list(v) for v in everything] == [list(v) for v in reference]
    assert [without(v, "assistant_id", "created_at") for v in everything] == [without(v, "assistant_id", "created_at") for v in reference]
    for body in (
        {"metadata": {"tag": "a"}}, {"metadata": {"tag": "a"}, "limit": 1}, {"metadata": {"tag": "a"}, "limit": 1, "offset": 1},
        {"metadata": {"tag": "a"}, "offset": 2}, {"metadata": {"tag": "b"}}, {"limit": 2, "offset": 1}, {"metadata": {"n": 1}}, {"metadata": {}},
    ):  # fmt: skip
        import json

        answer = await http.post(f"/assistants/{aid}/versions", json=body)
        assert [[v["version"], v["metadata"]] for v in answer.json()] == probe("p1", "versions " + json.dumps(body)), body
    nothing = await http.post(f"/assistants/{aid}/versions", json={"metadata": {"tag": "zzz"}})
    assert nothing.status_code == 404 and nothing.json() == {"detail": f"Assistant {aid} not found"}
    assert (await http.post(f"/assistants/{aid}/versions", json={"limit": 0})).status_code == 422
    assert [v["version"] for v in await client.assistants.get_versions(aid, metadata={"tag": "a"}, limit=2)] == probe("p1", "versions_sdk_filter")


@pytest.mark.anyio
async def test_cancelling_a_pending_run(client, http):
    for _ in range(5):  # the reference's "pending_after_get" race, five times
        thread = await client.threads.create()
        run = await client.runs.create(thread["thread_id"], "agent", input={"topic": "x"}, after_seconds=30)
        assert run["status"] == "pending"
        answer = await http.post(f"/threads/{thread['thread_id']}/runs/{run['run_id']}/cancel")
        assert (answer.status_code, answer.content, answer.headers.get("content-type"), answer.headers.get("content-length")) == (202, b"", None, "0")
        assert (await client.runs.get(thread["thread_id"], run["run_id"]))["status"] == "interrupted"
        assert [r["run_id"] for r in await client.runs.list(thread["thread_id"], status="interrupted")] == [run["run_id"]]
    after = await client.threads.get(thread["thread_id"])
    assert list(after) == list(probe("p1", "thread_after_cancel_pending")) and after["status"] == "idle"
    thread = await client.threads.create()
    run = await client.runs.create(thread["thread_id"], "agent", input={"topic": "x"}, after_seconds=30)
    waited = await http.post(f"/threads/{thread['thread_id']}/runs/{run['run_id']}/cancel?wait=true")
    assert (waited.status_code, waited.json()) == (200, {})
    assert waited.headers["location"] == f"/threads/{thread['thread_id']}/runs/{run['run_id']}/join"
    run = await client.runs.create(thread["thread_id"], "agent", input={"topic": "x"}, after_seconds=30)
    rolled = await http.post(f"/threads/{thread['thread_id']}/runs/{run['run_id']}/cancel?action=rollback")
    assert rolled.status_code == 202
    assert (await http.get(f"/threads/{thread['thread_id']}/runs/{run['run_id']}")).status_code == 404
    run = await client.runs.create(thread["thread_id"], "agent", input={"topic": "x"}, after_seconds=30)
    bulk = await http.post("/runs/cancel", json={"thread_id": thread["thread_id"], "run_ids": [run["run_id"]]})
    assert (bulk.status_code, bulk.content, bulk.headers.get("content-type")) == (204, b"", None)
    assert (await client.runs.get(thread["thread_id"], run["run_id"]))["status"] == "interrupted"


@pytest.mark.anyio
async def test_copied_threads(client):
    source = await client.threads.create(metadata={"owner": "me"})
    await client.runs.wait(source["thread_id"], "agent", input={"topic": "x"})
    await client.threads.update_state(source["thread_id"], {"topic": "y"}, as_node="refine_topic")
    copy = await client.threads.copy(source["thread_id"])
    reference = probe("p2", "copy_resp")
    assert list(copy) == [*reference, "values"] and copy["values"] is None  # ours shows values: null (README)
    assert without(normalized(copy), "values") == normalized(reference)
    original, copied = await client.threads.get_state(source["thread_id"]), await client.threads.get_state(copy["thread_id"])
    for key in ("values", "next", "tasks", "created_at", "checkpoint_id", "parent_checkpoint_id", "interrupts"):
        assert copied[key] == original[key], key
    assert copied["checkpoint"]["thread_id"] == copy["thread_id"] and copied["metadata"]["thread_id"] == copy["thread_id"]
    assert without(copied["metadata"], "thread_id") == without(original["metadata"], "thread_id")
    history = await client.threads.get_history(copy["thread_id"], limit=20)
    assert all(s["metadata"].get("thread_id") in (None, copy["thread_id"]) for s in history)
    assert normalized(history[0]["metadata"]) == normalized(probe("p2", "hist_copy_meta")[0])
    empty = await client.threads.copy((await client.threads.create(metadata={"a": 1}))["thread_id"])
    assert without(normalized(empty), "values") == normalized(probe("p2", "copy_empty"))


@pytest.mark.anyio
async def test_supersteps_rebuild_a_history(client, http):
    def shape(history):
        return [{"next": s["next"], "values": s["values"], "meta": {k: s["metadata"].get(k) for k in ("source", "step")}} for s in history]

    steps = [
        {"updates": [{"values": {"topic": "x"}, "as_node": "__input__"}]},
        {"updates": [{"values": {"topic": "x"}, "as_node": "__start__"}]},
        {"updates": [{"values": {"topic": "x and cats"}, "as_node": "refine_topic"}]},
        {"updates": [{"values": {"joke": "This is a joke about x and cats"}, "as_node": "generate_joke"}]},
    ]
    created = await http.post("/threads", json={"metadata": {"graph_id": "agent"}, "supersteps": steps})
    assert created.status_code == 200
    assert normalized(created.json()) == normalized(probe("p2", "supersteps_create")["body"])
    history = await client.threads.get_history(created.json()["thread_id"], limit=50)
    assert shape(history) == probe("p2", "supersteps_hist")
    source = await client.threads.create()
    await client.runs.wait(source["thread_id"], "agent", input={"topic": "x"})
    assert [(s["next"], s["values"]) for s in shape(history)] == [(s["next"], s["values"]) for s in shape(await client.threads.get_history(source["thread_id"], limit=50))]
    for key, body in (
        ("supersteps_no_graph", {"supersteps": [{"updates": [{"values": {"topic": "x"}, "as_node": "refine_topic"}]}]}),
        ("supersteps_bad_node", {"metadata": {"graph_id": "agent"}, "supersteps": [{"updates": [{"values": {"topic": "x"}, "as_node": "nope"}]}]}),
        ("supersteps_two_in_one", {"metadata": {"graph_id": "agent"}, "supersteps": [{"updates": [{"values": {"topic": "x"}, "as_node": "refine_topic"}, {"values": {"joke": "j"}, "as_node": "generate_joke"}]}]}),
    ):
        answer = await http.post("/threads", json=body)
        reference = probe("p2", key)
        assert answer.status_code == reference["status"], key
        assert normalized(answer.json()) == normalized(reference["body"]), key
    # Ours applies a `command` update; the reference answers 500 (README).
    command = {"metadata": {"graph_id": "agent"}, "supersteps": [{"updates": [{"values": {"topic": "x"}, "as_node": "refine_topic"}]}, {"updates": [{"command": {"update": {"joke": "j"}}, "as_node": "generate_joke"}]}]}
    answer = await http.post("/threads", json=command)
    assert answer.status_code == 200 and answer.json()["values"] == {"topic": "x", "joke": "j"}


@pytest.mark.anyio
async def test_schemas_of_every_graph(http):
    reference = recorded("schemas")
    found = (await http.post("/assistants/search", json={"limit": 100, "metadata": {"created_by": "system"}})).json()
    system = {a["graph_id"]: a["assistant_id"] for a in found}
    for graph in ("agent", "subgraph", "llm", "custom", "chat", "slow", "failing", "asking", "chatty", "memory", "dynamic", "seeconfig"):
        assert (await http.get(f"/assistants/{system[graph]}/schemas")).json() == reference[graph], graph
    for key, path in (("_subgraphs_subgraph", "subgraphs?recurse=true"), ("_subgraphs_subgraph_ns", "subgraphs/node_2")):
        answer = await http.get(f"/assistants/{system['subgraph']}/{path}")
        assert answer.json() == reference[key]["body"], key


@pytest.mark.anyio
async def test_resource_keys(client, http):
    reference = probe("p4", "keytypes")
    ours = {}
    assistant = (await http.post("/assistants", json={"graph_id": "agent", "metadata": {"m": 1}})).json()
    ours["assistant(create)"] = key_types(assistant)
    ours["assistant_version(item)"] = key_types((await http.post(f"/assistants/{assistant['assistant_id']}/versions", json={})).json()[0])
    thread = (await http.post("/threads", json={})).json()
    ours["thread(new)"] = key_types(thread)
    ours["thread(new, get)"] = key_types((await http.get(f"/threads/{thread['thread_id']}")).json())
    ours["thread(patch)"] = key_types((await http.patch(f"/threads/{thread['thread_id']}", json={"metadata": {"p": 1}})).json())
    run = (await http.post(f"/threads/{thread['thread_id']}/runs", json={"assistant_id": "agent", "input": {"topic": "x"}})).json()
    ours["run(create)"] = key_types(run)
    ours["run.kwargs(create)"] = key_types(run["kwargs"])
    await client.runs.join(thread["thread_id"], run["run_id"])
    ours["run(list item)"] = key_types((await http.get(f"/threads/{thread['thread_id']}/runs")).json()[0])
    ours["thread(after run)"] = key_types((await http.get(f"/threads/{thread['thread_id']}")).json())
    state = (await http.get(f"/threads/{thread['thread_id']}/state")).json()
    ours["state"], ours["state.checkpoint"] = key_types(state), key_types(state["checkpoint"])
    ours["state update response"] = key_types((await http.post(f"/threads/{thread['thread_id']}/state", json={"values": {"topic": "z"}})).json())
    ours["run(stateless create)"] = key_types((await http.post("/runs", json={"assistant_id": "agent", "input": {"topic": "x"}})).json())
    cron = (await http.post("/runs/crons", json={"assistant_id": "agent", "schedule": "0 0 * * *", "input": {"topic": "x"}})).json()
    ours["cron(create)"], ours["cron.payload"] = key_types(cron), key_types(cron["payload"])
    await http.put("/store/items", json={"namespace": ["a", "b"], "key": "k", "value": {"v": 1}})
    ours["store item(get)"] = key_types((await http.get("/store/items", params={"namespace": "a.b", "key": "k"})).json())
    for name, types in ours.items():
        assert types == reference[name], name


@pytest.mark.anyio
async def test_not_found_answers(client, http):
    """The rows where the reference names the resource match; where it answers a bare
    "Not Found", ours names it too (README)."""
    reference = probe("p4", "404")
    thread = (await http.post("/threads", json={})).json()
    t = thread["thread_id"]
    assistant = (await http.post("/assistants", json={"graph_id": "agent"})).json()
    same = {
        "PATCH /assistants/{missing}": ("PATCH", f"/assistants/{MISSING}", {"json": {}}),
        "DELETE /assistants/{missing}": ("DELETE", f"/assistants/{MISSING}", {}),
        "POST /assistants/{missing}/versions": ("POST", f"/assistants/{MISSING}/versions", {"json": {}}),
        "POST /assistants/{id}/latest version 99": ("POST", f"/assistants/{assistant['assistant_id']}/latest", {"json": {"version": 99}}),
        "GET /threads/{missing}": ("GET", f"/threads/{MISSING}", {}),
        "DELETE /threads/{missing}": ("DELETE", f"/threads/{MISSING}", {}),
        "GET /threads/{missing}/state": ("GET", f"/threads/{MISSING}/state", {}),
        "POST /threads/{missing}/copy": ("POST", f"/threads/{MISSING}/copy", {}),
        "POST /threads/{missing}/runs": ("POST", f"/threads/{MISSING}/runs", {"json": {"assistant_id": "agent", "input": {}}}),
        "DELETE /threads/{t}/runs/{missing}": ("DELETE", f"/threads/{t}/runs/{MISSING}", {}),
        "POST /threads/{t}/runs/{missing}/cancel": ("POST", f"/threads/{t}/runs/{MISSING}/cancel", {}),
        "PATCH /runs/crons/{missing}": ("PATCH", f"/runs/crons/{MISSING}", {"json": {"schedule": "* * * * *"}}),
        "GET /runs/crons/abc": ("GET", "/runs/crons/abc", {}),
        "GET /threads/{missing}/storage": ("GET", f"/threads/{MISSING}/storage", {}),
        "DELETE /store/items missing": ("DELETE", "/store/items", {"json": {"namespace": ["zz"], "key": "nope"}}),
        "GET /nope": ("GET", "/nope", {}),
    }
    for label, (method, path, kwargs) in same.items():
        answer = await http.request(method, path, **kwargs)
        ref = reference[label]
        assert (answer.status_code, answer.headers.get("content-type")) == (ref["status"], ref["ctype"]), label
        if ref["status"] != 204:
            assert normalized(answer.json()) == normalized(ref["body"]), label
    named = {
        f"/assistants/{MISSING}": f"Assistant {MISSING} not found",
        f"/assistants/{MISSING}/schemas": f"Assistant {MISSING} not found",
        f"/runs/crons/{MISSING}": f"Cron '{MISSING}' not found",
    }
    for path, detail in named.items():
        answer = await http.get(path)
        assert (answer.status_code, answer.json()) == (404, {"detail": detail}), path
    deleted = await http.delete(f"/runs/crons/{MISSING}")
    assert deleted.json() == {"detail": f"Cron '{MISSING}' not found"}
    assert (await http.get("/")).json() == {"ok": True, "services": {}}


@pytest.mark.anyio
async def test_thread_storage(client, http):
    thread = await client.threads.create()
    await client.runs.wait(thread["thread_id"], "agent", input={"topic": "x"})
    storage = (await http.get(f"/threads/{thread['thread_id']}/storage")).json()
    reference = probe("p4", "404")["GET /threads/{t}/storage"]["body"]
    assert key_types(storage) == key_types(reference)
    assert list(storage["checkpoints"]) == ["count", "bytes"] and list(storage["pending_writes"]) == ["count", "bytes"]
    assert set(storage["channel_values"]["by_channel"]) == set(reference["channel_values"]["by_channel"])
    history = await client.threads.get_history(thread["thread_id"], limit=100)
    assert storage["checkpoints"]["count"] == len(history) and storage["checkpoints"]["bytes"] > 0
    assert storage["total_bytes"] == storage["checkpoints"]["bytes"] + storage["channel_values"]["bytes"] + storage["pending_writes"]["bytes"]
    assert storage["channel_values"]["by_channel"]["joke"] == reference["channel_values"]["by_channel"]["joke"]  # one version, the same bytes
    assert (await http.get("/threads/abc/storage")).status_code == 422
    assert str(uuid.UUID(storage["thread_id"])) == thread["thread_id"]
