"""Threads: creating, deleting (the whole cascade, in one commit), copying and pruning
them, and their state (read, history, update), which the graph's own state methods
compute on the graph loop against our checkpointer, as a run would.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from langgraph.errors import InvalidUpdateError
from langgraph.types import StateUpdate

from .. import ids
from ..auth.context import current_principal
from ..errors import BadRequest, Conflict
from ..storage.env import Store, combine
from ..storage.eventlog import EventLog
from ..storage.records import Thread
from ..storage.tables import Tables
from . import lifecycle
from .bridge import AsyncioBridge
from .chunks import to_command
from .graphs import READ, UPDATE, Graphs
from .queue import RunQueue, thread_interrupts
from .runconfig import configurable_of, state_config
from .state import EMPTY_STATE, read_history, read_state, update_state


class NoGraph(BadRequest):
    """The thread is bound to no graph yet (no run, no `graph_id` in its metadata)."""


class Threads:
    def __init__(self, *, store: Store, tables: Tables, log: EventLog, queue: RunQueue, graphs: Graphs, bridge: AsyncioBridge, checkpointer: Any, crons: Any) -> None:
        self.store = store
        self.tables = tables
        self.log = log
        self.queue = queue
        self.graphs = graphs
        self.bridge = bridge
        self.checkpointer = checkpointer
        self.crons = crons

    # -- the thread itself -----------------------------------------------------------

    async def delete(self, thread_id: str) -> None:
        """The thread and everything of it: its runs (cancelled first), event log,
        checkpoints and crons, in one commit; then every stream on it ends."""
        with self.queue.closed_for(thread_id):
            await self.queue.drain(thread_id)
            await self.store.write(
                combine(
                    self.tables.delete_thread_op(thread_id),
                    self.log.delete_op(thread_id),
                    self.checkpointer.delete_thread_op(thread_id),
                    self.crons.delete_matching_op(thread_id=thread_id),
                )
            )
        self.log.end_streams(thread_id)
        self.crons.notify()

    async def copy(self, thread: Thread, new_id: str | None = None) -> Thread:
        """A new thread with the same metadata and checkpoints, in one commit (not the
        event log: that is the history of runs, which the copy did not have). As the
        reference: the copy is `idle`, with no config and no values until a run or an
        update on it; its checkpoints name it as their thread."""
        now = ids.now_iso()
        copy = Thread(new_id or str(uuid.uuid4()), now, now, metadata=dict(thread.metadata), graph_id=thread.graph_id)
        await self.store.write(combine(self.tables.put_thread_op(copy), self.checkpointer.copy_thread_op(thread.thread_id, copy.thread_id, rename=True)))
        return copy

    async def prune_history(self, thread_id: str) -> None:
        """Keep only the thread's latest checkpoint (`POST /threads/prune`, keep_latest)."""
        await self.store.write(self.checkpointer.prune_op([thread_id], strategy="keep_latest"))

    # -- its state -------------------------------------------------------------------

    def graph_id(self, thread: Thread) -> str | None:
        graph_id = thread.graph_id or thread.metadata.get("graph_id")
        return graph_id if graph_id in self.graphs else None

    def _config(self, thread: Thread) -> dict[str, Any]:
        """The config a factory graph is built with for the thread's state: the config the
        thread kept from its last run (its assistant's, see `runconfig.thread_config_after`);
        for a thread that has none, its assistant's."""
        if thread.config:
            return {**thread.config, "configurable": {**configurable_of(thread.config), "thread_id": thread.thread_id}}
        assistant_id = thread.metadata.get("assistant_id")
        assistant = self.tables.get_assistant(assistant_id) if isinstance(assistant_id, str) and ids.parse_uuid(assistant_id) else None
        return state_config(thread.thread_id, thread.config, assistant)

    async def _with_graph(self, thread: Thread, use: Callable[[Any], Any], *, access: str) -> Any:
        """`use(graph)` on the graph loop, with the thread's graph open (built with its config)."""
        graph_id = self.graph_id(thread)
        if graph_id is None:
            raise NoGraph(
                f"Thread '{thread.thread_id}' has no assigned graph ID. This usually occurs when no runs have been made on this "
                "particular thread. This operation requires a graph ID. Please ensure a run has been made for the thread or "
                "manually update the thread metadata (by setting the 'graph_id' field) before running this operation."
            )
        config = self._config(thread)
        principal = current_principal()
        return await self.bridge.call(lambda: self.graphs.use(graph_id, config, use, access=access, principal=principal), label=f"graph of thread {thread.thread_id}")

    async def state(self, thread: Thread, checkpoint: dict[str, Any] | None = None, *, subgraphs: bool = False) -> dict[str, Any]:
        if self.graph_id(thread) is None:
            return dict(EMPTY_STATE)
        state: dict[str, Any] = await self._with_graph(thread, lambda graph: read_state(graph, thread.thread_id, checkpoint, subgraphs=subgraphs), access=READ)
        return state

    async def history(self, thread: Thread, *, limit: int, before: dict[str, Any] | None, metadata: dict[str, Any] | None, checkpoint: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        if self.graph_id(thread) is None:
            return []
        history: list[dict[str, Any]] = await self._with_graph(
            thread, lambda graph: read_history(graph, thread.thread_id, limit=limit, before=before, metadata=metadata, checkpoint=checkpoint), access=READ
        )
        return history

    async def update_state(self, thread: Thread, values: Any, *, as_node: str | None, checkpoint: dict[str, Any] | None) -> dict[str, Any]:
        """`POST /threads/{id}/state`: a new checkpoint, the thread's values and status,
        and a `state_update` event."""
        if self.queue.has_work(thread.thread_id):
            raise Conflict(f"Thread {thread.thread_id} has in-flight runs: {self.queue.run_ids(thread.thread_id)}")
        # Recorded in the checkpoint's metadata, as the reference records updates: the graph
        # id, and (the graph being built from them) a factory graph's configurable.
        graph_id = self.graph_id(thread)
        factory = graph_id is not None and self.graphs.specs[graph_id].is_factory
        recorded = {**(configurable_of(thread.config) if factory else {}), "graph_id": graph_id}
        principal = current_principal()
        if principal is not None and principal.user.display_name:
            recorded["user_id"] = principal.user.display_name  # as the reference: who made the update

        async def update(graph: Any) -> tuple[dict[str, Any], dict[str, Any]]:
            if as_node is not None and as_node not in graph.nodes:
                raise BadRequest(f"Node {as_node} does not exist")
            try:
                return await update_state(graph, thread.thread_id, values, as_node=as_node, checkpoint=checkpoint, configurable=recorded)
            except (ValueError, KeyError, TypeError) as exc:  # the graph refused the update
                raise BadRequest(f"{type(exc).__name__}: {exc}") from None

        configurable, state = await self._with_graph(thread, update, access=UPDATE)
        await self._settle(thread.thread_id, state)
        return {"checkpoint": configurable, "configurable": configurable, "checkpoint_id": configurable.get("checkpoint_id")}

    async def apply_supersteps(self, thread: Thread, supersteps: list[dict[str, Any]]) -> Thread | None:
        """`POST /threads` with `supersteps`: seed a new thread's history, one checkpoint per
        superstep, each applying its updates as if those nodes had run (LangGraph's
        `abulk_update_state`), so the history can equal another thread's."""
        steps = [
            [StateUpdate(to_command(u["command"]) if u.get("command") else u.get("values"), u.get("as_node")) for u in step.get("updates") or []]  # type: ignore[arg-type]  # a Command is a valid update
            for step in supersteps
        ]
        config = {"configurable": {"thread_id": thread.thread_id, "checkpoint_ns": "", "graph_id": self.graph_id(thread)}}

        async def apply(graph: Any) -> dict[str, Any]:
            try:
                await graph.abulk_update_state(config, steps)
                return await read_state(graph, thread.thread_id)
            except InvalidUpdateError as exc:  # an unknown node, a refused update
                raise BadRequest(str(exc)) from None
            except (ValueError, KeyError, TypeError) as exc:
                raise BadRequest(f"{type(exc).__name__}: {exc}") from None

        state = await self._with_graph(thread, apply, access=UPDATE)
        return await self._settle(thread.thread_id, state)

    async def _settle(self, thread_id: str, state: dict[str, Any]) -> Thread | None:
        """After a state update: the thread's values, interrupts and status, and its
        `state_update` event, in one commit."""
        _, events_op = self.log.prepare(thread_id, [lifecycle.state_update_event(thread_id, state)])

        def settle(t: Thread) -> None:
            t.values = state["values"]
            t.interrupts = thread_interrupts(state)
            t.status = lifecycle.thread_status(has_work=False, errored=False, interrupted=bool(state["next"]))
            t.updated_at = ids.now_iso()

        updated, _ = await self.store.write(combine(self.tables.update_thread_op(thread_id, settle), events_op))
        return updated
