"""The event log on its own: ordering, monotonic ids, tails that replay then follow."""

from __future__ import annotations

import tempfile
import time
from contextlib import asynccontextmanager

import trio
import trio.lowlevel
from hypothesis import given, settings
from hypothesis import strategies as st

from trioserver.ids import EventId, new_id
from trioserver.storage.env import Store
from trioserver.storage.eventlog import EventLog
from trioserver.storage.records import LogEvent, Thread
from trioserver.storage.retention import RetentionPolicy, prune_once
from trioserver.storage.tables import Tables
from trioserver.streaming.tail import tail_thread


def ev(i: int, run: str = "r") -> LogEvent:
    return LogEvent(run, "custom", "custom", b'{"i":%d}' % i)


@asynccontextmanager
async def open_log(path: str, durability: str = "fast"):
    store = Store(path, durability=durability, map_size=1 << 26)
    try:
        async with trio.open_nursery() as nursery:
            await nursery.start(store.run_writer)
            yield store, EventLog(store)
            nursery.cancel_scope.cancel()
    finally:
        store.close()


def run(fn, *args):
    with tempfile.TemporaryDirectory() as path:
        return trio.run(fn, path, *args)


def test_append_and_read_in_order():
    async def main(path):
        async with open_log(path) as (_, log):
            tid = new_id()
            ids = []
            for i in range(10):
                ids += await log.append(tid, [ev(2 * i), ev(2 * i + 1)])
            assert ids == sorted(ids) and len(set(ids)) == 20
            got = log.read_after(tid, EventId.ZERO)
            assert [e.data for _, e in got] == [b'{"i":%d}' % i for i in range(20)]
            assert [p for p, _ in got] == ids
            assert [e.data for _, e in log.read_after(tid, ids[4])] == [b'{"i":%d}' % i for i in range(5, 20)]
            assert log.last_id(tid) == ids[-1]
            assert log.read_after(new_id(), EventId.ZERO) == []

    run(main)


def test_ids_stay_monotonic_when_the_clock_steps_back(monkeypatch):
    async def main(path):
        async with open_log(path) as (_, log):
            tid = new_id()
            first = await log.append(tid, [ev(0)])
            monkeypatch.setattr(time, "time", lambda: 1000.0)  # 1970: far in the past
            second = await log.append(tid, [ev(1), ev(2)])
            assert first[0] < second[0] < second[1]
            assert second[0].ms == first[0].ms

    run(main)


def test_concurrent_appends_from_many_tasks_interleave_without_loss():
    async def main(path):
        async with open_log(path) as (_, log):
            tids = [new_id() for _ in range(3)]

            async def writer(w: int):
                for i in range(50):
                    await log.append(tids[w % 3], [LogEvent(f"w{w}", "custom", "custom", b"%d" % i)])

            async with trio.open_nursery() as nursery:
                for w in range(12):
                    nursery.start_soon(writer, w)
            for tid in tids:
                got = log.read_after(tid, EventId.ZERO, limit=10_000)
                positions = [p for p, _ in got]
                assert positions == sorted(positions) and len(set(positions)) == len(positions) == 200
                for w in range(12):
                    mine = [int(e.data) for _, e in got if e.run_id == f"w{w}"]
                    assert mine == (list(range(50)) if tids[w % 3] == tid else [])

    run(main)


def test_reopen_continues_after_the_last_id():
    with tempfile.TemporaryDirectory() as path:
        tid = new_id()

        async def first(path):
            async with open_log(path, "full") as (_, log):
                return await log.append(tid, [ev(i) for i in range(5)])

        async def second(path, before):
            async with open_log(path, "full") as (_, log):
                assert log.last_id(tid) == before[-1]
                after = await log.append(tid, [ev(5)])
                assert after[0] > before[-1]
                assert len(log.read_after(tid, EventId.ZERO)) == 6

        before = trio.run(first, path)
        trio.run(second, path, before)


def test_tail_wakes_on_append_and_times_out_idle():
    async def main(path):
        async with open_log(path) as (_, log):
            tid = new_id()
            shutdown = trio.Event()
            seen = []

            async def follow():
                async for batch in tail_thread(log, tid, EventId.ZERO, shutdown=shutdown, idle_timeout=0.2):
                    seen.append(len(batch))
                    if sum(seen) >= 3:
                        return

            async with trio.open_nursery() as nursery:
                nursery.start_soon(follow)
                await trio.sleep(0.5)  # idle: the tail yields empty batches (heartbeats)
                assert seen and all(n == 0 for n in seen)
                started = trio.current_time()
                await log.append(tid, [ev(0), ev(1), ev(2)])
            assert trio.current_time() - started < 0.1  # woken by the commit, not by a timer
            assert sum(seen) == 3

    run(main)


def test_tail_ends_on_shutdown():
    async def main(path):
        async with open_log(path) as (_, log):
            shutdown = trio.Event()
            with trio.fail_after(2):
                async with trio.open_nursery() as nursery:
                    async def follow():
                        async for _ in tail_thread(log, new_id(), EventId.ZERO, shutdown=shutdown, idle_timeout=60):
                            pass

                    nursery.start_soon(follow)
                    await trio.sleep(0.1)
                    shutdown.set()
                    log.wake_all()  # what Services.begin_shutdown does

    run(main)


@settings(max_examples=25, deadline=None)
@given(
    before=st.integers(0, 30),
    during=st.lists(st.integers(1, 8), max_size=12),
    start_at=st.integers(0, 30),
)
def test_replay_then_follow_has_no_gap_and_no_duplicate(before, during, start_at):
    """A subscriber that starts anywhere while appends go on sees each later event once, in order."""

    async def main(path):
        async with open_log(path) as (_, log):
            tid = new_id()
            written = await log.append(tid, [ev(i) for i in range(before)]) if before else []
            start = written[start_at - 1] if 0 < start_at <= len(written) else EventId.ZERO
            shutdown = trio.Event()
            seen: list[EventId] = []

            async def follow():
                async for batch in tail_thread(log, tid, start, shutdown=shutdown, idle_timeout=0.05):
                    seen.extend(p for p, _ in batch)

            async with trio.open_nursery() as nursery:
                nursery.start_soon(follow)
                for n in during:
                    written.extend(await log.append(tid, [ev(0)] * n))
                    await trio.lowlevel.checkpoint()
                expected_count = sum(1 for p in written if p > start)
                with trio.move_on_after(5):
                    while len(seen) < expected_count:
                        await trio.sleep(0.005)
                await trio.sleep(0.06)  # room for a duplicate to show up, if the tail made one
                nursery.cancel_scope.cancel()
            expected = [p for p in written if p > start]
            assert seen == expected

    run(main)


def test_retention_prunes_by_count_age_and_orphans():
    async def main(path):
        async with open_log(path) as (store, log):
            tables = Tables(store)
            kept_thread, old_thread, orphan = new_id(), new_id(), new_id()
            now_iso = "2026-01-01T00:00:00+00:00"
            for tid in (kept_thread, old_thread):
                await store.write(tables.put_thread_op(Thread(tid, now_iso, now_iso)))
            ids = await log.append(kept_thread, [ev(i) for i in range(30)])
            await log.append(old_thread, [ev(i) for i in range(5)])
            await log.append(orphan, [ev(i) for i in range(5)])
            policy = RetentionPolicy(max_age=3600, max_count=10, orphan_grace=60)
            # Nothing is old yet and the orphan is recent: only the count bound applies.
            assert await prune_once(log, tables, policy) == 20
            assert [p for p, _ in log.read_after(kept_thread, EventId.ZERO)] == ids[-10:]
            # An hour and more later: everything is old, and the orphan's grace is over.
            later = time.time() + 7200
            await prune_once(log, tables, policy, now=later)
            assert log.read_after(kept_thread, EventId.ZERO) == []
            assert log.read_after(old_thread, EventId.ZERO) == []
            assert log.read_after(orphan, EventId.ZERO) == []
            # A new append on a pruned thread still gets a later id than anything before.
            again = await log.append(kept_thread, [ev(99)])
            assert again[0] > ids[-1]

    run(main)
