"""LmdbSaver: the official conformance suite, plus real graphs run through it.

Async tests use `asyncio.run` directly, so no pytest async plugin is needed (the
checkpointer is driven by LangGraph on an asyncio loop in the server too).
"""

from __future__ import annotations

import asyncio
import operator
import threading
import uuid
from typing import Annotated, Any

import lmdb
import pytest
from langgraph.channels.delta import DeltaChannel
from langgraph.checkpoint.base import Checkpoint, empty_checkpoint
from langgraph.checkpoint.base.id import uuid6
from langgraph.checkpoint.conformance import checkpointer_test, validate
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.checkpoint.serde.types import ERROR, INTERRUPT
from langgraph.graph import END, START, StateGraph
from langgraph.types import Command, Send, interrupt
from typing_extensions import TypedDict

from trioserver.storage.checkpointer import LmdbSaver
from trioserver.storage.env import Store


@pytest.fixture
def saver(tmp_path):
    s = LmdbSaver.open(str(tmp_path / "db"))
    yield s
    s.close()


def _checkpoint(values: dict[str, Any] | None = None, version: int = 1) -> Checkpoint:
    cp = empty_checkpoint()
    cp["id"] = str(uuid6(clock_seq=-1))
    cp["channel_values"] = dict(values or {})
    cp["channel_versions"] = {k: version for k in values or {}}
    return cp


def _put_chain(saver: LmdbSaver, thread_id: str, n: int, ns: str = "") -> list[dict]:
    """n checkpoints, each the parent of the next; returns their configs, oldest first."""
    configs, parent = [], None
    for i in range(n):
        conf = {"thread_id": thread_id, "checkpoint_ns": ns}
        if parent:
            conf["checkpoint_id"] = parent["configurable"]["checkpoint_id"]
        cp = _checkpoint({"step": i}, version=i + 1)
        parent = saver.put({"configurable": conf}, cp, {"source": "loop", "step": i}, cp["channel_versions"])
        configs.append(parent)
    return configs


def _prefixed(env: lmdb.Environment, name: bytes, prefix: bytes) -> list[bytes]:
    db = env.open_db(name)
    with env.begin(db=db) as txn:
        return [k for k, _ in txn.cursor() if k.startswith(prefix)]


# -- conformance --------------------------------------------------------------------


def test_conformance_suite(tmp_path):
    counter = iter(range(1000))

    @checkpointer_test(name="LmdbSaver")
    async def lmdb_checkpointer():
        s = LmdbSaver.open(str(tmp_path / f"conf-{next(counter)}"))
        yield s
        s.close()

    report = asyncio.run(validate(lmdb_checkpointer))
    report.print_report()
    results = report.to_dict()["results"]
    # Every capability, base and extended, is implemented and runs: nothing skipped.
    assert {name for name, r in results.items() if r["detected"]} == set(results), results
    failures = {name: r["failures"] for name, r in results.items() if r["failures"]}
    assert not failures, failures
    assert report.conformance_level() == "FULL"
    assert sum(r["tests_passed"] for r in results.values()) >= 80


# -- storage behaviour --------------------------------------------------------------


def test_reopen_keeps_checkpoints_writes_and_values(tmp_path):
    path = str(tmp_path / "db")
    saver = LmdbSaver.open(path)
    configs = _put_chain(saver, "t1", 3)
    saver.put_writes(configs[-1], [("ch", {"x": 1}), (INTERRUPT, "why")], "task-1", "a:b")
    saver.close()

    saver = LmdbSaver.open(path)
    tup = saver.get_tuple({"configurable": {"thread_id": "t1"}})
    assert tup is not None
    assert tup.config == configs[-1]
    assert tup.checkpoint["channel_values"] == {"step": 2}
    assert tup.parent_config == configs[-2]
    assert sorted(tup.pending_writes) == sorted([("task-1", "ch", {"x": 1}), ("task-1", INTERRUPT, "why")])
    assert [t.checkpoint["channel_values"]["step"] for t in saver.list({"configurable": {"thread_id": "t1"}})] == [2, 1, 0]
    saver.close()


def test_list_newest_first_with_before_limit_filter(saver):
    configs = _put_chain(saver, "t1", 5)
    _put_chain(saver, "t2", 2)
    ids = [c["configurable"]["checkpoint_id"] for c in configs]
    thread = {"configurable": {"thread_id": "t1", "checkpoint_ns": ""}}

    listed = [t.checkpoint["id"] for t in saver.list(thread)]
    assert listed == ids[::-1]
    assert [t.checkpoint["id"] for t in saver.list(thread, limit=2)] == ids[:2:-1][:2]
    assert [t.checkpoint["id"] for t in saver.list(thread, before=configs[3], limit=2)] == [ids[2], ids[1]]
    assert [t.metadata["step"] for t in saver.list(thread, filter={"step": 3})] == [3]
    # No namespace given: every namespace of the thread, still newest first.
    _put_chain(saver, "t1", 1, ns="child:1")
    all_ns = list(saver.list({"configurable": {"thread_id": "t1"}}))
    assert len(all_ns) == 6 and all_ns[0].config["configurable"]["checkpoint_ns"] == "child:1"
    # No config: every thread.
    assert len(list(saver.list(None))) == 8
    assert len(list(saver.list(None, limit=3))) == 3


def test_pending_writes_order_and_special_channels(saver):
    config = _put_chain(saver, "t1", 1)[0]
    saver.put_writes(config, [("b", 1), ("a", 2)], "task-z", "path-1")
    saver.put_writes(config, [("c", 3)], "task-a", "path-2")
    saver.put_writes(config, [("b", 99)], "task-z", "path-1")  # regular slot: kept as is
    saver.put_writes(config, [(ERROR, "first")], "task-a", "path-2")
    saver.put_writes(config, [(ERROR, "second")], "task-a", "path-2")  # special slot: replaced
    writes = saver.get_tuple(config).pending_writes
    assert writes == [("task-z", "b", 1), ("task-z", "a", 2), ("task-a", ERROR, "second"), ("task-a", "c", 3)]


def test_delete_thread_removes_writes_and_blobs(saver):
    configs = _put_chain(saver, "t1", 2)
    saver.put_writes(configs[-1], [("ch", "v")], "task-1")
    _put_chain(saver, "t1", 1, ns="child:1")
    keep = _put_chain(saver, "t2", 1)
    saver.put_writes(keep[0], [("ch", "v")], "task-2")

    saver.delete_thread("t1")

    assert saver.get_tuple({"configurable": {"thread_id": "t1"}}) is None
    for name in (b"checkpoints", b"checkpoint_writes", b"checkpoint_blobs"):
        assert _prefixed(saver.store.env, name, b"t1\x00") == [], name
        assert _prefixed(saver.store.env, name, b"t2\x00") != [], name
    assert saver.get_tuple(keep[0]).pending_writes == [("task-2", "ch", "v")]


def test_delete_for_runs_uses_run_index_and_drops_unused_blobs(saver):
    thread = {"configurable": {"thread_id": "t1", "checkpoint_ns": ""}}
    cp1 = _checkpoint({"a": "one"})
    c1 = saver.put(thread, cp1, {"source": "loop", "step": 0, "run_id": "run-1"}, {"a": 1})
    cp2 = _checkpoint({"a": "two"})
    cp2["channel_versions"] = {"a": 2}
    c2 = saver.put({"configurable": {**c1["configurable"]}}, cp2, {"source": "loop", "step": 1, "run_id": "run-2"}, {"a": 2})

    saver.delete_for_runs(["run-2"])

    assert saver.get_tuple(c2) is None
    assert saver.get_tuple(thread).checkpoint["channel_values"] == {"a": "one"}
    assert _prefixed(saver.store.env, b"checkpoint_blobs", b"t1\x00") == [b"t1\x00\x00a\x001"]
    assert _prefixed(saver.store.env, b"checkpoint_runs", b"run-2\x00") == []


def test_prune_keep_latest_keeps_values_of_latest(saver):
    configs = _put_chain(saver, "t1", 4)
    saver.prune(["t1"])
    assert _prefixed(saver.store.env, b"checkpoint_blobs", b"t1\x00") == [b"t1\x00\x00step\x004"]
    assert [t.config for t in saver.list({"configurable": {"thread_id": "t1"}})] == [configs[-1]]
    assert saver.get_tuple(configs[-1]).checkpoint["channel_values"] == {"step": 3}


def test_shared_environment_and_map_growth(tmp_path):
    """The saver lives beside other named databases and grows a full map itself."""
    store = Store(str(tmp_path / "db"), map_size=256 << 10)
    env = store.env
    events = store.db("events")
    store.write_blocking(lambda txn: txn.put(b"e1", b"payload", db=events))
    saver = LmdbSaver(store)
    before = env.info()["map_size"]

    configs, parent = [], None
    for i in range(12):  # ~1.2 MB of values in a 256 KiB map
        conf = {"thread_id": "big", "checkpoint_ns": ""}
        if parent:
            conf["checkpoint_id"] = parent["configurable"]["checkpoint_id"]
        cp = _checkpoint({"blob": bytes([i]) * 100_000})
        cp["channel_versions"] = {"blob": saver.get_next_version(None if i == 0 else f"{i:032}.0", None)}
        parent = saver.put({"configurable": conf}, cp, {"step": i}, cp["channel_versions"])
        configs.append(parent)

    assert env.info()["map_size"] > before
    assert saver.get_tuple(configs[0]).checkpoint["channel_values"]["blob"] == bytes([0]) * 100_000
    assert saver.get_tuple(configs[-1]).checkpoint["channel_values"]["blob"] == bytes([11]) * 100_000
    with env.begin(db=events) as txn:
        assert txn.get(b"e1") == b"payload"
    saver.close()  # not ours: the env stays open
    with env.begin(db=events) as txn:
        assert txn.get(b"e1") == b"payload"
    env.close()


def test_nul_in_thread_id_is_rejected(saver):
    with pytest.raises(ValueError):
        saver.put({"configurable": {"thread_id": "a\x00b", "checkpoint_ns": ""}}, _checkpoint(), {}, {})


# -- real graphs --------------------------------------------------------------------


class State(TypedDict):
    items: Annotated[list[str], operator.add]


def _accumulating_graph(saver: LmdbSaver):
    builder = StateGraph(State)
    builder.add_node("first", lambda s: {"items": [f"first{len(s['items'])}"]})
    builder.add_node("second", lambda s: {"items": ["second"]})
    builder.add_edge(START, "first")
    builder.add_edge("first", "second")
    builder.add_edge("second", END)
    return builder.compile(checkpointer=saver)


def test_graph_sync_state_accumulates_and_history(tmp_path):
    path = str(tmp_path / "db")
    saver = LmdbSaver.open(path)
    graph = _accumulating_graph(saver)
    config = {"configurable": {"thread_id": str(uuid.uuid4())}}

    assert graph.invoke({"items": ["a"]}, config)["items"] == ["a", "first1", "second"]
    out = graph.invoke({"items": ["b"]}, config)
    assert out["items"] == ["a", "first1", "second", "b", "first4", "second"]

    history = list(graph.get_state_history(config))
    # Per run: the input checkpoint, then one per step (start, first, second).
    assert [h.metadata["step"] for h in history] == [6, 5, 4, 3, 2, 1, 0, -1]
    assert [h.next for h in history[:4]] == [(), ("second",), ("first",), ("__start__",)]
    assert history[0].values == out
    assert history[-1].values == {"items": []}
    assert [h.values for h in graph.get_state_history(config, limit=2)] == [history[0].values, history[1].values]
    saver.close()

    # Durable: a fresh process sees the same state.
    saver = LmdbSaver.open(path)
    graph = _accumulating_graph(saver)
    assert graph.get_state(config).values == out
    assert graph.invoke({"items": ["c"]}, config)["items"][-3:] == ["c", "first7", "second"]
    saver.close()


def test_graph_async_state_accumulates_and_history(saver):
    graph = _accumulating_graph(saver)
    config = {"configurable": {"thread_id": str(uuid.uuid4())}}

    async def main():
        await graph.ainvoke({"items": ["a"]}, config)
        out = await graph.ainvoke({"items": ["b"]}, config)
        history = [h async for h in graph.aget_state_history(config)]
        return out, history

    out, history = asyncio.run(main())
    assert out["items"] == ["a", "first1", "second", "b", "first4", "second"]
    assert len(history) == 8 and history[0].values == out
    ids = [h.config["configurable"]["checkpoint_id"] for h in history]
    assert ids == sorted(ids, reverse=True)


def test_graph_time_travel_fork_keeps_original_branch(saver):
    """Forking reuses channel versions from the fork point; the random version suffix
    keeps the fork's blobs from overwriting the original branch's."""
    graph = _accumulating_graph(saver)
    config = {"configurable": {"thread_id": "fork"}}
    original = graph.invoke({"items": ["a"]}, config)
    after_first = next(h for h in graph.get_state_history(config) if h.next == ("second",))

    fork = graph.update_state(after_first.config, {"items": ["forked"]})
    forked = graph.invoke(None, fork)
    assert forked["items"] == ["a", "first1", "forked", "second"]
    assert graph.get_state(config).values == forked
    original_tail = [h for h in graph.get_state_history(config) if h.config != fork and h.next == ()]
    assert original in [h.values for h in original_tail]


def _interrupt_graph(saver: LmdbSaver):
    def ask(state: State) -> dict:
        answer = interrupt({"question": "name?"})
        return {"items": [f"hello {answer}"]}

    builder = StateGraph(State)
    builder.add_node("ask", ask)
    builder.add_edge(START, "ask")
    return builder.compile(checkpointer=saver)


def test_interrupt_and_resume_sync(saver):
    graph = _interrupt_graph(saver)
    config = {"configurable": {"thread_id": "i-sync"}}
    first = graph.invoke({"items": []}, config)
    assert first["__interrupt__"][0].value == {"question": "name?"}
    assert graph.get_state(config).next == ("ask",)
    assert graph.invoke(Command(resume="Ada"), config)["items"] == ["hello Ada"]
    assert graph.get_state(config).next == ()


def test_interrupt_and_resume_async_in_subgraph(saver):
    """The interrupt happens inside a subgraph, so it round-trips a child namespace."""

    def run(checkpointer):
        inner = _interrupt_graph(None)  # type: ignore[arg-type]
        builder = StateGraph(State)
        builder.add_node("inner", inner)
        builder.add_edge(START, "inner")
        graph = builder.compile(checkpointer=checkpointer)
        config = {"configurable": {"thread_id": "i-async"}}

        async def main():
            first = await graph.ainvoke({"items": ["x"]}, config)
            state = await graph.aget_state(config, subgraphs=True)
            resumed = await graph.ainvoke(Command(resume="Grace"), config)
            return first, state, resumed

        return asyncio.run(main())

    first, state, resumed = run(saver)
    assert first["__interrupt__"][0].value == {"question": "name?"}
    assert state.tasks[0].state.next == ("ask",)
    assert state.tasks[0].state.config["configurable"]["checkpoint_ns"].startswith("inner:")
    # The subgraph shares the parent's `operator.add` key, so its whole state is appended.
    assert resumed["items"] == ["x", "x", "hello Grace"]
    assert resumed == run(InMemorySaver())[2]


def test_parallel_sends_match_in_memory_saver(saver):
    """Fan-out writes are replayed in the same order as with InMemorySaver."""

    def fan_out(state: State) -> list[Send]:
        return [Send("work", {"items": [str(i)]}) for i in range(5)]

    def run(checkpointer) -> tuple[list[str], list[str]]:
        builder = StateGraph(State)
        builder.add_node("work", lambda s: {"items": [f"w{s['items'][0]}"]})
        builder.add_conditional_edges(START, fan_out, ["work"])
        graph = builder.compile(checkpointer=checkpointer)
        config = {"configurable": {"thread_id": "fan"}}
        out = graph.invoke({"items": []}, config)
        out2 = graph.invoke({"items": ["again"]}, config)
        return out["items"], out2["items"]

    assert run(saver) == run(InMemorySaver())


class DeltaState(TypedDict):
    log: Annotated[list[str], DeltaChannel(lambda state, writes: state + [w for ws in writes for w in ws], snapshot_frequency=3)]


def _delta_graph(checkpointer, fail: dict[str, bool]):
    def c(state: DeltaState) -> dict:
        if fail["on"]:
            raise RuntimeError("boom")
        return {"log": ["c"]}

    builder = StateGraph(DeltaState)
    builder.add_node("a", lambda s: {"log": [f"a{len(s['log'])}"]})
    builder.add_node("b", lambda s: {"log": [f"b{len(s['log'])}"]})
    builder.add_node("c", c)
    builder.add_edge(START, "a")
    builder.add_edge("a", "b")
    builder.add_edge("b", "c")
    return builder.compile(checkpointer=checkpointer)


def test_delta_channel_matches_in_memory_saver_and_survives_prune(saver):
    config = {"configurable": {"thread_id": "delta"}}
    fail = {"on": False}
    results = {}
    for name, checkpointer in (("lmdb", saver), ("memory", InMemorySaver())):
        graph = _delta_graph(checkpointer, fail)
        for turn in range(4):
            graph.invoke({"log": [f"in{turn}"]}, config)
        results[name] = graph.get_state(config).values
    assert results["lmdb"] == results["memory"]
    assert len(results["lmdb"]["log"]) == 16

    # A failed run leaves a latest checkpoint with no stored value for the delta
    # channel: it is rebuilt from ancestors, which prune must therefore keep.
    graph = _delta_graph(saver, fail)
    fail["on"] = True
    with pytest.raises(RuntimeError):
        graph.invoke({"log": ["in4"]}, config)
    assert "log" not in saver.get_tuple(config).checkpoint["channel_values"]
    state = graph.get_state(config).values
    assert state["log"][-3:] == ["in4", "a17", "b18"]

    before = len(list(saver.list(config)))
    saver.prune(["delta"])
    kept = len(list(saver.list(config)))
    assert 1 < kept < before
    assert graph.get_state(config).values == state

    fail["on"] = False
    assert graph.invoke(None, config)["log"] == state["log"] + ["c"]


def test_graph_runs_while_another_thread_writes(saver):
    """The server's trio thread commits to the same env while the graph's asyncio loop
    (another thread) checkpoints: LMDB's writer lock serializes the two."""
    env = saver.store.env
    events = env.open_db(b"events")
    stop = threading.Event()

    def writer() -> None:
        i = 0
        while not stop.is_set():
            with env.begin(write=True, db=events) as txn:
                txn.put(f"{i:08}".encode(), b"x" * 100)
            i += 1

    t = threading.Thread(target=writer)
    t.start()
    try:
        graph = _accumulating_graph(saver)

        async def main():
            return await asyncio.gather(
                *(graph.ainvoke({"items": [str(n)]}, {"configurable": {"thread_id": f"c{n}"}}) for n in range(10))
            )

        outs = asyncio.run(main())
    finally:
        stop.set()
        t.join()
    assert [o["items"] for o in outs] == [[str(n), "first1", "second"] for n in range(10)]
    with env.begin(db=events) as txn:
        assert txn.stat(events)["entries"] > 0
