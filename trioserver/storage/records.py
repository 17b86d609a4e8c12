"""What the store keeps: attrs records, turned into plain data by cattrs and into bytes by cbor2.

JSON exists only at the HTTP edge; these records never see it, except where a payload
is kept as the JSON bytes it will be sent as (see `LogEvent`).
"""

from __future__ import annotations

from typing import Any, get_args, get_origin

import attrs
import cattrs
import cbor2

from ..ids import EventId

converter = cattrs.Converter()


def _plain(field_type: Any) -> bool:
    """`Any` and `dict[str, Any]` fields hold plain data (JSON-like, as clients sent it or
    graphs returned it): cbor2 takes it as it is. Left to cattrs, each nested value was
    dispatched on its type one by one, most of the cost of storing a run."""
    return field_type is Any or (get_origin(field_type) is dict and get_args(field_type) == (str, Any))


converter.register_unstructure_hook_func(_plain, lambda value: value)
converter.register_structure_hook_func(_plain, lambda value, _type: value)


@attrs.define
class Assistant:
    assistant_id: str
    graph_id: str
    name: str
    created_at: str
    updated_at: str
    version: int = 1
    config: dict[str, Any] = attrs.field(factory=dict)
    context: dict[str, Any] = attrs.field(factory=dict)
    metadata: dict[str, Any] = attrs.field(factory=dict)
    description: str | None = None


@attrs.define
class AssistantVersion:
    assistant_id: str
    graph_id: str
    name: str
    version: int
    created_at: str
    config: dict[str, Any] = attrs.field(factory=dict)
    context: dict[str, Any] = attrs.field(factory=dict)
    metadata: dict[str, Any] = attrs.field(factory=dict)
    description: str | None = None


@attrs.define
class Thread:
    thread_id: str
    created_at: str
    updated_at: str
    metadata: dict[str, Any] = attrs.field(factory=dict)
    status: str = "idle"  # idle | busy | interrupted | error
    config: dict[str, Any] = attrs.field(factory=dict)
    values: Any = None
    interrupts: dict[str, Any] = attrs.field(factory=dict)
    error: Any = None
    graph_id: str | None = None
    temporary: bool = False


@attrs.define
class Run:
    run_id: str
    thread_id: str
    assistant_id: str
    graph_id: str
    created_at: str
    updated_at: str
    status: str = "pending"  # pending | running | success | error | interrupted | timeout
    metadata: dict[str, Any] = attrs.field(factory=dict)
    kwargs: dict[str, Any] = attrs.field(factory=dict)
    multitask_strategy: str = "reject"
    stream_mode: list[str] = attrs.field(factory=lambda: ["values"])
    stream_subgraphs: bool = False
    temporary: bool = False
    # Position of the log just before this run was created: its events all come after.
    log_start: str | None = None
    attempt: int = 1

    @property
    def start_position(self) -> EventId:
        """Where a reader of this run's events starts (`log_start`, or the log's start)."""
        return EventId.parse(self.log_start) if self.log_start else EventId.ZERO

    def public(self) -> dict[str, Any]:
        """The run as the API (and its webhook) shows it: the reference's keys, in its order.
        Kwargs the server keeps for itself (when to start, the caller's identity) stay hidden."""
        kwargs = {k: self.kwargs.get(k) for k in PUBLIC_KWARGS}
        kwargs["durability"] = kwargs["durability"] or "async"  # LangGraph's default, which the run uses
        kwargs.update((k, v) for k, v in self.kwargs.items() if k not in PUBLIC_KWARGS and k not in PRIVATE_KWARGS)
        return {
            "run_id": self.run_id,
            "thread_id": self.thread_id,
            "assistant_id": self.assistant_id,
            "metadata": self.metadata,
            "status": self.status,
            "kwargs": kwargs,
            "multitask_strategy": self.multitask_strategy,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "langsmith_session_name": None,  # no LangSmith tracing here
        }


# A run's kwargs as the reference shows them, in its order; and those that are ours only
# (the checkpoint and the delay are also in `config.configurable`, as the reference puts them).
PUBLIC_KWARGS = (
    "input", "command", "config", "context", "stream_mode", "interrupt_before", "interrupt_after", "webhook",
    "feedback_keys", "temporary", "subgraphs", "resumable", "checkpoint_during", "durability",
)  # fmt: skip
PRIVATE_KWARGS = frozenset({"checkpoint_id", "checkpoint", "after_seconds", "on_disconnect", "auth"})


def encode(record: Any) -> bytes:
    return cbor2.dumps(converter.unstructure(record))


def decode(raw: bytes, cls: type) -> Any:
    return converter.structure(cbor2.loads(raw), cls)


@attrs.frozen
class LogEvent:
    """One entry of a thread's event log: what a run produced, not SSE text.

    `data` holds the payload's JSON bytes: it is encoded once when the run produces it
    and sent as-is to every subscriber of every protocol that speaks JSON.
    `mode` is the stream mode that produced it (for filtering); `event` is the name
    streams send (`updates|node_2:<task id>` for a subgraph's update).
    """

    run_id: str
    event: str
    mode: str
    data: bytes

    # Hot path: a tuple, not cattrs.
    def to_bytes(self) -> bytes:
        return cbor2.dumps((self.run_id, self.event, self.mode, self.data))

    @classmethod
    def from_bytes(cls, raw: bytes) -> LogEvent:
        run_id, event, mode, data = cbor2.loads(raw)
        return cls(run_id, event, mode, data)
