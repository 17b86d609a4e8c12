"""The event log: per thread, an append-only sequence of `LogEvent`s keyed by position.

Key: thread UUID (16 bytes) + milliseconds (8, big-endian) + sequence (4, big-endian),
so key order is position order and "everything after X" is one range scan. Positions are
assigned here, in the trio thread, before the write is queued: appends are ordered by
construction, and stay monotonic per thread even when the clock steps back.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import trio

from ..ids import MAX_SUB, EventId
from .env import Store, Txn, Written
from .records import LogEvent

KEY_LEN = 16 + 12
SHARED_BATCH = 64  # batches up to this size are shared by the tails a commit wakes


def thread_key(thread_id: str) -> bytes:
    return uuid.UUID(thread_id).bytes


def event_key(thread_prefix: bytes, pos: EventId) -> bytes:
    return thread_prefix + pos.to_bytes()


class EventLog:
    """Appends to and reads from the `events` database, and wakes tails on commit."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.db = store.db("events")
        self._last: dict[str, EventId] = {}
        self._lots: dict[str, trio.lowlevel.ParkingLot] = {}
        self.appended = 0  # events given a position since start (for /metrics)
        self.tails = 0  # log tails open now: streams, joins, waits (for /metrics)
        # The last batch read per thread: tails woken by the same commit read the same
        # events from the same position; the first one reads LMDB, the others reuse it.
        self._batches: dict[str, tuple[EventId, list[tuple[EventId, LogEvent]]]] = {}
        # Threads a commit under way touched, with the last position it appends (if any).
        self._touched: dict[str, EventId | None] = {}
        # The last committed position of threads with appends since start (readers'
        # "now": `_last` runs ahead, by what is queued but not committed yet).
        self._committed: dict[str, EventId] = {}
        # Bumped when a thread's streams must end (the thread was deleted): tails compare.
        self._generations: dict[str, int] = {}
        store.on_commit(self._wake_touched)

    # -- positions -----------------------------------------------------------------

    def last_id(self, thread_id: str) -> EventId:
        """The position of the thread's newest event, committed or queued (ZERO when it
        has none): where the next append goes after. Readers want `committed_id`."""
        pos = self._last.get(thread_id)
        if pos is None:
            pos = self.store.read(lambda txn: self._read_last(txn, thread_id))
            self._last[thread_id] = pos
        return pos

    def committed_id(self, thread_id: str) -> EventId:
        """The position of the thread's newest committed event: what a reader starting
        "from now" starts after, so that it misses nothing a commit under way adds."""
        pos = self._committed.get(thread_id)
        if pos is None:
            pos = self.store.read(lambda txn: self._read_last(txn, thread_id))
        return pos

    def _read_last(self, txn: Txn, thread_id: str) -> EventId:
        prefix = thread_key(thread_id)
        cursor = txn.cursor(self.db)
        upper = prefix + b"\xff" * 12
        if cursor.set_range(upper):
            if cursor.key() == upper:
                return EventId.from_bytes(cursor.key()[16:])
            found = cursor.prev()
        else:
            found = cursor.last()
        if found and cursor.key()[:16] == prefix:
            return EventId.from_bytes(cursor.key()[16:])
        return EventId.ZERO

    def _next_ids(self, thread_id: str, count: int) -> list[EventId]:
        """`count` positions after the thread's last: in the current millisecond (or the
        last one used, if the clock went back), spilling into the next past MAX_SUB."""
        last = self.last_id(thread_id)
        ms = max(int(time.time() * 1000), last.ms)
        seq = last.seq + 1 if ms == last.ms else 0
        ids = []
        for _ in range(count):
            if seq > MAX_SUB:
                ms, seq = ms + 1, 0
            ids.append(EventId(ms, seq))
            seq += 1
        self._last[thread_id] = ids[-1]
        return ids

    # -- writing -------------------------------------------------------------------

    def prepare(self, thread_id: str, events: Iterable[LogEvent]) -> tuple[list[EventId], Callable[[Txn], None]]:
        """Assign positions to `events` and return them with the write op that stores them.

        Split from `append` so a caller can commit events in the same transaction as
        other records (a run's status together with its last events)."""
        events = list(events)
        self.appended += len(events)  # for /metrics
        ids = self._next_ids(thread_id, len(events))
        prefix = thread_key(thread_id)
        items = [(event_key(prefix, pos), ev.to_bytes()) for pos, ev in zip(ids, events)]

        def op(txn: Txn) -> None:
            cursor = txn.cursor(self.db)
            cursor.putmulti(items, append=False)
            previous = self._touched.get(thread_id)
            self._touched[thread_id] = ids[-1] if previous is None else max(previous, ids[-1])

        return ids, op

    async def append(self, thread_id: str, events: Iterable[LogEvent]) -> list[EventId]:
        """Append `events` and wait until they are committed (and so visible to tails)."""
        ids, op = self.prepare(thread_id, events)
        if ids:
            await self.store.write(op)
        return ids

    async def append_queued(self, thread_id: str, events: Iterable[LogEvent], *, on_done: Callable[[Any], None] | None = None) -> Written:
        """Append `events` without waiting for the commit (see `Store.enqueue`): they
        are visible to tails once committed, in order with every other append."""
        _, op = self.prepare(thread_id, events)
        return await self.store.enqueue(op, on_done=on_done)

    def delete_op(self, thread_id: str, *, below: bytes | None = None, limit: int | None = None) -> Callable[[Txn], int]:
        """A write op deleting a thread's events: those with keys below `below` (all when
        None), at most `limit` of them. It returns how many it deleted."""
        prefix = thread_key(thread_id)

        def op(txn: Txn) -> int:
            cursor = txn.cursor(self.db)
            deleted = 0
            if not cursor.set_range(prefix):
                return 0
            while cursor.key()[:16] == prefix and (below is None or cursor.key() < below) and (limit is None or deleted < limit):
                if not cursor.delete():
                    break
                deleted += 1
                if not cursor.key():
                    break
            if deleted:
                self._touched.setdefault(thread_id, None)  # drops cached batches after the commit
            return deleted

        if below is None:
            self.forget(thread_id)
        return op

    def forget(self, thread_id: str) -> None:
        """Drop what is cached about a thread whose log is gone."""
        self._last.pop(thread_id, None)
        self._committed.pop(thread_id, None)
        self._batches.pop(thread_id, None)

    # -- reading -------------------------------------------------------------------

    def read_after(self, thread_id: str, after: EventId, limit: int = 512) -> list[tuple[EventId, LogEvent]]:
        """Up to `limit` events positioned strictly after `after`, oldest first."""
        cached = self._batches.get(thread_id)
        if cached is not None and cached[0] == after and len(cached[1]) <= limit:
            return cached[1]
        prefix = thread_key(thread_id)
        start = event_key(prefix, EventId(after.ms, after.seq + 1)) if after.seq < 0xFFFFFFFF else event_key(prefix, EventId(after.ms + 1, 0))

        def read(txn: Txn) -> list[tuple[EventId, LogEvent]]:
            out: list[tuple[EventId, LogEvent]] = []
            cursor = txn.cursor(self.db)
            if not cursor.set_range(start):
                return out
            for key, value in cursor:
                if key[:16] != prefix or len(out) >= limit:
                    break
                out.append((EventId.from_bytes(key[16:]), LogEvent.from_bytes(value)))
            return out

        batch = self.store.read(read)
        # Only small batches (what a commit adds, read by every follower it wakes), and
        # only so many threads: a cache for fan-out, never a copy of replayed logs.
        if batch and len(batch) <= SHARED_BATCH:
            if len(self._batches) >= 256:
                self._batches.clear()
            self._batches[thread_id] = (after, batch)
        return batch

    def iter_after(self, thread_id: str, after: EventId, until: EventId | None = None) -> Iterator[tuple[EventId, LogEvent]]:
        """Every event after `after` (up to and including `until`), read in batches: what
        is in the log now, for a caller that does not follow it."""
        while until is None or after < until:
            batch = self.read_after(thread_id, after)
            if not batch:
                return
            for position, event in batch:
                if until is not None and position > until:
                    return
                yield position, event
            after = batch[-1][0]

    def first_id(self, thread_id: str) -> EventId | None:
        got = self.read_after(thread_id, EventId.ZERO, limit=1)
        return got[0][0] if got else None

    # -- waking --------------------------------------------------------------------

    async def wait_for_commit(self, thread_id: str) -> None:
        """Sleep until the next commit that touches this thread's log (or `wake_all`).

        No append can slip in between a caller's read and this wait: both happen in the
        trio thread with no checkpoint between them, and wake-ups run in the trio thread."""
        lot = self._lots.get(thread_id)
        if lot is None:
            lot = self._lots[thread_id] = trio.lowlevel.ParkingLot()
        try:
            await lot.park()
        finally:
            if not lot and self._lots.get(thread_id) is lot:
                del self._lots[thread_id]  # nobody waits on this thread any more

    def subscribers(self) -> int:
        """Tails waiting for the next commit now (for /metrics)."""
        return sum(len(lot) for lot in self._lots.values())

    def wake(self, thread_id: str) -> None:
        self._batches.pop(thread_id, None)
        lot = self._lots.get(thread_id)
        if lot is not None:
            lot.unpark_all()

    def generation(self, thread_id: str) -> int:
        """Changes when the thread's streams must end (see `end_streams`)."""
        return self._generations.get(thread_id, 0)

    def end_streams(self, thread_id: str) -> None:
        """End every tail of the thread (it was deleted): they see a new generation."""
        self._generations[thread_id] = self.generation(thread_id) + 1
        self.forget(thread_id)
        self.wake(thread_id)

    def wake_all(self) -> None:
        """Wake every waiting tail (at shutdown, so each sees the shutdown and ends)."""
        for lot in list(self._lots.values()):
            lot.unpark_all()

    def _wake_touched(self) -> None:
        touched, self._touched = self._touched, {}
        for thread_id, position in touched.items():
            if position is not None:
                self._committed[thread_id] = position
            self.wake(thread_id)
