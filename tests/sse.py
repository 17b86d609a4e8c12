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


async def read_until(http, url: str, until, *, headers: dict | None = None, params: dict | None = None, timeout: float = 20.0) -> tuple[list[Event], int]:
    """GET an SSE stream and parse it until `until(events)` holds (or it ends). Returns the
    events and the count of comment lines seen (heartbeats)."""
    import anyio

    buffer = ""
    events: list[Event] = []
    comments = 0
    with anyio.fail_after(timeout):
        async with http.stream("GET", url, headers=headers or {}, params=params) as res:
            assert res.status_code == 200, await res.aread()
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
