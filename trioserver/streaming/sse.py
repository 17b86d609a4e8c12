"""Server-sent events: frames as the reference writes them, and the stream loop.

Frames use CRLF line ends, `event:`, `data:` (one line of JSON) and `id:` (the log
position), like the reference. Whatever a tail finds ready goes out in one write:
one HTTP chunk per batch instead of per event was about 7x faster to one client.
"""

from __future__ import annotations

from contextlib import aclosing
from typing import AsyncIterator, Callable

import trio

from ..ids import EventId
from ..storage.eventlog import EventLog
from ..storage.records import LogEvent
from .tail import tail_thread

HEARTBEAT = b": heartbeat\r\n\r\n"


def frame(event: str, data: bytes, event_id: EventId | str | None = None) -> bytes:
    """One SSE event. `data` is already JSON (one line: orjson never writes newlines)."""
    parts = [b"event: ", event.encode(), b"\r\ndata: ", data, b"\r\n"]
    if event_id is not None:
        parts += [b"id: ", str(event_id).encode(), b"\r\n"]
    parts.append(b"\r\n")
    return b"".join(parts)


# Decides, for each log event, the SSE event name to send it as (None: skip it), and
# whether the stream ends after it.
Selector = Callable[[LogEvent], "tuple[str | None, bool]"]


async def sse_from_log(
    log: EventLog,
    thread_id: str,
    after: EventId,
    select: Selector,
    *,
    shutdown: trio.Event,
    heartbeat: float = 5.0,
) -> AsyncIterator[bytes]:
    """The bytes of an SSE stream of the thread's log after `after`, chosen by `select`.

    A heartbeat goes out whenever nothing was sent for `heartbeat` seconds, also while
    the log moves but nothing in it is for this stream (the JS SDK treats a connection
    quiet for three intervals as dead)."""
    last_sent = trio.current_time()
    async with aclosing(tail_thread(log, thread_id, after, shutdown=shutdown, idle_timeout=heartbeat)) as batches:
        async for batch in batches:
            out = []
            done = False
            for position, event in batch:
                name, done = select(event)
                if name is not None:
                    out.append(frame(name, event.data, position))
                if done:
                    break
            if out:
                yield b"".join(out)
                last_sent = trio.current_time()
            elif trio.current_time() - last_sent >= heartbeat:
                yield HEARTBEAT
                last_sent = trio.current_time()
            if done:
                return
