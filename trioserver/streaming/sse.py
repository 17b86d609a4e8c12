"""Server-sent events: frames as the reference writes them, and the stream loop.

Frames use CRLF line ends, `event:`, `data:` (one line of JSON) and `id:` (the log
position), like the reference. Whatever a tail finds ready goes out in one write:
one HTTP chunk per batch instead of per event was about 7x faster to one client.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable
from contextlib import aclosing
from typing import TypeVar

import trio

from ..ids import EventId
from ..storage.eventlog import EventLog
from .tail import Selector, tail_selected

HEARTBEAT = b": heartbeat\r\n\r\n"

Item = TypeVar("Item")


def frame(event: str, data: bytes, event_id: EventId | str | int | None = None) -> bytes:
    """One SSE event. `data` is already JSON (one line: orjson never writes newlines)."""
    parts = [b"event: ", event.encode(), b"\r\ndata: ", data, b"\r\n"]
    if event_id is not None:
        parts += [b"id: ", str(event_id).encode(), b"\r\n"]
    parts.append(b"\r\n")
    return b"".join(parts)


async def sse_from_log(
    log: EventLog,
    thread_id: str,
    after: EventId,
    select: Selector,
    *,
    shutdown: trio.Event,
    heartbeat: float = 5.0,
) -> AsyncGenerator[bytes, None]:
    """The bytes of an SSE stream of the thread's log after `after`, chosen by `select`;
    a heartbeat comment when nothing was sent for `heartbeat` seconds (the JS SDK treats
    a connection quiet for three intervals as dead)."""
    batches = tail_selected(log, thread_id, after, select, shutdown=shutdown, heartbeat=heartbeat)
    async for chunk in sse_chunks(batches, lambda item: frame(item[2], item[1].data, item[0])):
        yield chunk


async def sse_chunks(batches: AsyncGenerator[list[Item], None], render: Callable[[Item], bytes]) -> AsyncGenerator[bytes, None]:
    """One write per batch of a tail (each item rendered as a frame), and a heartbeat for
    each empty batch. Closes `batches` when the stream ends."""
    async with aclosing(batches) as ready:
        async for batch in ready:
            yield b"".join(render(item) for item in batch) if batch else HEARTBEAT
