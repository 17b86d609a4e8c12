"""Thread state as the API shows it: snapshots rendered as plain data, history, updates.

These run on the asyncio loop (through the bridge): they drive the graph's own state
methods against our checkpointer, as the run did.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from langgraph.types import StateSnapshot

from .. import jsonenc

EMPTY_STATE: dict[str, Any] = {
    "values": {},
    "next": [],
    "tasks": [],
    "metadata": None,
    "created_at": None,
    "checkpoint": None,
    "parent_checkpoint": None,
    "interrupts": [],
    "checkpoint_id": None,
    "parent_checkpoint_id": None,
}


def checkpoint_ref(config: Mapping[str, Any] | None, *, with_ns: bool = True) -> dict[str, Any] | None:
    """`{"checkpoint_id", "thread_id", "checkpoint_ns"}` of a checkpoint config."""
    configurable = (config or {}).get("configurable") or {}
    if not configurable.get("thread_id") or not configurable.get("checkpoint_id"):
        return None
    ref = {"checkpoint_id": configurable["checkpoint_id"], "thread_id": configurable["thread_id"]}
    if with_ns and "checkpoint_ns" in configurable:
        ref["checkpoint_ns"] = configurable["checkpoint_ns"] or ""
    if "checkpoint_map" in configurable:
        ref["checkpoint_map"] = configurable["checkpoint_map"]
    return ref


def _interrupt(interrupt: Any) -> dict[str, Any]:
    return {"id": getattr(interrupt, "id", None), "value": getattr(interrupt, "value", None)}


def thread_state(snapshot: StateSnapshot, *, with_ns: bool = True) -> dict[str, Any]:
    """A `StateSnapshot` in the reference's ThreadState shape, as plain data."""
    if snapshot.config is None or not (snapshot.config.get("configurable") or {}).get("checkpoint_id"):
        return dict(EMPTY_STATE)
    tasks = []
    for task in snapshot.tasks:
        nested = task.state if isinstance(task.state, StateSnapshot) else None
        tasks.append(
            {
                "id": task.id,
                "name": task.name,
                "path": list(task.path),
                "error": repr(task.error) if task.error is not None else None,
                "interrupts": [_interrupt(i) for i in task.interrupts],
                "checkpoint": task.state["configurable"] if isinstance(task.state, dict) else None,
                "state": thread_state(nested) if nested is not None else None,
                "result": getattr(task, "result", None),
            }
        )
    parent = snapshot.parent_config
    return jsonenc.to_plain(
        {
            "values": snapshot.values,
            "next": list(snapshot.next),
            "tasks": tasks,
            "metadata": snapshot.metadata,
            "created_at": snapshot.created_at,
            "checkpoint": checkpoint_ref(snapshot.config, with_ns=with_ns),
            "parent_checkpoint": checkpoint_ref(parent),
            "interrupts": [_interrupt(i) for i in getattr(snapshot, "interrupts", ())],
            "checkpoint_id": snapshot.config["configurable"].get("checkpoint_id"),
            "parent_checkpoint_id": parent["configurable"]["checkpoint_id"] if parent else None,
        }
    )


def thread_interrupts(state: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """The thread object's `interrupts`: task id -> that task's pending interrupts."""
    return {task["id"]: task["interrupts"] for task in state["tasks"] if task["interrupts"]}


def state_config(thread_id: str, checkpoint: dict[str, Any] | None = None) -> dict[str, Any]:
    configurable = {"thread_id": thread_id, "checkpoint_ns": ""}
    for key, value in (checkpoint or {}).items():
        if value is not None and key != "thread_id":
            configurable[key] = value
    return {"configurable": configurable}


async def read_state(graph: Any, thread_id: str, checkpoint: dict[str, Any] | None = None, *, subgraphs: bool = False) -> dict[str, Any]:
    snapshot = await graph.aget_state(state_config(thread_id, checkpoint), subgraphs=subgraphs)
    return thread_state(snapshot, with_ns=not (checkpoint and checkpoint.get("checkpoint_id")))


async def read_history(graph: Any, thread_id: str, *, limit: int, before: dict[str, Any] | None, metadata: dict[str, Any] | None, checkpoint: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    config = state_config(thread_id, checkpoint)
    before_config = {"configurable": before} if before else None
    out = []
    async for snapshot in graph.aget_state_history(config, limit=limit, before=before_config, filter=metadata or None):
        out.append(thread_state(snapshot))
    return out


async def update_state(
    graph: Any, thread_id: str, values: Any, *, as_node: str | None, checkpoint: dict[str, Any] | None, configurable: dict[str, Any] | None = None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Apply `values` as if `as_node` had run; returns the new checkpoint's config and the new state.
    `configurable` (the thread's, with its graph id) is recorded in the checkpoint's metadata."""
    config = state_config(thread_id, checkpoint)
    config["configurable"] = {**(configurable or {}), **config["configurable"]}
    next_config = await graph.aupdate_state(config, values, as_node=as_node)
    state = await read_state(graph, thread_id)
    return jsonenc.to_plain(next_config["configurable"]), state
