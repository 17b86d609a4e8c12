"""Tailing a thread's event log: replay and live follow are one loop.

Read everything after the position; when nothing is left, wait for the next commit
that touches the thread (or a heartbeat interval, or shutdown) and read again. Reading
and starting to wait happen with no checkpoint between them, so an append is never
missed in that gap, and since each read starts after the last position seen, nothing is read twice.
Shutdown wakes every tail (`EventLog.wake_all`) so each sees it and ends.
A reader that stops consuming stops the tail too: nothing is buffered for it but the
batch in hand, and it can always resume from its last id.
"""

from __future__ import annotations

from typing import AsyncIterator

import trio

from ..ids import EventId
from ..storage.eventlog import EventLog
from ..storage.records import LogEvent

Batch = list[tuple[EventId, LogEvent]]


async def tail_thread(
    log: EventLog,
    thread_id: str,
    after: EventId,
    *,
    shutdown: trio.Event,
    idle_timeout: float = 5.0,
) -> AsyncIterator[Batch]:
    """Yield batches of the thread's events after `after`, forever (until shutdown).

    Yields an empty batch after `idle_timeout` seconds without events, so the caller
    can send a heartbeat."""
    position = after
    while not shutdown.is_set():
        batch = log.read_after(thread_id, position)
        if batch:
            position = batch[-1][0]
            yield batch
            continue
        with trio.move_on_after(idle_timeout) as idle:
            await log.wait_for_commit(thread_id)
        if idle.cancelled_caught:
            yield []
