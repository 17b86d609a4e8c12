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
