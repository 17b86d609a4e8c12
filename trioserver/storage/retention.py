"""Event-log retention: a thread's log would otherwise grow forever.

A background task prunes, per thread, events older than `max_age` and all but the newest
`max_count`, plus the logs of threads that no longer exist (stateless runs' temporary
threads, after a grace period so their streams finish reading). Each deletion is a small
write op, so streams and runs never wait behind a long transaction; a tail positioned in
a pruned range simply continues from the oldest retained event, which is what `-`
then replays from.
"""

from __future__ import annotations

import logging
import time
import uuid
from functools import partial

import attrs
import trio

from ..ids import EventId
from .env import Txn
from .eventlog import EventLog, thread_key
from .tables import Tables

log = logging.getLogger(__name__)

CHUNK = 10_000  # events deleted per write op at most


@attrs.define
class RetentionPolicy:
    max_age: float = 30 * 24 * 3600.0  # seconds
    max_count: int = 200_000  # events per thread
    orphan_grace: float = 60.0  # seconds a deleted thread's log is kept for its readers
    interval: float = 60.0  # seconds between sweeps


def thread_ids_in_log(log_: EventLog) -> list[str]:
    """Every thread that has events, by seeking from one thread prefix to the next."""

    def read(txn: Txn) -> list[str]:
        cursor = txn.cursor(log_.db)
        out = []
        found = cursor.first()
        while found:
            prefix = cursor.key()[:16]
            out.append(str(uuid.UUID(bytes=prefix)))
            found = cursor.set_range(prefix + b"\xff" * 12) and (cursor.key()[:16] != prefix or cursor.next())
        return out

    return log_.store.read(read)


def find_cut(log_: EventLog, thread_id: str, *, before: EventId, keep: int) -> bytes:
    """The key below which the thread's events go: older than `before`, or beyond the
    newest `keep`. Walks back from the end in a read transaction, so call it in a worker
    thread: on a long log that walk takes a while, and nothing should wait for it."""
    prefix = thread_key(thread_id)
    cut = prefix + before.to_bytes()
    with log_.store.reading() as txn:
        cursor = txn.cursor(db=log_.db)
        if cursor.set_range(prefix + b"\xff" * 12):
            found = cursor.prev()
        else:
            found = cursor.last()
        kept = 0
        while found and cursor.key()[:16] == prefix and kept < keep:
            kept += 1
            found = cursor.prev()
        if found and kept >= keep and cursor.key()[:16] == prefix:
            cut = max(cut, cursor.key() + b"\x00")
    return cut


async def prune_once(log_: EventLog, tables: Tables, policy: RetentionPolicy, *, now: float | None = None) -> int:
    """One sweep over every thread's log. Returns the number of events deleted."""
    now = time.time() if now is None else now
    before = EventId(max(0, int((now - policy.max_age) * 1000)), 0)
    orphan_before = EventId(max(0, int((now - policy.orphan_grace) * 1000)), 0)
    total = 0
    for thread_id in await trio.to_thread.run_sync(thread_ids_in_log, log_):
        thread = tables.get_thread(thread_id)
        if thread is None or thread.temporary:
            if log_.last_id(thread_id) >= orphan_before:
                continue  # recently active: its readers may still be on it
            cut = None  # all of it
        else:
            cut = await trio.to_thread.run_sync(partial(find_cut, log_, thread_id, before=before, keep=policy.max_count))
        while True:
            deleted = await log_.store.write(log_.delete_op(thread_id, below=cut, limit=CHUNK))
            total += deleted
            if deleted < CHUNK:
                break
    if total:
        log.info("retention: pruned %d events", total)
    return total


async def run_retention(log_: EventLog, tables: Tables, policy: RetentionPolicy, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
    """Sweep every `policy.interval` seconds, until cancelled."""
    task_status.started()
    while True:
        await trio.sleep(policy.interval)
        try:
            await prune_once(log_, tables, policy)
        except Exception:  # noqa: BLE001 - retention must never take the server down
            log.exception("retention sweep failed")
