"""Running asyncio code (LangGraph) from trio: one dedicated event loop in one thread.

A dedicated loop cost 7-11 us per handed-back item and ran about 900 runs/s in
isolation; trio-asyncio ran about 315 and slowed all asyncio code. Items come back
through `TrioToken.run_sync_soon`; a `Backpressure` lets the trio side hold a producer
that runs ahead of it.

Sync nodes run in the loop's default executor, a `SyncPool`. A sync node cannot be
cancelled: when its run is cancelled, the thread keeps running the node until it
returns. The pool therefore grows instead of queueing (threads are made only when none
is idle, up to a large cap), so such threads cannot starve live runs, and it counts
what each run still has running there, for the logs.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import threading
import weakref
from collections.abc import Awaitable, Callable, Coroutine
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

import trio

log = logging.getLogger(__name__)

T = TypeVar("T")

# The run whose graph the current asyncio task drives ("" outside runs).
current_run: contextvars.ContextVar[str] = contextvars.ContextVar("trioserver_current_run", default="")

SYNC_WORKERS = 256
CANCEL_GRACE = 5.0  # seconds a cancelled graph gets to stop before it is abandoned


_pools: weakref.WeakSet[SyncPool] = weakref.WeakSet()


def sync_work_in_flight() -> int:
    """Sync calls still running in any graph loop's pool (Python waits for them at exit)."""
    return sum(pool.busy() for pool in list(_pools))


class SyncPool(ThreadPoolExecutor):
    """The graph loop's default executor: grows rather than queues, and counts the sync
    work in flight per run."""

    def __init__(self, max_workers: int = SYNC_WORKERS) -> None:
        super().__init__(max_workers=max_workers, thread_name_prefix="graph-sync")
        self._lock = threading.Lock()
        self._busy: dict[str, int] = {}
        _pools.add(self)

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        run_id = current_run.get()

        def tracked() -> T:
            with self._lock:
                self._busy[run_id] = self._busy.get(run_id, 0) + 1
            try:
                return fn(*args, **kwargs)
            finally:
                with self._lock:
                    left = self._busy[run_id] - 1
                    if left:
                        self._busy[run_id] = left
                    else:
                        del self._busy[run_id]

        return super().submit(tracked)

    def busy(self, run_id: str | None = None) -> int:
        """Sync calls running now: all of them, or those of one run."""
        with self._lock:
            return sum(self._busy.values()) if run_id is None else self._busy.get(run_id, 0)


class Backpressure:
    """How far a producer on the graph loop may run ahead of its trio consumer.

    The producer counts what it emits and awaits `throttle()` between items; the trio
    side acknowledges what it has consumed with `ack(n)`, one thread hop per batch. All
    counting happens on the loop's thread."""

    def __init__(self, loop: asyncio.AbstractEventLoop, limit: int) -> None:
        self.loop = loop
        self.limit = limit
        self.sent = 0
        self._acked = 0
        self._room: asyncio.Event | None = None

    async def throttle(self) -> None:
        while self.sent - self._acked > self.limit:
            self._room = asyncio.Event()
            await self._room.wait()

    def ack(self, count: int) -> None:
        """From the trio thread: `count` more items were consumed."""
        try:
            self.loop.call_soon_threadsafe(self._on_ack, count)
        except RuntimeError:  # the loop is closed: nobody is waiting any more
            pass

    def _on_ack(self, count: int) -> None:
        self._acked += count
        if self._room is not None and self.sent - self._acked <= self.limit:
            self._room.set()


class AsyncioBridge:
    """Owns the asyncio loop thread (and its sync pool) for the server's lifetime."""

    def __init__(self, *, sync_workers: int = SYNC_WORKERS, cancel_grace: float = CANCEL_GRACE) -> None:
        self.loop = asyncio.new_event_loop()
        self.pool = SyncPool(sync_workers)
        self.loop.set_default_executor(self.pool)
        self.cancel_grace = cancel_grace
        self.abandoned = 0  # graphs that ignored cancellation
        self._thread = threading.Thread(target=self._run_loop, name="asyncio-graphs", daemon=True)
        self._thread.start()

    def _run_loop(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def close(self) -> None:
        """Stop the loop. Sync work still running in the pool is left to finish (it
        cannot be stopped); `lingering()` says how much there is."""
        if self.loop.is_running():
            self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=5)
        self.pool.shutdown(wait=False, cancel_futures=True)

    def lingering(self) -> int:
        return self.pool.busy()

    async def call(self, make: Callable[[], Awaitable[T]], *, label: str = "graph call") -> T:
        """Await the coroutine `make()` on the asyncio loop; cancelling the trio caller cancels it."""
        result: list[T] = []

        async def collect(_: Callable[[Any], None]) -> None:
            result.append(await make())

        await self.pump(collect, lambda item: None, label=label)
        return result[0]

    async def pump(
        self,
        produce: Callable[[Callable[[Any], None]], Coroutine[Any, Any, None]],
        deliver: Callable[[Any], None],
        *,
        label: str = "graph",
        on_abandon: Callable[[], None] | None = None,
    ) -> None:
        """Run `produce(emit)` on the asyncio loop; each `emit(item)` calls `deliver(item)`
        in trio, in order.

        Returns when `produce` finishes, re-raising its exception. If the trio caller is
        cancelled, the asyncio task is cancelled and waited for, up to `cancel_grace`
        seconds; a task that ignores its cancellation longer is abandoned (logged, and
        `on_abandon` called), and what it emits afterwards is dropped."""
        token = trio.lowlevel.current_trio_token()
        started = trio.Event()
        finished = trio.Event()
        task_box: list[asyncio.Task[None]] = []
        abandoned = False

        def emit(item: Any) -> None:
            if not abandoned:
                token.run_sync_soon(_safe, deliver, item)

        def on_done(_: asyncio.Future[None]) -> None:
            try:
                token.run_sync_soon(finished.set)
            except trio.RunFinishedError:
                pass

        def start_in_loop() -> None:
            task: asyncio.Task[None] = self.loop.create_task(produce(emit))
            task.add_done_callback(on_done)
            task_box.append(task)
            token.run_sync_soon(started.set)

        self.loop.call_soon_threadsafe(start_in_loop)
        try:
            await finished.wait()
        except BaseException:
            with trio.CancelScope(shield=True):
                with trio.move_on_after(self.cancel_grace) as waited:
                    await started.wait()
                    self.loop.call_soon_threadsafe(task_box[0].cancel)
                    await finished.wait()
                if waited.cancelled_caught:
                    abandoned = True
                    self.abandoned += 1
                    log.warning("%s: the graph ignored cancellation for %.0f s and was abandoned", label, self.cancel_grace)
                    if on_abandon is not None:
                        on_abandon()
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
