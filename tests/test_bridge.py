"""The asyncio bridge on its own: order, prompt cancellation, abandoning a graph that
ignores it, backpressure, and a sync pool that grows instead of starving."""

from __future__ import annotations

import asyncio
import threading
import time

import trio

from trioserver.runtime.bridge import AsyncioBridge, Backpressure


def with_bridge(fn, **kwargs):
    bridge = AsyncioBridge(**kwargs)
    try:
        return trio.run(fn, bridge)
    finally:
        bridge.close()


def test_items_arrive_in_order_and_errors_come_after_them():
    async def main(bridge):
        got = []

        async def produce(emit):
            for i in range(100):
                emit(i)
            raise ValueError("after the items")

        try:
            await bridge.pump(produce, got.append)
        except ValueError as exc:
            assert str(exc) == "after the items"
        else:
            raise AssertionError("the error was lost")
        assert got == list(range(100))

    with_bridge(main)


def test_cancelling_the_caller_cancels_the_asyncio_task_promptly():
    async def main(bridge):
        cancelled = threading.Event()

        async def produce(emit):
            try:
                await asyncio.sleep(30)
            except asyncio.CancelledError:
                cancelled.set()
                raise

        started = trio.current_time()
        with trio.move_on_after(0.2):
            await bridge.pump(produce, lambda item: None)
        assert cancelled.is_set()
        assert trio.current_time() - started < 1.0

    with_bridge(main)


def test_a_task_that_ignores_cancellation_is_abandoned_and_silenced():
    async def main(bridge):
        got, abandoned = [], []
        finished = threading.Event()

        async def produce(emit):
            end = time.monotonic() + 0.6
            while time.monotonic() < end:
                try:
                    await asyncio.sleep(end - time.monotonic())
                except asyncio.CancelledError:
                    continue
            emit("too late")
            finished.set()

        with trio.move_on_after(0.05):
            await bridge.pump(produce, got.append, on_abandon=lambda: abandoned.append(True))
        assert abandoned == [True] and bridge.abandoned == 1
        await trio.to_thread.run_sync(finished.wait, 2)
        await trio.sleep(0.05)
        assert got == []

    with_bridge(main, cancel_grace=0.2)


def test_backpressure_holds_a_producer_until_the_consumer_acks():
    async def main(bridge):
        flow = Backpressure(bridge.loop, limit=10)
        received = []
        acks = []

        async def produce(emit):
            for i in range(50):
                flow.sent += 1
                emit(i)
                await flow.throttle()

        def deliver(item):
            received.append(item)

        async def consume():
            # Ack in batches, and only after checking the producer never ran far ahead.
            while len(received) < 50:
                await trio.sleep(0.01)
                ahead = len(received) - sum(acks)
                assert ahead <= 11, f"the producer ran {ahead} items ahead"
                if ahead:
                    acks.append(ahead)
                    flow.ack(ahead)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(consume)
            await bridge.pump(produce, deliver)
        assert received == list(range(50))

    with_bridge(main)


def test_the_sync_pool_grows_past_blocked_threads():
    async def main(bridge):
        release = threading.Event()

        async def block_many():
            loop = asyncio.get_running_loop()
            blockers = [loop.run_in_executor(None, release.wait, 10) for _ in range(12)]
            await asyncio.sleep(0.05)
            started = time.monotonic()
            await loop.run_in_executor(None, lambda: None)
            quick = time.monotonic() - started
            assert bridge.pool.busy() >= 12
            release.set()
            await asyncio.gather(*blockers)
            return quick

        quick = await bridge.call(block_many)
        assert quick < 1.0

    with_bridge(main)
