"""The event streaming protocol (v2), rendered from the thread's event log.

`seq` is the record's position in the log as one integer (`EventId.to_seq`), and
`event_id` its position as text: both are durable, per thread, the same for every
connection and after every restart, so a client resumes with `since` exactly after what
it saw, even for runs that ended long ago. Every record renders to at most one envelope,
without parsing the protocol records (their params are stored as the bytes they are
sent as); the server's own records become the root `lifecycle`; classic runs' `values`,
`updates` and `custom` show too.

A stream (SSE) or a subscription (WebSocket) is a tail of the log with a filter: no
buffer of its own, no second fan-out path. One module renders, `v2_commands` answers
commands.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator
from contextlib import aclosing
from typing import Any

import attrs
import orjson
import trio

from ..ids import EventId, parse_iso
from ..runtime.lifecycle import LIFECYCLE
from ..runtime.protocol_events import V2_MODE, split_name
from ..storage.eventlog import EventLog
from ..storage.records import LogEvent
from ..streaming.sse import frame, sse_chunks
from ..streaming.tail import tail_selected

log = logging.getLogger(__name__)

CHANNELS = ("values", "updates", "messages", "tools", "lifecycle", "input", "checkpoints", "tasks", "custom")
ROOT_STATUS = {"running": "running", "success": "completed", "error": "failed", "timeout": "failed", "interrupted": "interrupted"}
_CLASSIC = frozenset({"values", "updates", "custom"})


class BadFilter(ValueError):
    """A filter the protocol refuses (the caller answers 400 or `invalid_argument`)."""


@attrs.frozen
class Filter:
    """Which events a stream or subscription wants: channels, namespace prefixes, depth."""

    channels: frozenset[str]
    named: frozenset[str]  # custom:<name> channels
    namespaces: tuple[tuple[str, ...], ...] | None = None
    depth: int | None = None

    def accepts(self, method: str, namespace: tuple[str, ...]) -> bool:
        if method == "input.requested" or method == "input.answered":
            if "input" not in self.channels:
                return False
        elif method.startswith("custom:"):
            if "custom" not in self.channels and method not in self.named:
                return False
        elif method not in self.channels:
            return False
        if not self.namespaces:
            return True
        return any(_prefix_matches(prefix, namespace) and (self.depth is None or len(namespace) - len(prefix) <= self.depth) for prefix in self.namespaces)


def _prefix_matches(prefix: tuple[str, ...], namespace: tuple[str, ...]) -> bool:
    """Segment by segment; a prefix segment without `:` also matches the segment of that
    name with any task id (`["agent"]` matches `["agent:1f2e..."]`)."""
    if len(prefix) > len(namespace):
        return False
    for want, have in zip(prefix, namespace):
        if want != have and not (":" not in want and have.split(":", 1)[0] == want):
            return False
    return True


def parse_filter(body: dict[str, Any], *, what: str = "channels") -> Filter:
    """A filter from a stream body or a subscribe command. Malformed `namespaces` and
    `depth` count as absent, as the reference treats them; bad channels are refused."""
    channels = body.get("channels")
    if not isinstance(channels, list) or not channels or not all(isinstance(c, str) for c in channels):
        raise BadFilter(f"{what} is required and must be a non-empty array")
    unknown = [c for c in channels if c not in CHANNELS and not c.startswith("custom:")]
    if unknown:
        raise BadFilter(f"channels contains unsupported entries: {', '.join(unknown)}. Allowed: {', '.join(CHANNELS)}, custom:<name>")
    namespaces = body.get("namespaces")
    prefixes = None
    if isinstance(namespaces, list) and all(isinstance(ns, list) and all(isinstance(s, str) for s in ns) for ns in namespaces):
        prefixes = tuple(tuple(ns) for ns in namespaces)
    depth = body.get("depth")
    if not is_count(depth):
        depth = None
    return Filter(
        channels=frozenset(c for c in channels if not c.startswith("custom:")),
        named=frozenset(c for c in channels if c.startswith("custom:")),
        namespaces=prefixes,
        depth=depth,
    )


def is_count(value: Any) -> bool:
    """A non-negative JSON integer (not a bool): a seq, a depth, a command id."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def parse_since(value: Any) -> EventId | None:
    """`since` as a log position; None when absent or malformed."""
    return EventId.from_seq(value) if is_count(value) else None


# -- rendering -------------------------------------------------------------------------


def head(event: LogEvent) -> tuple[str, tuple[str, ...]] | None:
    """(method, namespace) of a record as the protocol shows it, or None when the
    protocol has nothing to say about it: cheap, so filters run before any rendering."""
    if event.mode == V2_MODE or event.mode in _CLASSIC:  # protocol records; a classic run's output
        return split_name(event.event)
    if event.mode == LIFECYCLE:
        return "lifecycle", ()
    return None


def params(event: LogEvent, method: str, namespace: tuple[str, ...]) -> bytes | None:
    """The params JSON of a record `head` named (None: a lifecycle record with no
    protocol event). Protocol records are stored as the bytes they are sent as."""
    if event.mode == V2_MODE:
        return event.data
    if event.mode == LIFECYCLE:
        return _root_lifecycle(event)
    return _classic_params(method, namespace, event.data)


def _root_lifecycle(event: LogEvent) -> bytes | None:
    record = orjson.loads(event.data)
    status = record.get("status")
    phase = "interrupted" if status == "success" and record.get("interrupted") else ROOT_STATUS.get(status)
    if phase is None:  # pending (handed back to the queue) or rollback: no protocol event
        return None
    data: dict[str, Any] = {"event": phase, "graph_name": record.get("graph_id")}
    if phase == "failed" and record.get("error") is not None:
        data["error"] = record["error"]
    return orjson.dumps({"namespace": [], "timestamp": _iso_ms(record.get("timestamp")), "data": data})


def _classic_params(method: str, namespace: tuple[str, ...], data: bytes) -> bytes:
    extra = b""
    if method == "values" and b'"__interrupt__"' in data:
        values = orjson.loads(data)
        values.pop("__interrupt__", None)
        data = orjson.dumps(values)
    elif method == "updates":
        update = orjson.loads(data)
        if isinstance(update, dict) and len(update) == 1:
            node, delta = next(iter(update.items()))
            extra, data = b',"node":' + orjson.dumps(node), orjson.dumps(delta)
    elif method == "custom":
        data = b'{"payload":' + data + b"}"
    return b'{"namespace":' + orjson.dumps(list(namespace)) + extra + b',"data":' + data + b"}"


def _iso_ms(value: Any) -> int:
    try:
        return int(parse_iso(value) * 1000)
    except (TypeError, ValueError):
        return 0


@attrs.frozen
class Envelope:
    method: str  # as filters see it: custom:<name> for a named custom event
    namespace: tuple[str, ...]
    position: EventId
    data: bytes  # the whole envelope as sent, one line of JSON

    @property
    def wire_method(self) -> str:
        return _wire_method(self.method)

    @property
    def seq(self) -> int:
        return self.position.to_seq()


def envelope(position: EventId, method: str, namespace: tuple[str, ...], params: bytes) -> Envelope:
    """The event as the protocol sends it."""
    data = b"".join((b'{"type":"event","event_id":"', str(position).encode(), b'","seq":', str(position.to_seq()).encode(), b',"method":"', _wire_method(method).encode(), b'","params":', params, b"}"))
    return Envelope(method, namespace, position, data)


def _wire_method(method: str) -> str:
    """A named custom event goes out as `custom` (its name is in its params)."""
    return "custom" if method.startswith("custom:") else method


def selector(wanted: Filter) -> Any:
    """A tail selector picking what `wanted` accepts, as (method, namespace, params)."""

    def select(event: LogEvent) -> tuple[tuple[str, tuple[str, ...], bytes] | None, bool]:
        named = head(event)
        if named is None or not wanted.accepts(*named):
            return None, False
        rendered = params(event, *named)
        return (None if rendered is None else (*named, rendered)), False

    return select


async def events(log_: EventLog, thread_id: str, after: EventId, wanted: Filter, *, shutdown: trio.Event, heartbeat: float) -> AsyncGenerator[list[Envelope], None]:
    """Batches of envelopes for `wanted` after `after`, until shutdown or the thread is
    deleted; an empty batch when nothing was sent for `heartbeat` seconds."""
    async with aclosing(tail_selected(log_, thread_id, after, selector(wanted), shutdown=shutdown, heartbeat=heartbeat)) as batches:
        async for batch in batches:
            yield [envelope(position, *shown) for position, _, shown in batch]


async def sse_events(log_: EventLog, thread_id: str, after: EventId, wanted: Filter, *, shutdown: trio.Event, heartbeat: float) -> AsyncGenerator[bytes, None]:
    """The SSE body of `POST /threads/{t}/stream/events`: `event: <method>`, the envelope
    as `data`, the seq as `id`, and heartbeats on quiet streams."""
    batches = events(log_, thread_id, after, wanted, shutdown=shutdown, heartbeat=heartbeat)
    async for chunk in sse_chunks(batches, lambda e: frame(e.wire_method, e.data, e.seq)):
        yield chunk
