"""Thread state operations of the API: read, history, update, copy.

They run the graph's own state methods (on the asyncio loop, against our checkpointer)
and, for updates, record the new state on the thread and its event log.
"""

from __future__ import annotations

import uuid
from typing import Any

from .. import ids
from ..errors import BadRequest, Conflict
from ..storage.records import Thread
from .executor import RunExecutor, all_ops, state_update_event
from .state import EMPTY_STATE, read_history, read_state, thread_interrupts, update_state


class ThreadStates:
    """State reads and writes for threads, beside the runs of one `RunExecutor`."""

    def __init__(self, executor: RunExecutor) -> None:
        self.executor = executor

    def _thread_graph_id(self, thread: Thread) -> str | None:
        graph_id = thread.graph_id or thread.metadata.get("graph_id")
        return graph_id if graph_id in self.executor.graphs else None

    async def _state_graph(self, thread: Thread) -> Any:
        graph_id = self._thread_graph_id(thread)
        if graph_id is None:
            raise BadRequest(
                f"Thread '{thread.thread_id}' has no assigned graph ID. This usually occurs when no runs have been made on this "
                "particular thread. This operation requires a graph ID. Please ensure a run has been made for the thread or "
                "manually update the thread metadata (by setting the 'graph_id' field) before running this operation."
            )
        return await self.executor.graph(graph_id, {"configurable": {"thread_id": thread.thread_id, **thread.config.get("configurable", {})}})

    async def get(self, thread: Thread, checkpoint: dict[str, Any] | None = None, *, subgraphs: bool = False) -> dict[str, Any]:
        if self._thread_graph_id(thread) is None:
            return dict(EMPTY_STATE)
        graph = await self._state_graph(thread)
        return await self.executor.bridge.call(lambda: read_state(graph, thread.thread_id, checkpoint, subgraphs=subgraphs))

    async def history(self, thread: Thread, *, limit: int, before: dict[str, Any] | None, metadata: dict[str, Any] | None, checkpoint: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        if self._thread_graph_id(thread) is None:
            return []
        graph = await self._state_graph(thread)
        return await self.executor.bridge.call(lambda: read_history(graph, thread.thread_id, limit=limit, before=before, metadata=metadata, checkpoint=checkpoint))

    async def update(self, thread: Thread, values: Any, *, as_node: str | None, checkpoint: dict[str, Any] | None) -> dict[str, Any]:
        """`POST /threads/{id}/state`: a new checkpoint, the thread's values and status, a `state_update` event."""
        if self.executor.is_busy(thread.thread_id):
            raise Conflict(f"Thread {thread.thread_id} has in-flight runs: {self.executor.active_run_ids(thread.thread_id)}")
        graph = await self._state_graph(thread)
        if as_node is not None and as_node not in graph.nodes:
            raise BadRequest(f"Node {as_node} does not exist")
        try:
            configurable, state = await self.executor.bridge.call(lambda: update_state(graph, thread.thread_id, values, as_node=as_node, checkpoint=checkpoint))
        except (ValueError, KeyError, TypeError) as exc:  # the graph refused the update
            raise BadRequest(f"{type(exc).__name__}: {exc}") from None
        _, events_op = self.executor.log.prepare(thread.thread_id, [state_update_event(thread.thread_id, state)])

        def settle(t: Thread) -> None:
            t.values = state["values"]
            t.interrupts = thread_interrupts(state)
            t.status = "interrupted" if state["next"] else "idle"
            t.updated_at = ids.now_iso()

        await self.executor.store.write(all_ops(self.executor.tables.update_thread_op(thread.thread_id, settle), events_op))
        return {"checkpoint": configurable, "configurable": configurable, "checkpoint_id": configurable.get("checkpoint_id")}

    async def copy(self, thread: Thread) -> Thread:
        """A new thread with the same metadata and checkpoints (not the event log: that is history of runs)."""
        now = ids.now_iso()
        copy = Thread(str(uuid.uuid4()), now, now, metadata=dict(thread.metadata), graph_id=thread.graph_id, values=thread.values, interrupts=thread.interrupts)
        copy.status = "interrupted" if thread.status == "interrupted" else "idle"
        await self.executor.store.write(self.executor.tables.put_thread_op(copy))
        if self.executor.checkpointer is not None:
            await self.executor.bridge.call(lambda: self.executor.checkpointer.acopy_thread(thread.thread_id, copy.thread_id))
        return copy


    async def prune_history(self, thread_id: str) -> None:
        """Keep only the thread's latest checkpoint (`POST /threads/prune`, keep_latest)."""
        checkpointer = self.executor.checkpointer
        await self.executor.bridge.call(lambda: checkpointer.aprune([thread_id], strategy="keep_latest"))
