"""The run queue on its own, over a real store and event log, with a driver that runs
nothing but waits where the test says: order, strategies, cancel, stop and recovery."""

from __future__ import annotations

import tempfile
from contextlib import asynccontextmanager
from typing import Any

import pytest
import trio

from trioserver import ids
from trioserver.errors import Conflict
from trioserver.runtime import queue as queue_module
from trioserver.runtime.queue import RunQueue
from trioserver.storage.env import Store
from trioserver.storage.eventlog import EventLog
from trioserver.storage.records import Run, Thread
from trioserver.storage.tables import Tables


class _Pool:
    def busy(self, run_id: str | None = None) -> int:
        return 0


class _Bridge:
    pool = _Pool()


class GateDriver:
    """Each run waits for its gate, then succeeds; records the order runs started in."""

    bridge = _Bridge()

    def __init__(self) -> None:
        self.gates: dict[str, trio.Event] = {}
        self.started: list[str] = []

    def gate(self, run_id: str) -> trio.Event:
        return self.gates.setdefault(run_id, trio.Event())

    async def drive(self, run: Run, assistant: Any) -> dict[str, Any]:
        self.started.append(run.run_id)
        await self.gate(run.run_id).wait()
        return {"values": {}, "next": [], "tasks": [], "checkpoint": None}

    async def state_after(self, run: Run, assistant: Any) -> None:
        return None

    def fence(self, run: Run) -> None:
        pass


@asynccontextmanager
async def open_queue(path: str, driver: GateDriver | None = None):
    store = Store(path, durability="fast", map_size=1 << 26)
    tables = Tables(store)
    log = EventLog(store)
    driver = driver or GateDriver()
    queue = RunQueue(store=store, tables=tables, log=log, driver=driver, checkpointer=None)  # type: ignore[arg-type]
    try:
        async with trio.open_nursery() as nursery:
            await nursery.start(store.run_writer)
            async with trio.open_nursery() as runs:
                await runs.start(queue.serve)
                yield queue, tables, driver
                runs.cancel_scope.cancel()
            nursery.cancel_scope.cancel()
    finally:
        store.close()


async def _thread(queue: RunQueue, tables: Tables) -> str:
    thread_id = ids.new_id()
    now = ids.now_iso()
    await queue.store.write(tables.put_thread_op(Thread(thread_id, now, now)))
    return thread_id


def _run(thread_id: str, strategy: str = "enqueue", **kwargs: Any) -> Run:
    now = ids.now_iso()
    return Run(ids.new_id(), thread_id, ids.graph_assistant_id("g"), "g", now, now, multitask_strategy=strategy, kwargs=kwargs)


async def _until(predicate) -> None:
    with trio.fail_after(5):
        while not predicate():
            await trio.sleep(0.001)


def run_trio(fn):
    with tempfile.TemporaryDirectory() as path:
        trio.run(fn, path)


def test_one_run_at_a_time_in_creation_order():
    async def main(path):
        async with open_queue(path) as (queue, tables, driver):
            thread = await _thread(queue, tables)
            runs = [await queue.submit(_run(thread)) for _ in range(3)]
            await _until(lambda: len(driver.started) == 1)
            assert tables.get_thread(thread).status == "busy"
            for i, run in enumerate(runs):
                await _until(lambda i=i: len(driver.started) == i + 1)
                assert driver.started == [r.run_id for r in runs[: i + 1]]
                driver.gate(run.run_id).set()
                await queue.wait_finished(run.run_id)
            assert [tables.get_run(r.run_id).status for r in runs] == ["success"] * 3
            assert tables.get_thread(thread).status == "idle"

    run_trio(main)


def test_reject_refuses_and_stores_nothing():
    async def main(path):
        async with open_queue(path) as (queue, tables, driver):
            thread = await _thread(queue, tables)
            first = await queue.submit(_run(thread))
            refused = _run(thread, "reject")
            with pytest.raises(Conflict):
                await queue.submit(refused)
            assert tables.get_run(refused.run_id) is None
            driver.gate(first.run_id).set()

    run_trio(main)


def test_interrupt_cancels_what_runs_and_then_starts():
    async def main(path):
        async with open_queue(path) as (queue, tables, driver):
            thread = await _thread(queue, tables)
            first = await queue.submit(_run(thread))
            await _until(lambda: driver.started == [first.run_id])
            second = await queue.submit(_run(thread, "interrupt"))
            await _until(lambda: driver.started == [first.run_id, second.run_id])
            assert tables.get_run(first.run_id).status == "interrupted"
            driver.gate(second.run_id).set()
            await queue.wait_finished(second.run_id)
            assert tables.get_thread(thread).status == "idle"

    run_trio(main)


def test_cancelling_a_waiting_run_keeps_the_thread_busy():
    async def main(path):
        async with open_queue(path) as (queue, tables, driver):
            thread = await _thread(queue, tables)
            first = await queue.submit(_run(thread))
            waiting = await queue.submit(_run(thread))
            assert await queue.cancel(thread, waiting.run_id)
            assert tables.get_run(waiting.run_id).status == "interrupted"
            assert tables.get_thread(thread).status == "busy"
            driver.gate(first.run_id).set()
            await queue.wait_finished(first.run_id)
            assert driver.started == [first.run_id]
            assert tables.get_thread(thread).status == "idle"

    run_trio(main)


def test_a_clean_stop_hands_runs_back_and_starts_nothing():
    async def main(path):
        async with open_queue(path) as (queue, tables, driver):
            thread = await _thread(queue, tables)
            running = await queue.submit(_run(thread))
            waiting = await queue.submit(_run(thread))
            await _until(lambda: driver.started == [running.run_id])
            await queue.shutdown()
            assert driver.started == [running.run_id]
            stored = tables.get_run(running.run_id)
            assert (stored.status, stored.attempt) == ("pending", 2)
            assert tables.get_run(waiting.run_id).status == "pending"
            assert tables.get_thread(thread).status == "busy"

    run_trio(main)


def test_recovery_resumes_runs_a_crash_left_running(monkeypatch):
    async def main(path):
        async with open_queue(path) as (queue, tables, driver):
            thread = await _thread(queue, tables)
            crashed, exhausted = _run(thread), _run(await _thread(queue, tables))
            crashed.status = exhausted.status = "running"
            exhausted.attempt = queue_module.MAX_ATTEMPTS
            for run in (crashed, exhausted):
                await queue.store.write(tables.put_run_op(run))
        # A new queue over the same store, as after a restart.
        async with open_queue(path) as (queue, tables, driver):
            await _until(lambda: crashed.run_id in driver.started)
            assert tables.get_run(crashed.run_id).attempt == 2
            assert tables.get_run(exhausted.run_id).status == "error"
            driver.gate(crashed.run_id).set()
            await queue.wait_finished(crashed.run_id)
            assert tables.get_run(crashed.run_id).status == "success"

    run_trio(main)


def test_a_submit_cancelled_mid_way_is_either_whole_or_absent():
    """Creation and start are one step: cancelled at any point, a stored run still starts."""

    async def main(path):
        async with open_queue(path) as (queue, tables, driver):
            submitted = []
            for delay in range(12):
                thread = await _thread(queue, tables)
                run = _run(thread)
                with trio.move_on_after(delay * 0.0002):
                    with trio.CancelScope(shield=True):  # as Runs.create does
                        await queue.submit(run)
                submitted.append(run)
            for run in submitted:
                stored = tables.get_run(run.run_id)
                assert stored is not None  # shielded: always whole
                await _until(lambda run=run: run.run_id in driver.started)
                driver.gate(run.run_id).set()
                await queue.wait_finished(run.run_id)

    run_trio(main)
