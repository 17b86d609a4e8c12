"""A raw SSE parser for wire-level assertions (the SDK hides ids and comments)."""

from __future__ import annotations

import json
from typing import Any

import attrs


@attrs.define
class Event:
    event: str
    data: Any
    id: str | None
    raw: str


def parse(text: str) -> tuple[list[Event], int]:
    """The events in `text`, and the count of comment lines (heartbeats)."""
    events: list[Event] = []
    comments = 0
    for block in text.replace("\r\n", "\n").split("\n\n"):
        if not block.strip():
            continue
        fields: dict[str, str] = {}
        for line in block.split("\n"):
            if line.startswith(":"):
                comments += 1
                continue
            name, _, value = line.partition(": ")
            fields[name] = value
        if "event" in fields or "data" in fields:
            data = json.loads(fields["data"]) if fields.get("data") else None
            events.append(Event(fields.get("event", ""), data, fields.get("id"), block))
    return events, comments


async def read_until(http, url: str, until, *, headers: dict | None = None, params: dict | None = None, timeout: float = 20.0, connected=None) -> tuple[list[Event], int]:
    """GET an SSE stream and parse it until `until(events)` holds (or it ends). Returns the
    events and the count of comment lines seen (heartbeats). `connected` (an event) is
    set once the response has started: the server has chosen where the stream begins."""
    import anyio

    buffer = ""
    events: list[Event] = []
    comments = 0
    with anyio.fail_after(timeout):
        async with http.stream("GET", url, headers=headers or {}, params=params) as res:
            assert res.status_code == 200, await res.aread()
            if connected is not None:
                connected.set()
            async for text in res.aiter_text():
                buffer += text
                *blocks, buffer = buffer.replace("\r\n", "\n").split("\n\n")
                for block in blocks:
                    got, c = parse(block + "\n\n")
                    events += got
                    comments += c
                if until(events) or (comments and until.__code__.co_argcount > 1 and until(events, comments)):
                    break
    return events, comments


async def start_reading(http, url: str, until, **kwargs):
    """`read_until` in a task, returned once the stream is open (so whatever happens next
    is on it: a thread stream starts at the moment it opens)."""
    import asyncio

    connected = asyncio.Event()
    task = asyncio.create_task(read_until(http, url, until, connected=connected, **kwargs))
    done, _ = await asyncio.wait([task, asyncio.create_task(connected.wait())], timeout=10, return_when=asyncio.FIRST_COMPLETED)
    if task in done:
        task.result()  # raises what went wrong
    assert connected.is_set(), f"{url} did not open"
    return task
