"""Running asyncio code (LangGraph) from trio: one dedicated event loop in one thread.

Measured (DESIGN.md): a dedicated loop costs 7-11 us per handed-back item and ran about
900 runs/s; trio-asyncio ran about 315 and slowed all asyncio code. Items come back
through `TrioToken.run_sync_soon` into an unbounded memory channel: the graph is never
blocked by trio, and trio never blocks on the graph.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any, Awaitable, Callable, TypeVar

import trio

T = TypeVar("T")


class AsyncioBridge:
    """Owns the asyncio loop thread for the server's lifetime."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run_loop, name="asyncio-graphs", daemon=True)
        self._thread.start()

    def _run_loop(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=5)

    async def call(self, make: Callable[[], Awaitable[T]]) -> T:
        """Await the coroutine `make()` on the asyncio loop; cancelling the trio caller cancels it."""
        result: list[T] = []

        async def collect(_: Callable[[Any], None]) -> None:
            result.append(await make())

        await self.pump(collect, lambda item: None)
        return result[0]

    async def pump(self, produce: Callable[[Callable[[Any], None]], Awaitable[None]], deliver: Callable[[Any], None]) -> None:
        """Run `produce(emit)` on the asyncio loop; each `emit(item)` calls `deliver(item)` in trio.

        Returns when `produce` finishes, re-raising its exception. If the trio caller is
        cancelled, the asyncio task is cancelled and waited for (up to a few seconds),
        so a graph never outlives the run that started it."""
        token = trio.lowlevel.current_trio_token()
        finished = trio.Event()

        def emit(item: Any) -> None:
            token.run_sync_soon(_safe, deliver, item)

        def on_done(_: asyncio.Future) -> None:
            try:
                token.run_sync_soon(finished.set)
            except trio.RunFinishedError:
                pass

        def start() -> asyncio.Task:
            task = self.loop.create_task(produce(emit))
            task.add_done_callback(on_done)
            return task

        task_box: list[asyncio.Task] = []

        def start_in_loop() -> None:
            task_box.append(start())

        self.loop.call_soon_threadsafe(start_in_loop)
        try:
            await finished.wait()
        except BaseException:
            with trio.CancelScope(shield=True):
                with trio.move_on_after(5):
                    while not task_box:
                        await trio.sleep(0)
                    task = task_box[0]
                    self.loop.call_soon_threadsafe(task.cancel)
                    await finished.wait()
            raise
        task = task_box[0]
        if task.cancelled():
            raise RuntimeError("graph task was cancelled from asyncio")
        exc = task.exception()
        if exc is not None:
            raise exc


def _safe(deliver: Callable[[Any], None], item: Any) -> None:
    # An exception escaping a run_sync_soon callback would crash the whole trio run.
    try:
        deliver(item)
    except (trio.ClosedResourceError, trio.BrokenResourceError):
        pass
