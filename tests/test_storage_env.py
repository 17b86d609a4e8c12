"""The one write path on its own: atomic under cancellation, shared by trio, the graph
loop and other threads, and map growth that waits for readers."""

from __future__ import annotations

import asyncio
import threading

import trio
import trio.lowlevel

from trioserver.storage.env import Store


def _count(store: Store, db: str) -> int:
    return store.read(lambda txn: txn.stat(store.db(db))["entries"])


async def _with_writer(store: Store, body) -> None:
    async with trio.open_nursery() as nursery:
        await nursery.start(store.run_writer)
        await body()
        nursery.cancel_scope.cancel()


def _blocking_op(db, key: bytes, inside: threading.Event, release: threading.Event):
    def op(txn):
        inside.set()
        release.wait(5)
        txn.put(key, b"v", db=db)
        return "committed"

    return op


def test_a_write_cancelled_before_the_writer_takes_it_is_not_done(tmp_path):
    store = Store(str(tmp_path / "db"), durability="fast")
    meta = store.db("meta")

    async def body():
        inside, release = threading.Event(), threading.Event()
        outcome = {}

        async def second(task_status=trio.TASK_STATUS_IGNORED):
            with trio.CancelScope() as scope:
                task_status.started(scope)
                outcome["value"] = await store.write(lambda txn: txn.put(b"second", b"v", db=meta))
            outcome["cancelled"] = scope.cancelled_caught

        async with trio.open_nursery() as nursery:
            nursery.start_soon(store.write, _blocking_op(meta, b"first", inside, release))
            await trio.to_thread.run_sync(inside.wait)  # the writer is busy committing `first`
            scope = await nursery.start(second)  # queued behind it, not taken
            scope.cancel()
            await trio.lowlevel.checkpoint()
            release.set()
        assert outcome == {"cancelled": True}
        await store.write(lambda txn: None)  # one more commit: `second` would be in it
        assert store.read(lambda txn: txn.get(b"first", db=meta)) == b"v"
        assert store.read(lambda txn: txn.get(b"second", db=meta)) is None

    trio.run(_with_writer, store, body)
    store.close()


def test_a_write_the_writer_took_completes_and_reports_its_result(tmp_path):
    """Cancelled while its commit is under way, the caller still learns it happened, and
    the cancellation arrives right after."""
    store = Store(str(tmp_path / "db"), durability="full")
    meta = store.db("meta")

    async def body():
        inside, release = threading.Event(), threading.Event()
        outcome = {}

        async def writer(task_status=trio.TASK_STATUS_IGNORED):
            with trio.CancelScope() as scope:
                task_status.started(scope)
                outcome["value"] = await store.write(_blocking_op(meta, b"k", inside, release))
                await trio.lowlevel.checkpoint()  # the next checkpoint delivers the cancellation
                outcome["after"] = "not cancelled"
            outcome["cancelled"] = scope.cancelled_caught

        async with trio.open_nursery() as nursery:
            scope = await nursery.start(writer)
            await trio.to_thread.run_sync(inside.wait)  # taken: the commit is under way
            scope.cancel()
            release.set()
        assert outcome == {"value": "committed", "cancelled": True}
        assert store.read(lambda txn: txn.get(b"k", db=meta)) == b"v"

    trio.run(_with_writer, store, body)
    store.close()


def test_trio_asyncio_and_threads_share_the_writer(tmp_path):
    store = Store(str(tmp_path / "db"), durability="full")
    meta = store.db("meta")

    async def body():
        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=loop.run_forever, daemon=True)
        thread.start()
        try:
            async def from_asyncio():
                return await store.awrite(lambda txn: txn.put(b"a", b"1", db=meta))

            future = asyncio.run_coroutine_threadsafe(from_asyncio(), loop)
            await trio.to_thread.run_sync(future.result)
            await trio.to_thread.run_sync(lambda: store.write_blocking(lambda txn: txn.put(b"b", b"2", db=meta)))
            await store.write(lambda txn: txn.put(b"c", b"3", db=meta))
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join()
        assert _count(store, "meta") == 3
        assert store.ops_committed >= 3

    trio.run(_with_writer, store, body)
    store.close()


def test_map_growth_waits_for_open_reads(tmp_path):
    store = Store(str(tmp_path / "db"), durability="fast", map_size=1 << 20)
    size = store.env.info()["map_size"]
    reading = threading.Event()
    release = threading.Event()
    order = []

    def reader():
        with store.reading() as txn:
            reading.set()
            release.wait(5)
            txn.get(b"x")
            order.append("read done")

    t = threading.Thread(target=reader)
    t.start()
    reading.wait(5)
    grower = threading.Thread(target=lambda: (store.grow_map(), order.append("grown")))
    grower.start()
    grower.join(0.3)
    assert grower.is_alive(), "the map grew under an open read transaction"
    release.set()
    t.join()
    grower.join()
    assert order == ["read done", "grown"]
    assert store.env.info()["map_size"] == 2 * size
    store.close()


def test_a_full_map_grows_and_the_batch_commits(tmp_path):
    store = Store(str(tmp_path / "db"), durability="fast", map_size=256 << 10)
    meta = store.db("meta")

    async def body():
        for i in range(40):
            await store.write(lambda txn, i=i: txn.put(b"%d" % i, b"x" * 20_000, db=meta))
        assert _count(store, "meta") == 40

    trio.run(_with_writer, store, body)
    assert store.env.info()["map_size"] > 256 << 10
    store.close()
