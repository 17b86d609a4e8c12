"""Turning what a graph streams into log events: the reference's stream modes on the wire.

Runs on the asyncio loop, inside the graph's own iteration, so LangChain objects are
encoded to JSON once, where they are made. Mirrors what the reference server sends:
`messages-tuple` as `messages` events of `[chunk, metadata]`; `messages` as
`messages/metadata`, then `messages/partial` (accumulated), then `messages/complete`;
subgraph events named `<mode>|<namespace>`; with `events`, LangChain's v2 event stream.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from langchain_core.messages import (
    AIMessageChunk,
    BaseMessage,
    BaseMessageChunk,
    ToolMessageChunk,
    convert_to_messages,
    message_chunk_to_message,
)
from langgraph.types import Command, Send

from .. import jsonenc
from ..storage.records import LogEvent
from .protocol_events import record_name
from .state import checkpoint_ref

STREAM_MODES = frozenset(
    {"values", "updates", "messages", "messages-tuple", "custom", "debug", "events", "tasks", "checkpoints"}
)


def graph_stream_modes(stream_mode: list[str]) -> list[str]:
    """What to ask the graph for to serve `stream_mode`. (Since langgraph 1.0.4 an
    interrupt shows up in `values` too, so nothing needs adding for it.)"""
    modes = set(stream_mode) - {"events", "messages-tuple"}
    if "messages-tuple" in stream_mode:
        modes.add("messages")
    return sorted(modes)


def to_command(command: dict[str, Any]) -> Command:
    """The API's `command` object as a LangGraph `Command`."""
    goto = command.get("goto")
    if isinstance(goto, dict):
        goto = Send(goto["node"], goto.get("input"))
    elif isinstance(goto, list):
        goto = [Send(g["node"], g.get("input")) if isinstance(g, dict) else g for g in goto]
    update = command.get("update")
    if isinstance(update, list):
        update = [tuple(pair) for pair in update]
    kwargs: dict[str, Any] = {}
    if "resume" in command:
        kwargs["resume"] = command["resume"]
    if update is not None:
        kwargs["update"] = update
    if goto is not None:
        kwargs["goto"] = goto
    return Command(**kwargs)


def _debug_checkpoint(payload: dict[str, Any]) -> dict[str, Any]:
    """A debug checkpoint as the reference sends it: with `checkpoint` and
    `parent_checkpoint` references, and each task's state config as its `checkpoint`."""
    tasks = []
    for task in payload.get("tasks", []):
        state = task.get("state")
        if isinstance(state, dict) and state.get("configurable"):
            task = {k: v for k, v in task.items() if k != "state"} | {"checkpoint": state["configurable"]}
        tasks.append(task)
    return {
        **payload,
        "checkpoint": checkpoint_ref(payload.get("config")),
        "parent_checkpoint": checkpoint_ref(payload.get("parent_config")),
        "tasks": tasks,
    }


class ChunkEncoder:
    """Encodes one run's graph output as `LogEvent`s and hands each to `emit`."""

    def __init__(self, run_id: str, stream_mode: list[str], subgraphs: bool, emit: Callable[[LogEvent], None]) -> None:
        self.run_id = run_id
        self.stream_mode = set(stream_mode)
        self.subgraphs = subgraphs
        self.emit = emit
        self.messages: dict[str, BaseMessage] = {}
        self.completed: set[str] = set()

    def _out(self, mode: str, base: str, ns: tuple[str, ...] | None, payload: Any) -> None:
        event = record_name(base, ns if self.subgraphs and ns else ())
        data = payload if isinstance(payload, bytes) else jsonenc.dumps(payload)
        self.emit(LogEvent(self.run_id, event, mode, data))

    def graph_chunk(self, ns: tuple[str, ...] | None, mode: str, chunk: Any) -> None:
        """One item of `graph.astream(..., stream_mode=[...], subgraphs=...)`."""
        if mode == "messages":
            if "messages-tuple" in self.stream_mode:
                self._out("messages-tuple", "messages", ns, chunk)
            if "messages" in self.stream_mode:
                self._message(ns, chunk)
        elif mode in self.stream_mode:
            if mode == "debug" and chunk.get("type") == "checkpoint":
                chunk = {**chunk, "payload": _debug_checkpoint(chunk["payload"])}
            self._out(mode, mode, ns, chunk)

    def _message(self, ns: tuple[str, ...] | None, chunk: Any) -> None:
        msg_, meta = chunk
        is_chunk = False
        msg: BaseMessage
        if isinstance(msg_, dict):
            kind = (msg_.get("type", "") + msg_.get("role", "")).lower()
            if "chunk" in kind:
                cls = AIMessageChunk if "ai" in kind else ToolMessageChunk if "tool" in kind else BaseMessageChunk
                msg = cls(**msg_)
                is_chunk = True
            else:
                msg = convert_to_messages([msg_])[0]
        else:
            msg = msg_
        # Only chunks of one streamed message add up; a complete message (a node's own,
        # or a revision under the same id) stands alone. (Adding two complete messages
        # makes a prompt template, not a message.)
        key = msg.id if msg.id is not None else f"__no_id_{id(msg)}"
        previous = self.messages.get(key)
        if previous is None:
            self._out("messages", "messages/metadata", ns, {msg.id: {"metadata": meta}})
            self.messages[key] = msg
        elif isinstance(previous, BaseMessageChunk) and isinstance(msg, BaseMessageChunk):
            self.messages[key] = previous + msg
        else:
            self.messages[key] = msg
        current = self.messages[key]
        event = "messages/partial" if isinstance(msg, BaseMessageChunk) else "messages/complete"
        self._out("messages", event, ns, [current if is_chunk else message_chunk_to_message(current)])
        if event == "messages/complete":
            self.completed.add(key)
        elif getattr(msg, "chunk_position", None) == "last":
            self._complete(key, ns)

    def _complete(self, key: str, ns: tuple[str, ...] | None) -> None:
        """`messages/complete` once a streamed message is whole, as the JS server sends it
        (clients written against it, like the React hook, expect it)."""
        self.completed.add(key)
        self._out("messages", "messages/complete", ns, [message_chunk_to_message(self.messages[key])])

    def finish(self) -> None:
        """The graph is done: every streamed message still open is complete."""
        for key in list(self.messages):
            if key not in self.completed:
                self._complete(key, None)

    def stream_event(self, event: dict[str, Any]) -> None:
        """One item of `graph.astream_events(version="v2")` (used when `events` is asked for)."""
        if event.get("tags") and "langsmith:hidden" in event["tags"]:
            return
        if event["event"] == "on_chain_stream" and event.get("run_id") == self.run_id:
            chunk = event["data"]["chunk"]
            if self.subgraphs:
                ns, mode, data = chunk
            else:
                (mode, data), ns = chunk, None
            self.graph_chunk(tuple(ns) if ns else None, mode, data)
        elif "events" in self.stream_mode:
            self._out("events", "events", None, event)
