"""Encoding a run for the event streaming protocol (v2) into log records.

A run started through v2 is driven through LangGraph's own protocol stream
(`astream_events(version="v3")`), with every channel's transformer registered, so Python
graphs get all of them: values, updates, messages (content blocks), tools, lifecycle,
input, checkpoints, tasks, custom and custom:<name>. Each protocol event becomes one log
record:

    LogEvent(run_id, event="<method>|<ns segment>|...", mode="v2", data=<params JSON>)

`params` is stored as the JSON bytes it is sent as (`namespace`, `timestamp`, `data`, and
`node` for updates), so a renderer only wraps it in an envelope with the record's
position; the namespace rides in the record's name so filters need not parse anything.
What the server adds to the protocol is done here too: `input.requested` once per
interrupt, state normalised to the protocol's message shape, a subgraph's lifecycle on
its own namespace, checkpoints reduced to their reference. (The root lifecycle comes from
the run's own control records; see `protocols.v2`.)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from langgraph.stream._types import ProtocolEvent, StreamTransformer
from langgraph.stream.transformers import CheckpointsTransformer, CustomTransformer, UpdatesTransformer

from .. import jsonenc
from ..storage.records import LogEvent

V2_MODE = "v2"
NS_SEP = "|"

_MESSAGE_TYPES = {"human": "human", "user": "human", "ai": "ai", "assistant": "ai", "system": "system", "tool": "tool", "function": "function", "remove": "remove"}
_MESSAGE_KEYS = ("content", "id", "name", "example", "tool_call_id", "status", "artifact")


def record_name(method: str, namespace: list[str] | tuple[str, ...]) -> str:
    return NS_SEP.join((method, *namespace))


def split_name(name: str) -> tuple[str, tuple[str, ...]]:
    method, *namespace = name.split(NS_SEP)
    return method, tuple(namespace)


def normalize(value: Any) -> Any:
    """Plain data with every message-like dict in the protocol's shape: `type` (human,
    ai, system, tool...), `content`, and only the fields clients read."""
    if isinstance(value, list):
        return [normalize(v) for v in value]
    if not isinstance(value, dict):
        return value
    kind = value.get("type")
    if isinstance(kind, str) and kind in _MESSAGE_TYPES and "content" in value:
        return _message(value)
    return {k: normalize(v) for k, v in value.items()}


def _message(message: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"type": _MESSAGE_TYPES[message["type"]]}
    for key in _MESSAGE_KEYS:
        if message.get(key) is not None:
            out[key] = message[key]
    if message.get("response_metadata"):
        out["response_metadata"] = message["response_metadata"]
    tool_calls = [{"type": "tool_call", "id": c.get("id"), "name": c.get("name"), "args": c.get("args") or {}} for c in message.get("tool_calls") or ()]
    if tool_calls:
        out["tool_calls"] = tool_calls
    if message.get("invalid_tool_calls"):
        out["invalid_tool_calls"] = message["invalid_tool_calls"]
    return out


class TasksTap(StreamTransformer):
    """Hands `tasks` events to the encoder before the lifecycle transformers fold them
    away (they keep them out of the main event log)."""

    before_builtins = True
    required_stream_modes = ("tasks",)

    def __init__(self, scope: tuple[str, ...], sink: Callable[[ProtocolEvent], None]) -> None:
        super().__init__(scope)
        self._sink = sink
        self._scope = list(scope)

    def init(self) -> dict[str, Any]:
        return {}

    def process(self, event: ProtocolEvent) -> bool:
        if event["method"] == "tasks" and event["params"]["namespace"] == self._scope:
            self._sink(event)
        return True


def transformers(graph: Any, tasks_sink: Callable[[ProtocolEvent], None]) -> list[Callable[[tuple[str, ...]], Any]]:
    """The transformers a v2 run registers beside the built-in ones (values, messages,
    lifecycle): every other channel; tool events unless the graph registers them itself."""
    extra: list[Callable[[tuple[str, ...]], Any]] = [UpdatesTransformer, CustomTransformer, CheckpointsTransformer, lambda scope: TasksTap(scope, tasks_sink)]
    own = [getattr(t, "__name__", type(t).__name__) for t in (getattr(graph, "stream_transformers", None) or ())]
    if "ToolCallTransformer" not in own:
        from langgraph.prebuilt import ToolCallTransformer

        extra.append(ToolCallTransformer)
    return extra


class ProtocolEncoder:
    """Turns one run's protocol events into log records (on the graph loop)."""

    def __init__(self, run_id: str, emit: Callable[[LogEvent], None]) -> None:
        self.run_id = run_id
        self.emit = emit
        self._interrupts: set[str] = set()

    def _out(self, method: str, namespace: list[str], timestamp: int, data: Any, **extra: Any) -> None:
        params = {"namespace": namespace, "timestamp": timestamp, **extra, "data": data}
        self.emit(LogEvent(self.run_id, record_name(method, namespace), V2_MODE, jsonenc.dumps(params)))

    def event(self, event: ProtocolEvent) -> None:
        method = event["method"]
        params = event["params"]
        namespace = list(params.get("namespace") or [])
        timestamp = params.get("timestamp") or 0
        data = params.get("data")
        if method == "values":
            self._interrupts_of(params.get("interrupts") or (), namespace, timestamp)
            values = normalize(jsonenc.to_plain(data))
            if isinstance(values, dict):
                values.pop("__interrupt__", None)
            if values != {}:
                self._out("values", namespace, timestamp, values)
        elif method == "updates":
            for node, delta in (data or {}).items():
                if node != "__interrupt__":
                    self._out("updates", namespace, timestamp, normalize(jsonenc.to_plain(delta)), node=node)
        elif method == "messages":
            payload = data[0] if isinstance(data, (tuple, list)) and data else data
            if isinstance(payload, dict) and isinstance(payload.get("event"), str):
                self._out("messages", namespace, timestamp, payload)
        elif method == "lifecycle":
            home = list((data or {}).get("namespace") or namespace)
            self._out("lifecycle", home, timestamp, data)
        elif method == "checkpoints":
            self._out("checkpoints", namespace, timestamp, _checkpoint_ref(data or {}))
        elif method == "custom":
            self._out("custom", namespace, timestamp, {"payload": data})
        elif method.startswith("custom:"):
            self._out(method, namespace, timestamp, {"name": method[len("custom:") :], "payload": data})
        else:  # tools, tasks, and whatever a user transformer names
            self._out(method, namespace, timestamp, jsonenc.to_plain(data))

    def _interrupts_of(self, interrupts: Any, namespace: list[str], timestamp: int) -> None:
        for interrupt in interrupts:
            interrupt_id = getattr(interrupt, "id", None)
            if interrupt_id is None or interrupt_id in self._interrupts:
                continue
            self._interrupts.add(interrupt_id)
            self._out("input.requested", namespace, timestamp, {"interrupt_id": interrupt_id, "payload": jsonenc.to_plain(getattr(interrupt, "value", None))})


def _checkpoint_ref(payload: dict[str, Any]) -> dict[str, Any]:
    """The protocol's checkpoint event: `{id, parent_id, step, source}` (what `forkFrom`
    and `config.configurable.checkpoint_id` take)."""
    config = (payload.get("config") or {}).get("configurable") or {}
    parent = ((payload.get("parent_config") or {}).get("configurable") or {}).get("checkpoint_id")
    metadata = payload.get("metadata") or {}
    ref: dict[str, Any] = {"id": config.get("checkpoint_id")}
    if parent:
        ref["parent_id"] = parent
    ref["step"] = metadata.get("step")
    ref["source"] = metadata.get("source")
    return ref
