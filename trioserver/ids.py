"""Identifiers: UUIDs for resources, Redis-stream-shaped ids for log positions.

The SSE `id:` is a log position. It has the reference's shape, `<ms>-<seq>`, because
clients (the JS SDK's reconnect logic) only send back ids of that shape, and because
"resume after X" is then a plain range scan over keys ordered the same way.
"""

from __future__ import annotations

import datetime as _dt
import functools
import struct
import uuid
from typing import ClassVar

from langchain_core.utils.uuid import uuid7 as _uuid7

# The reference server derives each graph's default assistant id from this namespace.
NAMESPACE_GRAPH = uuid.UUID("6ba7b821-9dad-11d1-80b4-00c04fd430c8")

_POS = struct.Struct(">QI")
# Events per millisecond per thread: the log spills into the next millisecond beyond
# it, so that a position is also one integer (the event streaming protocol's `seq`).
SEQ_BITS = 10
MAX_SUB = (1 << SEQ_BITS) - 1


def new_id() -> str:
    """A time-ordered UUID (v7), as the reference uses for threads and runs."""
    return str(_uuid7())


@functools.lru_cache(maxsize=1024)
def graph_assistant_id(graph_id: str) -> str:
    """The deterministic id of a graph's default assistant (same as the reference)."""
    return str(uuid.uuid5(NAMESPACE_GRAPH, graph_id))


def parse_uuid(value: str) -> uuid.UUID | None:
    """The UUID in `value`, or None when it is not one."""
    try:
        return uuid.UUID(str(value))
    except (ValueError, AttributeError, TypeError):
        return None


def now() -> _dt.datetime:
    return _dt.datetime.now(_dt.UTC)


def now_iso() -> str:
    return now().isoformat()


def parse_iso(text: str) -> float:
    """An ISO-8601 timestamp as seconds since the epoch."""
    return _dt.datetime.fromisoformat(text).timestamp()


class EventId(tuple[int, int]):
    """A log position: (milliseconds, sequence). Orders like its key bytes."""

    __slots__ = ()
    ZERO: ClassVar[EventId]

    def __new__(cls, ms: int, seq: int) -> EventId:
        return tuple.__new__(cls, (ms, seq))

    @property
    def ms(self) -> int:
        return self[0]

    @property
    def seq(self) -> int:
        return self[1]

    def __str__(self) -> str:
        return f"{self[0]}-{self[1]}"

    def to_bytes(self) -> bytes:
        return _POS.pack(self[0], self[1])

    def to_seq(self) -> int:
        """The position as one integer: exact for every position the log assigns (and
        below 2**53, so JavaScript clients read it exactly, until the year 2248)."""
        return (self[0] << SEQ_BITS) | self[1]

    @classmethod
    def from_seq(cls, seq: int) -> EventId:
        return cls(seq >> SEQ_BITS, seq & MAX_SUB)

    @classmethod
    def from_bytes(cls, raw: bytes) -> EventId:
        ms, seq = _POS.unpack(raw)
        return cls(ms, seq)

    @classmethod
    def parse(cls, text: str) -> EventId:
        """Parse `<ms>-<seq>` (or a bare `<ms>`, as Redis accepts). Raises ValueError."""
        ms_text, sep, seq_text = text.strip().partition("-")
        if not ms_text.isdigit() or (sep and not seq_text.isdigit()):
            raise ValueError(f"not a stream id: {text!r}")
        ms, seq = int(ms_text), int(seq_text) if sep else 0
        if ms >= 2**64 or seq >= 2**32:
            raise ValueError(f"stream id out of range: {text!r}")
        return cls(ms, seq)


EventId.ZERO = EventId(0, 0)
