"""The LMDB environment and its single writer.

LMDB allows one write transaction at a time and an fsync per commit costs about as
much as thousands of appends. So every write in the server is a small function handed
to one writer task, which runs whatever has queued up in one transaction, in a worker
thread, commits once, and only then reports each result. A batch forms by itself while
the previous commit is under way: no timer, no added latency when the server is idle.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import threading
import time
from typing import Any, Callable, TypeVar

import attrs
import lmdb
import outcome
import trio

log = logging.getLogger(__name__)

T = TypeVar("T")

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

MAX_BATCH = 1024


@attrs.define
class _Pending:
    op: Callable[[lmdb.Transaction], Any]
    done: trio.Event = attrs.field(factory=trio.Event)
    result: outcome.Outcome | None = None
    on_done: Callable[[outcome.Outcome], None] | None = None  # for writers outside trio


class Store:
    """One LMDB environment, its named databases, and the writer that owns all writes."""

    def __init__(self, path: str, *, durability: str = "full", map_size: int = 1 << 36) -> None:
        os.makedirs(path, exist_ok=True)
        if durability not in DURABILITY:
            raise ValueError(f"durability must be one of {sorted(DURABILITY)}")
        self.path = path
        self.durability = durability
        self.env = lmdb.open(
            path,
            map_size=map_size,
            max_dbs=32,
            max_readers=512,
            subdir=True,
            lock=True,
            **DURABILITY[durability],
        )
        self.dbs = {name.decode(): self.env.open_db(name) for name in DB_NAMES}
        self._send, self._receive = trio.open_memory_channel[_Pending](math.inf)
        self._token: trio.lowlevel.TrioToken | None = None
        self._after_commit: list[Callable[[], None]] = []

    def close(self) -> None:
        self.env.close()

    def db(self, name: str):
        return self.dbs[name]

    def read(self, fn: Callable[[lmdb.Transaction], T]) -> T:
        """Run `fn` in a read transaction, inline: LMDB reads take microseconds.
        Never await inside `fn`: a read transaction pins a reader slot and old pages."""
        with self.env.begin(buffers=False) as txn:
            return fn(txn)

    async def write(self, op: Callable[[lmdb.Transaction], T]) -> T:
        """Queue `op` for the writer and wait until its transaction is committed.

        `op` runs in the writer's thread in its own nested transaction: if it raises,
        only its own changes are undone, and the exception is raised here.
        """
        pending = _Pending(op)
        self._send.send_nowait(pending)
        await pending.done.wait()
        assert pending.result is not None
        return pending.result.unwrap()

    async def write_from_asyncio(self, op: Callable[[lmdb.Transaction], T]) -> T:
        """`write`, awaited on the asyncio loop that runs the graphs: the checkpointer's
        puts join the writer's group commits (one fsync for many graphs' steps), and the
        loop keeps running other graphs while the commit is under way."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future = loop.create_future()

        def done(result: outcome.Outcome) -> None:  # in the trio thread, after the commit
            loop.call_soon_threadsafe(_settle, future, result)

        if self._token is None:
            raise StorageError("the store's writer is not running")
        self._token.run_sync_soon(self._send.send_nowait, _Pending(op, on_done=done))
        return await future

    def on_commit(self, hook: Callable[[], None]) -> None:
        """Call `hook` (in the trio thread) after every commit."""
        self._after_commit.append(hook)

    async def run_writer(self, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        """The writer task: runs until cancelled, committing batches in a worker thread."""
        self._token = trio.lowlevel.current_trio_token()
        task_status.started()
        async with trio.open_nursery() as nursery:
            if self.durability == "fast":
                nursery.start_soon(self._flush_every_second)
            while True:
                batch = [await self._receive.receive()]
                while len(batch) < MAX_BATCH:
                    try:
                        batch.append(self._receive.receive_nowait())
                    except trio.WouldBlock:
                        break
                # Shielded: a batch that has started must finish, or callers would hang.
                with trio.CancelScope(shield=True):
                    await trio.to_thread.run_sync(self._commit, batch)
                for pending in batch:
                    pending.done.set()
                    if pending.on_done is not None:
                        pending.on_done(pending.result)
                for hook in self._after_commit:
                    hook()

    async def _flush_every_second(self) -> None:
        while True:
            await trio.sleep(1)
            await trio.to_thread.run_sync(self.env.sync, True)

    def _commit(self, batch: list[_Pending]) -> None:
        while True:
            try:
                with self.env.begin(write=True) as txn:
                    for pending in batch:
                        pending.result = self._run_nested(txn, pending.op)
                return
            except lmdb.MapFullError:
                grow_map(self.env)
            except lmdb.Error as exc:  # disk full, I/O error: every op in the batch fails
                log.error("LMDB commit failed: %s", exc)
                for pending in batch:
                    pending.result = outcome.Error(StorageError(str(exc)))
                return

    def _run_nested(self, txn: lmdb.Transaction, op: Callable[[lmdb.Transaction], Any]) -> outcome.Outcome:
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


_GROW_LOCK = threading.Lock()


def _settle(future: asyncio.Future, result: outcome.Outcome) -> None:
    if future.cancelled():
        return
    if isinstance(result, outcome.Value):
        future.set_result(result.value)
    else:
        future.set_exception(result.error)


def grow_map(env: lmdb.Environment) -> None:
    """Double the map, one growth at a time per process. LMDB refuses while another
    thread has a write transaction open, so wait briefly for a gap. (The map is opened
    large — 64 GiB of address space, not of disk — so this is rare.)"""
    with _GROW_LOCK:
        size = env.info()["map_size"] * 2
        log.info("LMDB map full, growing to %d MiB", size >> 20)
        for _ in range(200):
            try:
                env.set_mapsize(size)
                return
            except lmdb.Error:
                time.sleep(0.005)
        env.set_mapsize(size)


def write_now(env: lmdb.Environment, fn: Callable[[lmdb.Transaction], T]) -> T:
    """Run `fn` in one short write transaction of its own, in the calling thread; on a
    full map, grow it and retry once. For the components LangGraph calls from its own
    threads (checkpointer, store), which cannot wait for the trio writer."""
    try:
        with env.begin(write=True) as txn:
            return fn(txn)
    except lmdb.MapFullError:
        grow_map(env)
        with env.begin(write=True) as txn:
            return fn(txn)


class StorageError(Exception):
    """The store could not commit (disk full, I/O error). The store itself stays readable."""
