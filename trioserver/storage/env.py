"""The LMDB environment and its single writer: the one write path of the server.

LMDB allows one write transaction at a time and an fsync per commit costs about as
much as thousands of appends. So every write in the server is a small function (an
"op") handed to one writer task, which runs whatever has queued up in one
transaction, in a worker thread, commits once, and only then reports each result. A
batch forms by itself while the previous commit is under way: no timer, no added
latency when the server is idle.

Ops arrive from three kinds of callers, each with its own entry point:
- trio tasks: `await store.write(op)`;
- the asyncio loop that runs the graphs (checkpoints, `store.aput`): `await store.awrite(op)`;
- any other thread (LangGraph's sync checkpointer calls): `store.write_blocking(op)`.
All three end in the same queue and the same commit. Without a running writer (tools,
tests of one component) ops commit directly, one transaction each, through the same
`_commit`.

A write is atomic under cancellation, as a trio channel operation is: cancelled before
the writer took it, it is dropped and `Cancelled` is raised with nothing done; once
taken, the caller waits (shielded) for the commit and gets its result, and the
cancellation is delivered at its next checkpoint. So a caller never mistakes a committed
write for one that did not happen.

Reads run inline in short transactions, behind a gate that map growth closes: LMDB
forbids resizing the map while any transaction of the process is open.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import logging
import os
import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

import attrs
import lmdb
import outcome
import trio

log = logging.getLogger(__name__)

T = TypeVar("T")
# Every transaction reads with buffers=False: values are bytes, never memoryviews.
if TYPE_CHECKING:
    Txn = lmdb.Transaction[bytes]
    Cursor = lmdb.Cursor[bytes]
else:
    Txn = lmdb.Transaction
    Cursor = lmdb.Cursor
Op = Callable[[Txn], Any]

DB_NAMES = (
    b"events",
    b"threads",
    b"runs",
    b"thread_runs",
    b"assistants",
    b"assistant_versions",
    b"meta",
)

# What each durability mode costs and risks (documented in README.md).
DURABILITY = {
    # fsync data and metadata on every commit: nothing acknowledged is ever lost.
    "full": dict(sync=True, metasync=True),
    # fsync data, not the meta page: a power cut may lose the last commit; a process crash loses nothing.
    "relaxed": dict(sync=True, metasync=False),
    # no fsync on commit, flushed once a second: a power cut may lose about a second; a process crash loses nothing.
    "fast": dict(sync=False, metasync=False),
}

MAX_BATCH = 1024  # ops per commit at most
# Upper bounds (seconds) of the commit-latency histogram /metrics shows.
COMMIT_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
QUEUE_LIMIT = 4096  # ops waiting for the writer at most: trio writers wait beyond it


@attrs.define(eq=False)
class _Pending:
    op: Op
    on_done: Callable[[outcome.Outcome], None] | None = None  # for writers outside trio
    done: trio.Event = attrs.field(factory=trio.Event)
    result: outcome.Outcome | None = None
    taken: bool = False  # the writer has it: it will commit (or fail) as a whole
    abandoned: bool = False  # cancelled before it was taken: the writer skips it


class Written:
    """A write queued by `Store.enqueue`."""

    def __init__(self, pending: _Pending) -> None:
        self._pending = pending

    @property
    def committed(self) -> bool:
        return self._pending.done.is_set()

    async def wait(self) -> Any:
        """Wait for the commit (shielded: it happens anyway) and return the op's result."""
        with trio.CancelScope(shield=True):
            await self._pending.done.wait()
        assert self._pending.result is not None
        return self._pending.result.unwrap()


class StorageError(Exception):
    """The store could not commit (disk full, I/O error). The store itself stays readable."""


class ReadGate:
    """Shared for reads, exclusive for growing the map (LMDB forbids resizing while any
    transaction of the process is open). Uncontended, a read costs two lock round trips."""

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._readers = 0
        self._closed = False

    @contextlib.contextmanager
    def shared(self) -> Iterator[None]:
        with self._cond:
            while self._closed:
                self._cond.wait()
            self._readers += 1
        try:
            yield
        finally:
            with self._cond:
                self._readers -= 1
                if self._readers == 0 and self._closed:
                    self._cond.notify_all()

    @contextlib.contextmanager
    def exclusive(self) -> Iterator[None]:
        with self._cond:
            while self._closed:
                self._cond.wait()
            self._closed = True
            while self._readers:
                self._cond.wait()
        try:
            yield
        finally:
            with self._cond:
                self._closed = False
                self._cond.notify_all()


class Store:
    """One LMDB environment, its named databases, and the writer that owns all writes."""

    def __init__(self, path: str, *, durability: str = "full", map_size: int = 1 << 36, max_dbs: int = 32) -> None:
        os.makedirs(path, exist_ok=True)
        if durability not in DURABILITY:
            raise ValueError(f"durability must be one of {sorted(DURABILITY)}")
        self.path = path
        self.durability = durability
        self.env = lmdb.open(path, map_size=map_size, max_dbs=max_dbs, max_readers=512, subdir=True, lock=True, **DURABILITY[durability])
        self.gate = ReadGate()
        self._dbs: dict[str, Any] = {}
        for name in DB_NAMES:
            self.db(name.decode())
        self._send, self._receive = trio.open_memory_channel[_Pending](QUEUE_LIMIT)
        self._token: trio.lowlevel.TrioToken | None = None
        self._nursery: trio.Nursery | None = None
        self._after_commit: list[Callable[[], None]] = []
        self.commits = 0  # counters for /metrics
        self.ops_committed = 0
        self.commit_seconds = 0.0
        self.commit_latency = [0] * (len(COMMIT_BUCKETS) + 1)  # commits per latency bucket (the last: slower)

    def close(self) -> None:
        self.env.close()

    def db(self, name: str) -> Any:
        """The named database `name`, opened (created) on first use."""
        handle = self._dbs.get(name)
        if handle is None:
            handle = self._dbs[name] = self.env.open_db(name.encode())
        return handle

    @property
    def writer_running(self) -> bool:
        return self._token is not None

    # -- reading -------------------------------------------------------------------

    def read(self, fn: Callable[[Txn], T]) -> T:
        """Run `fn` in a read transaction, inline: LMDB reads take microseconds.
        Never await or yield inside `fn`: a read transaction pins a reader slot and old
        pages, and holds the gate that map growth waits for."""
        with self.reading() as txn:
            return fn(txn)

    @contextlib.contextmanager
    def reading(self) -> Iterator[Txn]:
        """A read transaction behind the gate, for readers that walk a cursor; the same
        rules as `read`."""
        with self.gate.shared(), self.env.begin(buffers=False) as txn:
            yield txn

    # -- writing -------------------------------------------------------------------

    async def write(self, op: Callable[[Txn], T]) -> T:
        """Queue `op` for the writer (from a trio task) and wait until it is committed.

        `op` runs in the writer's thread in its own nested transaction: if it raises,
        only its own changes are undone, and the exception is raised here. Atomic under
        cancellation (see the module docstring)."""
        if self._token is None:
            return self._commit_one(op)
        pending = _Pending(op)
        await self._send.send(pending)  # cancelled here: nothing was queued
        try:
            await pending.done.wait()
        except trio.Cancelled:
            if not pending.taken:
                pending.abandoned = True
                raise
            with trio.CancelScope(shield=True):
                await pending.done.wait()
        assert pending.result is not None
        return pending.result.unwrap()

    async def enqueue(self, op: Callable[[Txn], Any], *, on_done: Callable[[outcome.Outcome], None] | None = None) -> Written:
        """Queue `op` for the writer (from a trio task) without waiting for its commit:
        a producer that writes often (a run's event batches) keeps going while earlier
        writes commit, so several of them share one commit. Waits only when the writer's
        queue is full. Queued ops commit in order; `await written.wait()` for the
        result. Once queued, an op is committed even if its caller is cancelled."""
        pending = _Pending(op, on_done=on_done)
        if self._token is None:
            self._commit([pending])
            pending.done.set()
            if on_done is not None:
                assert pending.result is not None
                on_done(pending.result)
        else:
            await self._send.send(pending)
        return Written(pending)

    async def awrite(self, op: Callable[[Txn], T]) -> T:
        """`write`, awaited on the asyncio loop that runs the graphs: checkpoints join the
        writer's group commits (one fsync for many graphs' steps), and the loop keeps
        running other graphs while the commit is under way. Once queued, the op commits
        even if the awaiting asyncio task is cancelled."""
        token = self._token
        if token is None:
            return self._commit_one(op)
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()

        def done(result: outcome.Outcome) -> None:  # in the trio thread, after the commit
            loop.call_soon_threadsafe(_settle, future, result)

        token.run_sync_soon(self._enqueue_foreign, _Pending(op, on_done=done))
        return await future

    def write_blocking(self, op: Callable[[Txn], T]) -> T:
        """`write` from a thread that is neither trio's nor able to await: blocks until
        the commit. (Never call it from the trio thread: the writer runs there.)"""
        token = self._token
        if token is None:
            return self._commit_one(op)
        if trio.lowlevel.in_trio_run():
            raise RuntimeError("write_blocking called from the trio thread; use `await write()`")
        finished = threading.Event()
        box: list[outcome.Outcome] = []

        def done(result: outcome.Outcome) -> None:
            box.append(result)
            finished.set()

        token.run_sync_soon(self._enqueue_foreign, _Pending(op, on_done=done))
        finished.wait()
        return box[0].unwrap()

    def _enqueue_foreign(self, pending: _Pending) -> None:
        """Queue a write from outside trio (in the trio thread): at once when there is
        room, else from a task of the writer's nursery that waits for room."""
        try:
            self._send.send_nowait(pending)
        except trio.WouldBlock:
            assert self._nursery is not None
            self._nursery.start_soon(self._send.send, pending)
        except trio.ClosedResourceError:
            if pending.on_done is not None:
                pending.on_done(outcome.Error(StorageError("the store is closed")))

    def on_commit(self, hook: Callable[[], None]) -> None:
        """Call `hook` (in the trio thread) after every commit."""
        self._after_commit.append(hook)

    async def run_writer(self, *, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        """The writer task: runs until cancelled, committing batches in a worker thread."""
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            self._token = trio.lowlevel.current_trio_token()
            if self.durability == "fast":
                nursery.start_soon(self._flush_every_second)
            task_status.started()
            try:
                while True:
                    batch = self._take([await self._receive.receive()])
                    while len(batch) < MAX_BATCH:
                        try:
                            batch += self._take([self._receive.receive_nowait()])
                        except trio.WouldBlock:
                            break
                    if not batch:
                        continue
                    # Shielded: a batch that has started must finish, or callers would hang.
                    with trio.CancelScope(shield=True):
                        started = trio.current_time()
                        await trio.to_thread.run_sync(self._commit, batch)
                        elapsed = trio.current_time() - started
                        self.commit_seconds += elapsed
                        self.commit_latency[bisect.bisect_left(COMMIT_BUCKETS, elapsed)] += 1
                    self.commits += 1
                    self.ops_committed += len(batch)
                    for pending in batch:
                        pending.done.set()
                        if pending.on_done is not None:
                            assert pending.result is not None
                            pending.on_done(pending.result)
                    for hook in self._after_commit:
                        hook()
            finally:
                self._token = None
                self._nursery = None

    @staticmethod
    def _take(pendings: list[_Pending]) -> list[_Pending]:
        taken = [p for p in pendings if not p.abandoned]
        for pending in taken:
            pending.taken = True
        return taken

    async def _flush_every_second(self) -> None:
        while True:
            await trio.sleep(1)
            await trio.to_thread.run_sync(self.env.sync, True)

    def _commit_one(self, op: Callable[[Txn], T]) -> T:
        """Without a writer: commit `op` in a transaction of its own, in this thread."""
        pending = _Pending(op)
        self._commit([pending])
        assert pending.result is not None
        return pending.result.unwrap()

    def _commit(self, batch: list[_Pending]) -> None:
        while True:
            try:
                with self.env.begin(write=True) as txn:
                    for pending in batch:
                        pending.result = self._run_nested(txn, pending.op)
                return
            except lmdb.MapFullError:
                self.grow_map()
            except lmdb.Error as exc:  # disk full, I/O error: every op in the batch fails
                log.error("LMDB commit failed: %s", exc)
                for pending in batch:
                    pending.result = outcome.Error(StorageError(str(exc)))
                return

    def _run_nested(self, txn: Txn, op: Op) -> outcome.Outcome:
        child = self.env.begin(write=True, parent=txn)
        try:
            value = op(child)
        except lmdb.MapFullError:
            child.abort()
            raise
        except BaseException as exc:  # noqa: BLE001 - handed back to the caller
            child.abort()
            return outcome.Error(exc)
        child.commit()
        return outcome.Value(value)

    def grow_map(self) -> None:
        """Double the map once every open read transaction has ended (LMDB's rule). Called
        by the writer between transactions. (The map is opened large — 64 GiB of address
        space, not of disk — so this is rare.)"""
        with self.gate.exclusive():
            size = self.env.info()["map_size"] * 2
            log.info("LMDB map full, growing to %d MiB", size >> 20)
            self.env.set_mapsize(size)


def _settle(future: asyncio.Future, result: outcome.Outcome) -> None:
    if future.cancelled():
        return
    if isinstance(result, outcome.Value):
        future.set_result(result.value)
    else:
        assert isinstance(result, outcome.Error)
        future.set_exception(result.error)


def combine(*ops: Callable[[Txn], Any]) -> Callable[[Txn], list[Any]]:
    """One op doing `ops` in order, in one transaction: several records change together
    or not at all."""

    def op(txn: Txn) -> list[Any]:
        return [o(txn) for o in ops]

    return op
