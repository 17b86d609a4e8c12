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

from collections.abc import AsyncGenerator, Callable
from contextlib import aclosing

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
) -> AsyncGenerator[Batch, None]:
    """Yield batches of the thread's events after `after`, until shutdown or until the
    thread is deleted.

    Yields an empty batch after `idle_timeout` seconds without events, so the caller
    can send a heartbeat."""
    position = after
    generation = log.generation(thread_id)
    log.tails += 1
    try:
        while not shutdown.is_set() and log.generation(thread_id) == generation:
            batch = log.read_after(thread_id, position)
            if batch:
                position = batch[-1][0]
                yield batch
                continue
            with trio.move_on_after(idle_timeout) as idle:
                await log.wait_for_commit(thread_id)
            if idle.cancelled_caught:
                yield []
    finally:
        log.tails -= 1


# Decides, for each log event, the name a stream sends it as (None: skip it), and
# whether the stream ends after it.
Selector = Callable[[LogEvent], "tuple[str | None, bool]"]
Selected = list[tuple[EventId, LogEvent, str]]


async def tail_selected(
    log: EventLog,
    thread_id: str,
    after: EventId,
    select: Selector,
    *,
    shutdown: trio.Event,
    heartbeat: float = 5.0,
) -> AsyncGenerator[Selected, None]:
    """Batches of the events `select` picks, with their names, until the one that ends
    the stream. Yields an empty batch whenever nothing was picked for `heartbeat`
    seconds (also while the log moves but nothing in it is for this stream), so the
    caller can keep its connection alive."""
    last_yield = trio.current_time()
    async with aclosing(tail_thread(log, thread_id, after, shutdown=shutdown, idle_timeout=heartbeat)) as batches:
        async for batch in batches:
            picked: Selected = []
            done = False
            for position, event in batch:
                name, done = select(event)
                if name is not None:
                    picked.append((position, event, name))
                if done:
                    break
            if picked or trio.current_time() - last_yield >= heartbeat:
                yield picked
                last_yield = trio.current_time()
            if done:
                return
