"""LmdbStore (LangGraph's long-term memory store on LMDB) and the /store HTTP API.

Unit tests drive `LmdbStore` directly, including a differential test against
LangGraph's own `InMemoryStore` (hypothesis). Tests named `*http*` talk to a real server
with the official SDK. Async unit tests use `asyncio.run`, as the graph runtime does.
"""

from __future__ import annotations

import asyncio
import operator
import threading
import uuid
from datetime import UTC
from typing import Annotated, Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from langgraph.config import get_store
from langgraph.graph import END, START, StateGraph
from langgraph.store.base import (
    GetOp,
    InvalidNamespaceError,
    ListNamespacesOp,
    MatchCondition,
    PutOp,
    SearchOp,
)
from langgraph.store.memory import InMemoryStore
from typing_extensions import TypedDict

from trioserver.storage.env import Store
from trioserver.storage.kvstore import LmdbStore


def _open(path, map_size: int = 64 << 20) -> LmdbStore:
    return LmdbStore.open(str(path), map_size=map_size)


@pytest.fixture
def kv(tmp_path):
    store = _open(tmp_path / "db")
    yield store
    store.close()


def _keys(items) -> list[tuple[tuple[str, ...], str]]:
    return [(i.namespace, i.key) for i in items]


# -- get / put / delete ----------------------------------------------------------------------


def test_put_get_delete(kv):
    assert kv.get(("users", "u1"), "prefs") is None
    kv.put(("users", "u1"), "prefs", {"theme": "dark", "n": [1, 2], "nested": {"a": None}})
    item = kv.get(("users", "u1"), "prefs")
    assert item.namespace == ("users", "u1") and item.key == "prefs"
    assert item.value == {"theme": "dark", "n": [1, 2], "nested": {"a": None}}
    assert item.created_at == item.updated_at and item.created_at.tzinfo == UTC
    assert item.dict()["namespace"] == ["users", "u1"]
    kv.delete(("users", "u1"), "prefs")
    assert kv.get(("users", "u1"), "prefs") is None
    kv.delete(("users", "u1"), "prefs")  # deleting a missing item is fine
    kv.delete(("nobody",), "x")


def test_created_at_kept_updated_at_advances(kv):
    kv.put(("ns",), "k", {"v": 1})
    first = kv.get(("ns",), "k")
    kv.put(("ns",), "k", {"v": 2})
    second = kv.get(("ns",), "k")
    assert second.value == {"v": 2}
    assert second.created_at == first.created_at
    assert second.updated_at > first.updated_at
    kv.delete(("ns",), "k")
    kv.put(("ns",), "k", {"v": 3})
    assert kv.get(("ns",), "k").created_at > first.created_at  # a new item


def test_namespace_validation(kv):
    with pytest.raises(InvalidNamespaceError):
        kv.put((), "k", {"v": 1})
    with pytest.raises(InvalidNamespaceError):
        kv.put(("a.b",), "k", {"v": 1})
    with pytest.raises(InvalidNamespaceError):
        kv.put(("a", ""), "k", {"v": 1})
    with pytest.raises(InvalidNamespaceError):
        kv.put(("a\x00b",), "k", {"v": 1})
    with pytest.raises(InvalidNamespaceError):
        kv.put(("langgraph", "x"), "k", {"v": 1})
    with pytest.raises(InvalidNamespaceError):  # direct batch calls are checked too
        kv.batch([GetOp(("a.b",), "k")])
    with pytest.raises(InvalidNamespaceError):
        kv.batch([PutOp((), "k", {"v": 1})])


def test_ttl_accepted_on_ops_and_refused_by_put(kv):
    kv.batch([PutOp(("ns",), "k", {"v": 1}, ttl=5)])  # accepted, ignored
    assert kv.get(("ns",), "k").value == {"v": 1}
    with pytest.raises(NotImplementedError):
        kv.put(("ns",), "k", {"v": 1}, ttl=5)
    kv.put(("ns",), "k", {"v": 2}, ttl=None)


def test_odd_keys_and_labels(kv):
    keys = ["", "with\x00nul", "with\x01one", "ünïcødé 🎉", "slash/and.dot", "\xff"]
    for k in keys:
        kv.put(("ns", "ß"), k, {"k": k})
    for k in keys:
        assert kv.get(("ns", "ß"), k).value == {"k": k}
    assert sorted(i.key for i in kv.search(("ns",), limit=100)) == sorted(keys)
    assert kv.list_namespaces() == [("ns", "ß")]


def test_long_keys_and_namespaces(kv):
    """LMDB keys are capped at 511 bytes; longer ones are stored hashed, transparently."""
    long_key = "k" * 2000
    long_ns = ("a", "b" * 600)
    long_ns2 = ("a", "b" * 600 + "c")
    kv.put(("a",), long_key, {"v": 1})
    kv.put(("a",), long_key + "x", {"v": 2})
    kv.put(long_ns, "k", {"v": 3})
    kv.put(long_ns, long_key, {"v": 4})
    kv.put(long_ns2, "k", {"v": 5})
    assert kv.get(("a",), long_key).value == {"v": 1}
    assert kv.get(("a",), long_key + "x").value == {"v": 2}
    assert kv.get(("a",), long_key + "y") is None
    assert kv.get(long_ns, "k").value == {"v": 3}
    assert kv.get(long_ns, long_key).value == {"v": 4}
    assert kv.get(long_ns2, "k").value == {"v": 5}
    assert {i.value["v"] for i in kv.search(("a",), limit=100)} == {1, 2, 3, 4, 5}
    assert {i.value["v"] for i in kv.search(long_ns, limit=100)} == {3, 4}
    assert kv.list_namespaces() == [("a",), long_ns, long_ns2]
    assert kv.list_namespaces(max_depth=1) == [("a",)]
    kv.put(("a",), long_key, {"v": 10})
    assert kv.get(("a",), long_key).value == {"v": 10}
    kv.delete(long_ns, long_key)
    kv.delete(long_ns, "k")
    assert kv.get(long_ns, long_key) is None
    assert kv.list_namespaces() == [("a",), long_ns2]


def test_values_are_json(kv):
    kv.put(("ns",), "k", {"t": (1, 2), 3: "int key", "s": {"only"}})
    assert kv.get(("ns",), "k").value == {"t": [1, 2], "3": "int key", "s": ["only"]}
    with pytest.raises(TypeError):
        kv.put(("ns",), "bad", {"obj": object()})
    assert kv.get(("ns",), "bad") is None


# -- search -----------------------------------------------------------------------------------


def test_search_prefix_is_by_label(kv):
    kv.put(("a",), "1", {})
    kv.put(("a", "b"), "2", {})
    kv.put(("a", "b", "c"), "3", {})
    kv.put(("ab",), "4", {})
    kv.put(("a", "bc"), "5", {})
    assert sorted(i.key for i in kv.search(("a",))) == ["1", "2", "3", "5"]
    assert sorted(i.key for i in kv.search(("a", "b"))) == ["2", "3"]
    assert sorted(i.key for i in kv.search(("ab",))) == ["4"]
    assert sorted(i.key for i in kv.search(())) == ["1", "2", "3", "4", "5"]
    assert kv.search(("zzz",)) == []
    assert kv.search(("a", "*")) == []  # no wildcards in search prefixes, as InMemoryStore


def test_search_order_and_pages(kv):
    for i in range(7):
        kv.put(("docs", str(i % 2)), f"d{i}", {"i": i})
    kv.put(("docs", "0"), "d0", {"i": 0, "touched": True})  # now the most recent
    items = kv.search(("docs",), limit=100)
    assert [i.key for i in items] == ["d0", "d6", "d5", "d4", "d3", "d2", "d1"]
    assert all(i.score is None for i in items)
    assert all(a.updated_at >= b.updated_at for a, b in zip(items, items[1:]))
    assert [i.key for i in kv.search(("docs",), limit=3, offset=2)] == ["d5", "d4", "d3"]
    assert [i.key for i in kv.search(("docs",), limit=3, offset=6)] == ["d1"]
    assert kv.search(("docs",), offset=10) == []
    assert len(kv.search(("docs",))) == 7  # default limit 10
    # A query needs an embedding index: ignored, items come back unranked.
    assert [i.key for i in kv.search(("docs",), query="anything", limit=2)] == ["d0", "d6"]


def test_search_filters(kv):
    kv.put(("f",), "a", {"kind": "x", "n": 1, "meta": {"lang": "en", "v": 2}, "tags": ["p", "q"], "s": "5"})
    kv.put(("f",), "b", {"kind": "y", "n": 5, "meta": {"lang": "fr"}, "tags": ["p"]})
    kv.put(("f",), "c", {"kind": "x", "n": 10, "flag": None})
    kv.put(("f", "deep"), "d", {"kind": "x", "n": 7})

    def keys(flt, **kw):
        return sorted(i.key for i in kv.search(("f",), filter=flt, **kw))

    assert keys({"kind": "x"}) == ["a", "c", "d"]
    assert keys({"kind": "x", "n": 10}) == ["c"]
    assert keys({"n": {"$gt": 1}}) == ["b", "c", "d"]
    assert keys({"n": {"$gte": 5, "$lt": 10}}) == ["b", "d"]
    assert keys({"n": {"$lte": 5}}) == ["a", "b"]
    assert keys({"kind": {"$ne": "x"}}) == ["b"]
    assert keys({"kind": {"$eq": "y"}}) == ["b"]
    assert keys({"meta": {"lang": "en"}}) == ["a"]  # nested dicts: containment
    assert keys({"meta": {"v": {"$gt": 1}}}) == ["a"]
    assert keys({"tags": ["p"]}) == ["b"]  # lists: equal element-wise
    assert keys({"flag": None}) == ["a", "b", "c", "d"]  # missing is None, as InMemoryStore
    assert keys({"s": {"$gt": 4}}) == ["a"]  # numeric strings compare as numbers
    assert keys({"missing": {"$gt": 0}}) == []  # InMemoryStore would raise TypeError
    page = [i.key for i in kv.search(("f",), filter={"kind": "x"}, limit=2, offset=1)]
    full = [i.key for i in kv.search(("f",), filter={"kind": "x"})]
    assert page == full[1:3]
    with pytest.raises(ValueError, match="Unsupported operator"):
        kv.search(("f",), filter={"n": {"$regex": "x"}})
    with pytest.raises(ValueError, match="Unsupported operator"):
        kv.search(("nothing-here",), filter={"n": {"$in": [1]}})


# -- list_namespaces --------------------------------------------------------------------------


def test_list_namespaces(kv):
    for ns in [("a", "b", "c"), ("a", "b", "d", "e"), ("a", "b", "d", "i"), ("a", "b", "f"), ("a", "c", "f"), ("x",)]:
        kv.put(ns, "k", {"v": 1})
        kv.put(ns, "k2", {"v": 2})
    # The example from BaseStore.list_namespaces' docstring.
    assert kv.list_namespaces(prefix=("a", "b"), max_depth=3) == [("a", "b", "c"), ("a", "b", "d"), ("a", "b", "f")]
    assert kv.list_namespaces() == [
        ("a", "b", "c"), ("a", "b", "d", "e"), ("a", "b", "d", "i"), ("a", "b", "f"), ("a", "c", "f"), ("x",),
    ]
    assert kv.list_namespaces(suffix=("f",)) == [("a", "b", "f"), ("a", "c", "f")]
    assert kv.list_namespaces(prefix=("a", "*", "f")) == [("a", "b", "f"), ("a", "c", "f")]
    assert kv.list_namespaces(prefix=("*", "b")) == [("a", "b", "c"), ("a", "b", "d", "e"), ("a", "b", "d", "i"), ("a", "b", "f")]
    assert kv.list_namespaces(suffix=("d", "*")) == [("a", "b", "d", "e"), ("a", "b", "d", "i")]
    assert kv.list_namespaces(prefix=("a",), suffix=("f",), max_depth=2) == [("a", "b"), ("a", "c")]
    assert kv.list_namespaces(max_depth=1) == [("a",), ("x",)]
    assert kv.list_namespaces(limit=2, offset=1) == [("a", "b", "d", "e"), ("a", "b", "d", "i")]
    assert kv.list_namespaces(prefix=("nope",)) == []
    assert kv.list_namespaces(prefix=("a", "b", "c", "d")) == []
    # A namespace whose items are all deleted is gone.
    kv.delete(("x",), "k")
    assert ("x",) in kv.list_namespaces()
    kv.delete(("x",), "k2")
    assert ("x",) not in kv.list_namespaces()


# -- batches, async, persistence --------------------------------------------------------------


def test_batch_semantics(kv):
    kv.put(("b",), "k", {"v": 0})
    results = kv.batch([
        PutOp(("b",), "k", {"v": 1}),
        GetOp(("b",), "k"),  # reads see the store before the batch's puts, as InMemoryStore
        PutOp(("b",), "k", {"v": 2}),  # the last put of an item wins
        PutOp(("b",), "new", {"v": 3}),
        SearchOp(("b",), None, 10, 0),
        ListNamespacesOp((MatchCondition("prefix", ("b",)),), None, 100, 0),
        PutOp(("b", "gone"), "k", None),
    ])
    assert results[0] is None and results[2] is None and results[3] is None and results[6] is None
    assert results[1].value == {"v": 0}
    assert _keys(results[4]) == [(("b",), "k")]
    assert results[5] == [("b",)]
    assert kv.get(("b",), "k").value == {"v": 2}
    assert kv.get(("b",), "new").value == {"v": 3}
    with pytest.raises(ValueError):
        kv.batch([object()])


def test_async_api(kv):
    async def main():
        await kv.aput(("as",), "k", {"v": 1})
        assert (await kv.aget(("as",), "k")).value == {"v": 1}
        assert _keys(await kv.asearch(("as",))) == [(("as",), "k")]
        assert await kv.alist_namespaces() == [("as",)]
        await kv.adelete(("as",), "k")
        assert await kv.aget(("as",), "k") is None

    asyncio.run(main())


def test_reopen_persists(tmp_path):
    store = _open(tmp_path / "db")
    store.put(("p", "q"), "k", {"v": 1})
    store.put(("p",), "k2", {"v": 2})
    before = store.get(("p", "q"), "k")
    store.close()
    again = _open(tmp_path / "db")
    try:
        item = again.get(("p", "q"), "k")
        assert item == before  # value and both timestamps, to the microsecond
        assert again.list_namespaces() == [("p",), ("p", "q")]
        assert len(again.search(("p",))) == 2
    finally:
        again.close()


def test_shares_env_with_other_dbs(tmp_path):
    shared = Store(str(tmp_path / "db"))
    other = shared.db("threads")
    shared.write_blocking(lambda txn: txn.put(b"a\x00\x00x", b"not a store record", db=other))
    store = LmdbStore(shared)
    store.put(("a",), "x", {"v": 1})
    assert _keys(store.search(())) == [(("a",), "x")]
    assert b"store_items" in [k for k, _ in shared.env.begin().cursor()]  # its own named db
    shared.close()


def test_map_grows(tmp_path):
    store = _open(tmp_path / "db", map_size=256 << 10)
    blob = "x" * 8000
    for i in range(200):  # ~1.6 MB into a 256 KiB map
        store.put(("big",), str(i), {"blob": blob})
    assert len(store.search(("big",), limit=1000)) == 200
    assert store.store.env.info()["map_size"] > 256 << 10
    store.close()


def test_concurrent_threads(kv):
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            for i in range(50):
                kv.put(("t", str(n)), str(i), {"n": n, "i": i})
                assert kv.get(("t", str(n)), str(i)).value == {"n": n, "i": i}
                kv.search(("t",), limit=5)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(kv.search(("t",), limit=1000)) == 400
    assert len(kv.list_namespaces(prefix=("t",))) == 8


# -- differential test against InMemoryStore --------------------------------------------------

_LABELS = st.sampled_from(["a", "b", "c", "ab"])
_NS = st.lists(_LABELS, min_size=1, max_size=3).map(tuple)
_KEY = st.sampled_from(["k1", "k2", "k3"])
_VALUE = st.fixed_dictionaries({"n": st.integers(0, 5), "tag": st.sampled_from(["x", "y"])}, optional={"sub": st.fixed_dictionaries({"q": st.integers(0, 2)})})
_FILTER = st.one_of(
    st.none(),
    st.fixed_dictionaries({"tag": st.sampled_from(["x", "y"])}),
    st.fixed_dictionaries({"n": st.sampled_from([{"$gt": 2}, {"$lte": 1}, {"$ne": 3}, {"$eq": 4}, {"$gte": 1, "$lt": 4}])}),
    st.fixed_dictionaries({"sub": st.fixed_dictionaries({"q": st.integers(0, 2)})}),
)
_PATH = st.lists(st.sampled_from(["a", "b", "c", "*"]), min_size=1, max_size=3).map(tuple)
_OP = st.one_of(
    st.tuples(st.just("put"), _NS, _KEY, _VALUE),
    st.tuples(st.just("delete"), _NS, _KEY),
    st.tuples(st.just("get"), _NS, _KEY),
    st.tuples(st.just("search"), st.lists(_LABELS, max_size=2).map(tuple), _FILTER, st.integers(0, 4), st.integers(0, 3)),
    st.tuples(
        st.just("list"),
        st.one_of(st.none(), _PATH),
        st.one_of(st.none(), _PATH),
        st.one_of(st.none(), st.integers(1, 3)),
        st.integers(0, 5),
        st.integers(0, 3),
    ),
)


def _value_set(items) -> set:
    import json

    return {(i.namespace, i.key, json.dumps(i.value, sort_keys=True)) for i in items}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(_OP, max_size=40))
def test_matches_in_memory_store(tmp_path_factory, ops):
    """Any sequence of operations gives what InMemoryStore gives, with the documented
    differences: search order (newest first here) and emptied namespaces (gone here)."""
    kv = _open(tmp_path_factory.mktemp("diff"))
    mem = InMemoryStore()
    try:
        for op in ops:
            kind = op[0]
            if kind == "put":
                kv.put(op[1], op[2], op[3])
                mem.put(op[1], op[2], op[3])
            elif kind == "delete":
                kv.delete(op[1], op[2])
                mem.delete(op[1], op[2])
            elif kind == "get":
                got, want = kv.get(op[1], op[2]), mem.get(op[1], op[2])
                assert (got is None) == (want is None)
                if got is not None:
                    assert (got.namespace, got.key, got.value) == (want.namespace, want.key, want.value)
            elif kind == "search":
                _, prefix, flt, limit, offset = op
                full = kv.search(prefix, filter=flt, limit=1000)
                assert _value_set(full) == _value_set(mem.search(prefix, filter=flt, limit=1000))
                assert _keys(kv.search(prefix, filter=flt, limit=limit, offset=offset)) == _keys(full[offset : offset + limit])
                assert all(a.updated_at >= b.updated_at for a, b in zip(full, full[1:]))
            else:
                _, prefix, suffix, max_depth, limit, offset = op
                for ns in [ns for ns, items in mem._data.items() if not items]:
                    del mem._data[ns]  # InMemoryStore keeps emptied namespaces; we don't
                kwargs = dict(prefix=prefix, suffix=suffix, max_depth=max_depth, limit=limit, offset=offset)
                assert kv.list_namespaces(**kwargs) == mem.list_namespaces(**kwargs)
    finally:
        kv.close()


# -- a graph using the store ------------------------------------------------------------------


class _State(TypedDict):
    user: str
    facts: Annotated[list[str], operator.add]
    recalled: list[str]


def _remember(state: _State) -> dict[str, Any]:
    store = get_store()
    ns = ("memories", state["user"])
    n = len(store.search(ns, filter={"n": {"$gte": 0}}, limit=100))
    store.put(ns, f"fact-{n}", {"text": state["facts"][-1], "n": n})
    return {}


async def _recall(state: _State) -> dict[str, Any]:
    store = get_store()
    ns = ("memories", state["user"])
    await store.aput(ns, "seen", {"text": "async put", "n": -1})
    items = await store.asearch(ns, filter={"n": {"$gte": 0}}, limit=100)
    return {"recalled": sorted(i.value["text"] for i in items)}


def test_graph_nodes_use_the_store(kv):
    builder = StateGraph(_State)
    builder.add_node("remember", _remember)
    builder.add_node("recall", _recall)
    builder.add_edge(START, "remember")
    builder.add_edge("remember", "recall")
    builder.add_edge("recall", END)
    # As the server attaches it: a copy of the compiled graph with `store` set.
    graph = builder.compile().copy(update={"store": kv})

    async def main():
        first = await graph.ainvoke({"user": "u1", "facts": ["likes tea"], "recalled": []})
        second = await graph.ainvoke({"user": "u1", "facts": ["lives in Oslo"], "recalled": []})
        other = await graph.ainvoke({"user": "u2", "facts": ["likes jazz"], "recalled": []})
        return first, second, other

    first, second, other = asyncio.run(main())
    assert first["recalled"] == ["likes tea"]
    assert second["recalled"] == ["likes tea", "lives in Oslo"]
    assert other["recalled"] == ["likes jazz"]
    assert kv.get(("memories", "u1"), "fact-1").value == {"text": "lives in Oslo", "n": 1}
    assert kv.list_namespaces(prefix=("memories",)) == [("memories", "u1"), ("memories", "u2")]


# -- HTTP, through the official SDK -------------------------------------------------------------


def _ns(*labels: str) -> list[str]:
    """A namespace of its own per test: the server is shared by the whole session."""
    return [f"t{uuid.uuid4().hex[:12]}", *labels]


@pytest.mark.anyio
async def test_http_put_get_delete(client):
    ns = _ns("users", "u1")
    assert await client.store.put_item(ns, key="prefs", value={"theme": "dark", "n": [1, 2]}) is None
    item = await client.store.get_item(ns, key="prefs")
    assert item["namespace"] == ns and item["key"] == "prefs"
    assert item["value"] == {"theme": "dark", "n": [1, 2]}
    assert item["created_at"] == item["updated_at"]
    await client.store.put_item(ns, key="prefs", value={"theme": "light"}, index=False, ttl=None)
    again = await client.store.get_item(ns, key="prefs")
    assert again["value"] == {"theme": "light"}
    assert again["created_at"] == item["created_at"] and again["updated_at"] > item["updated_at"]
    assert await client.store.delete_item(ns, key="prefs") is None
    assert await client.store.get_item(ns, key="prefs") is None  # 200 null, as the reference
    await client.store.delete_item(ns, key="prefs")  # idempotent


@pytest.mark.anyio
async def test_http_search_items(client):
    root = _ns()
    await client.store.put_item([*root, "docs"], key="a", value={"kind": "x", "n": 1})
    await client.store.put_item([*root, "docs"], key="b", value={"kind": "y", "n": 5})
    await client.store.put_item([*root, "docs", "deep"], key="c", value={"kind": "x", "n": 9})
    await client.store.put_item([*root, "docsother"], key="d", value={"kind": "x", "n": 9})
    found = await client.store.search_items([*root, "docs"])
    assert [i["key"] for i in found["items"]] == ["c", "b", "a"]  # newest first
    assert all(i["score"] is None for i in found["items"])
    assert set(found["items"][0]) == {"namespace", "key", "value", "created_at", "updated_at", "score"}
    found = await client.store.search_items([*root, "docs"], filter={"kind": "x"})
    assert [i["key"] for i in found["items"]] == ["c", "a"]
    found = await client.store.search_items(root, filter={"n": {"$gt": 1}})
    assert sorted(i["key"] for i in found["items"]) == ["b", "c", "d"]
    found = await client.store.search_items(root, limit=2, offset=1)
    assert [i["key"] for i in found["items"]] == ["c", "b"]
    found = await client.store.search_items(root, query="semantic queries are ignored", limit=1)
    assert [i["key"] for i in found["items"]] == ["d"]


@pytest.mark.anyio
async def test_http_list_namespaces(client):
    root = _ns()
    for labels in (("b", "c"), ("b", "d", "e"), ("b", "f"), ("c", "f")):
        await client.store.put_item([*root, *labels], key="k", value={})
    got = await client.store.list_namespaces(prefix=root)
    assert got == {"namespaces": [[*root, "b", "c"], [*root, "b", "d", "e"], [*root, "b", "f"], [*root, "c", "f"]]}
    got = await client.store.list_namespaces(prefix=[*root, "b"], max_depth=3)
    assert got["namespaces"] == [[*root, "b", "c"], [*root, "b", "d"], [*root, "b", "f"]]
    got = await client.store.list_namespaces(prefix=[root[0], "*", "f"])
    assert got["namespaces"] == [[*root, "b", "f"], [*root, "c", "f"]]
    got = await client.store.list_namespaces(prefix=root, suffix=["f"], limit=1, offset=1)
    assert got["namespaces"] == [[*root, "c", "f"]]
    got = await client.store.list_namespaces(prefix=root, max_depth=1)
    assert got["namespaces"] == [root]


@pytest.mark.anyio
async def test_http_store_validation(http):
    ns = _ns()

    async def status(method: str, path: str, **kw) -> tuple[int, Any]:
        r = await http.request(method, path, **kw)
        return r.status_code, (r.json() if r.content else None)

    code, body = await status("PUT", "/store/items", json={"namespace": [*ns, "a.b"], "key": "k", "value": {}})
    assert code == 422 and "without periods" in body["detail"]
    assert (await status("PUT", "/store/items", json={"namespace": [*ns, ""], "key": "k", "value": {}}))[0] == 422
    assert (await status("PUT", "/store/items", json={"namespace": [*ns, 1], "key": "k", "value": {}}))[0] == 422
    assert (await status("PUT", "/store/items", json={"namespace": ns, "key": "k", "value": [1]}))[0] == 422
    assert (await status("PUT", "/store/items", json={"namespace": ns, "key": 3, "value": {}}))[0] == 422
    code, body = await status("PUT", "/store/items", json={"namespace": ns, "value": {}})
    assert code == 422 and body["detail"] == '"key" is a required property'
    assert (await status("PUT", "/store/items", json={"namespace": ns, "key": "k", "value": {}, "index": "x"}))[0] == 422
    assert (await status("PUT", "/store/items", content=b"{not json"))[0] == 422
    code, body = await status("PUT", "/store/items", json={"namespace": [], "key": "k", "value": {}})
    assert code == 400 and body["detail"] == "Namespace cannot be empty."
    assert (await status("PUT", "/store/items", json={"namespace": ["langgraph"], "key": "k", "value": {}}))[0] == 400
    code, body = await status("GET", "/store/items", params={"namespace": ".".join(ns)})
    assert code == 400 and body["detail"] == "Key is required"
    assert (await status("GET", "/store/items", params={"key": "k"}))[0] == 422
    assert (await status("GET", "/store/items", params={"namespace": "a..b", "key": "k"}))[0] == 422
    code, body = await status("POST", "/store/items/search", json={"namespace_prefix": ns, "filter": {"n": {"$regex": 1}}})
    assert code == 400 and "Unsupported operator" in body["detail"]
    assert (await status("POST", "/store/items/search", json={"namespace_prefix": ns, "limit": "x"}))[0] == 422
    assert (await status("POST", "/store/items/search", json={"namespace_prefix": ns, "filter": [1]}))[0] == 422
    assert (await status("POST", "/store/namespaces", json={"prefix": "a"}))[0] == 422
    assert (await status("POST", "/store/namespaces", json={"prefix": ["a.b"]}))[0] == 422
    assert (await status("DELETE", "/store/items", json={"namespace": ns}))[0] == 422
    # Empty bodies: search and list default everything, put needs one.
    assert (await status("POST", "/store/items/search"))[0] == 200
    assert (await status("POST", "/store/namespaces"))[0] == 200
    assert (await status("PUT", "/store/items"))[0] == 422


@pytest.mark.anyio
async def test_http_sdk_rejects_periods_client_side(client):
    with pytest.raises(ValueError):
        await client.store.put_item(["a.b"], key="k", value={})
    with pytest.raises(httpx.HTTPStatusError) as info:
        await client.store.search_items(["a.b"])
    assert info.value.response.status_code == 422


@pytest.mark.anyio
async def test_http_graph_uses_the_store(client):
    """A node's `get_store()` is the same store the API serves."""
    await client.runs.wait(None, "memory", input={"user": "ann", "fact": "likes tea"})
    thread = await client.threads.create()
    result = await client.runs.wait(thread["thread_id"], "memory", input={"user": "ann", "fact": "has a cat"})
    assert result["known"] == ["has a cat", "likes tea"]
    item = await client.store.get_item(["memories", "ann"], "likes tea")
    assert item["value"] == {"fact": "likes tea"}
