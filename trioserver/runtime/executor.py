"""The run lifecycle: queueing per thread, running a graph, recording what it did.

A run is a trio task in the application's nursery, never in a request's scope. It
appends everything the graph streams to the thread's event log; streams read the log.
At most one run runs per thread; the others wait, in creation order, as `pending`.
"""

from __future__ import annotations

import contextvars
import logging
import math
from typing import Any, Callable

import attrs
import langgraph.version
import lmdb
import trio

from .. import __version__, ids, jsonenc
from ..errors import Conflict
from ..storage.eventlog import EventLog
from ..storage.records import LogEvent, Run, Thread
from ..storage.tables import Tables
from .bridge import AsyncioBridge
from .chunks import ChunkEncoder, graph_stream_modes, to_command
from .graphs import GraphSpec
from .state import read_state, thread_interrupts
from .webhooks import call_webhook

log = logging.getLogger(__name__)

# Control records in the log: not graph output, but the run's own story.
RUN_DONE = "run_done"  # rendered on thread streams as `metadata {"status": "run_done"}`
LIFECYCLE = "lifecycle"
STATE_UPDATE = "state_update"
CONTROL_MODES = frozenset({RUN_DONE, LIFECYCLE, STATE_UPDATE})

FINAL_STATUSES = frozenset({"success", "error", "interrupted", "timeout"})


@attrs.define
class ActiveRun:
    run: Run
    scope: trio.CancelScope = attrs.field(factory=trio.CancelScope)
    cancel_action: str | None = None  # "interrupt" | "rollback" when cancelled by request
    cancel_reason: str = ""
    started: bool = False  # its start (status, first events) is committed


class RunExecutor:
    """Starts, queues and cancels runs; the only writer of run and thread status."""

    def __init__(self, *, tables: Tables, log: EventLog, bridge: AsyncioBridge, graphs: dict[str, GraphSpec], checkpointer: Any, kvstore: Any = None, api_url: str = "") -> None:
        self.tables = tables
        self.store = tables.store
        self.log = log
        self.bridge = bridge
        self.graphs = graphs
        self.checkpointer = checkpointer
        self.kvstore = kvstore  # the graphs' long-term memory (`get_store()`), as the reference
        self.api_url = api_url
        self.nursery: trio.Nursery | None = None
        self._active: dict[str, ActiveRun] = {}  # thread id -> its running run
        self._queued: dict[str, list[str]] = {}  # thread id -> pending run ids, oldest first
        self._finished: dict[str, trio.Event] = {}  # run id -> set when it ends
        self._graph_cache: dict[str, Any] = {}

    # -- lifetime ------------------------------------------------------------------

    async def serve(self, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        """Own the nursery runs live in; on start, settle runs a previous process left behind."""
        async with trio.open_nursery() as nursery:
            self.nursery = nursery
            await self._recover()
            task_status.started()
            await trio.sleep_forever()

    async def shutdown(self) -> None:
        """Interrupt every running run and wait until each has recorded its end.
        (Pending runs stay pending: the next start queues them again.)"""
        running = list(self._active.values())
        for active in running:
            active.cancel_action = "interrupt"
            active.cancel_reason = "the server is shutting down"
            active.scope.cancel()
        for active in running:
            await self.wait_finished(active.run.run_id)

    async def _recover(self) -> None:
        """Runs left `running` by a process that died end as `error`, so joiners finish;
        runs left `pending` are queued again."""
        runs = sorted(self.tables.all_runs(), key=lambda r: r.run_id)
        for run in runs:
            if run.status == "running":
                error = {"error": "RuntimeError", "message": "The server stopped while this run was running."}
                await self._finish(run, "error", error=error)
            elif run.status == "pending":
                self._queued.setdefault(run.thread_id, []).append(run.run_id)
        for thread_id in list(self._queued):
            self._start_next(thread_id)

    # -- queries -------------------------------------------------------------------

    def is_busy(self, thread_id: str) -> bool:
        return thread_id in self._active or bool(self._queued.get(thread_id))

    def active_run_ids(self, thread_id: str) -> list[str]:
        active = self._active.get(thread_id)
        return ([active.run.run_id] if active else []) + list(self._queued.get(thread_id, []))

    async def wait_finished(self, run_id: str) -> None:
        """Return once the run is no longer pending or running."""
        event = self._finished.get(run_id)
        if event is not None:
            await event.wait()

    # -- submitting ----------------------------------------------------------------

    async def submit(self, run: Run, *, extra_ops: list[Callable[[lmdb.Transaction], Any]] = ()) -> Run:
        """Store `run` as pending (with `extra_ops`, e.g. creating its thread) and queue it.

        The multitask strategy is applied here: `reject` raises Conflict when the thread
        is busy; `interrupt` and `rollback` cancel what runs; `enqueue` waits its turn."""
        thread_id = run.thread_id
        if self.is_busy(thread_id):
            strategy = run.multitask_strategy
            if strategy == "reject":
                raise Conflict("Thread is already running a task. Wait for it to finish or choose a different multitask strategy.")
            if strategy in ("interrupt", "rollback"):
                for other in self.active_run_ids(thread_id):
                    await self.cancel(thread_id, other, action=strategy, reason=f"superseded by run {run.run_id} (multitask_strategy={strategy})")
        run.log_start = str(self.log.last_id(thread_id))
        self._finished[run.run_id] = trio.Event()

        def mark_busy(txn: lmdb.Transaction) -> None:
            if not run.temporary:
                self.tables.update_thread_op(thread_id, _set_status("busy"))(txn)

        ops = [*extra_ops, self.tables.put_run_op(run), mark_busy]
        active = None
        if not self.is_busy(thread_id) and self.nursery is not None:
            # It runs now: claim the thread before the first await, so a concurrent submit
            # sees it busy, and (unless it is scheduled for later) record its start in the
            # same commit as its creation.
            active = self._active[thread_id] = ActiveRun(run)
            if not run.kwargs.get("after_seconds"):
                ops += self._start_ops(run)
                active.started = True
        try:
            await self.store.write(all_ops(*ops))
        except BaseException:
            self._finished.pop(run.run_id, None)
            if active is not None:
                del self._active[thread_id]
                self._start_next(thread_id)
            raise
        if active is not None:
            self._spawn(active)
        else:
            self._queued.setdefault(thread_id, []).append(run.run_id)
            self._start_next(thread_id)
        return run

    def _spawn(self, active: ActiveRun) -> None:
        # An empty context: the run must not inherit (and keep alive) the request's.
        contextvars.Context().run(self.nursery.start_soon, self._run_task, active)

    def _start_ops(self, run: Run) -> list[Callable[[lmdb.Transaction], Any]]:
        """What starting a run writes: its status, then `lifecycle` and `metadata` events."""
        metadata = LogEvent(run.run_id, "metadata", "metadata", jsonenc.dumps({"run_id": run.run_id, "attempt": run.attempt}))
        _, events_op = self.log.prepare(run.thread_id, [self._lifecycle_event(run, "running"), metadata])
        run.status = "running"
        return [self.tables.update_run_op(run.run_id, _set_status("running")), events_op]

    def _start_next(self, thread_id: str) -> None:
        if thread_id in self._active or self.nursery is None:
            return
        queue = self._queued.get(thread_id)
        while queue:
            run_id = queue.pop(0)
            run = self.tables.get_run(run_id)
            if run is None or run.status != "pending":
                self._settled(run_id)
                continue
            self._spawn(self._active.setdefault(thread_id, ActiveRun(run)))
            break
        if not queue:
            self._queued.pop(thread_id, None)

    # -- cancelling ----------------------------------------------------------------

    async def cancel(self, thread_id: str, run_id: str, *, action: str = "interrupt", wait: bool = False, reason: str | None = None) -> bool:
        """Cancel a pending or running run. Returns False when it had already ended.

        `interrupt` keeps what the run did so far; `rollback` deletes the run and its checkpoints."""
        reason = reason or f"{action} requested via POST /threads/{{thread_id}}/runs/{{run_id}}/cancel"
        active = self._active.get(thread_id)
        if active is not None and active.run.run_id == run_id:
            active.cancel_action = action
            active.cancel_reason = reason
            active.scope.cancel()
            if wait:
                await self.wait_finished(run_id)
            return True
        queue = self._queued.get(thread_id, [])
        if run_id in queue:
            queue.remove(run_id)
            run = self.tables.get_run(run_id)
            try:
                if run is not None:
                    await self._finish(run, "interrupted", cancelled=_cancel_error(action, reason), rollback=action == "rollback", started=False)
            finally:
                self._settled(run_id)
            return True
        return False

    def _settled(self, run_id: str) -> None:
        """The run will not run (any more): wake whoever waits for it."""
        event = self._finished.pop(run_id, None)
        if event is not None:
            event.set()

    async def delete_thread(self, thread_id: str) -> None:
        """Forget a thread: its runs (cancelled first), record, event log and checkpoints."""
        for run_id in self.active_run_ids(thread_id):
            await self.cancel(thread_id, run_id, action="interrupt", wait=True)
        await self.store.write(all_ops(self.tables.delete_thread_op(thread_id), self.log.delete_op(thread_id)))
        self.log.wake(thread_id)
        if self.checkpointer is not None:
            await self.bridge.call(lambda: self.checkpointer.adelete_thread(thread_id))

    # -- running -------------------------------------------------------------------

    async def _run_task(self, active: ActiveRun) -> None:
        run = active.run
        try:
            await self._run(active)
        except BaseException as exc:  # noqa: BLE001 - a run never crashes the nursery
            if isinstance(exc, trio.Cancelled) or (
                isinstance(exc, BaseExceptionGroup) and exc.subgroup(trio.Cancelled) is not None
            ):
                raise
            log.exception("run %s failed outside the graph", run.run_id)
            # Still end it in the log, or its streams and joiners would wait forever.
            with trio.CancelScope(shield=True), trio.move_on_after(5):
                await self._finish(run, "error", error={"error": type(exc).__name__, "message": str(exc)})
        finally:
            self._active.pop(run.thread_id, None)
            self._settled(run.run_id)
            self._start_next(run.thread_id)

    async def _run(self, active: ActiveRun) -> None:
        run = active.run
        error: dict[str, Any] | None = None
        state: dict[str, Any] | None = None
        status = "success"
        started = False
        started_at = None
        with active.scope:
            delay = run.kwargs.get("after_seconds")
            if delay:  # scheduled for later: `pending` until then
                await trio.sleep(max(0.0, ids.parse_iso(run.created_at) + float(delay) - ids.now().timestamp()))
            started_at = ids.now_iso()
            if not active.started:
                with trio.CancelScope(shield=True):  # started or not, never half-way
                    await self.store.write(all_ops(*self._start_ops(run)))
                active.started = True
            started = True
            try:
                state = await self._drive(run)
            except Exception as exc:  # the graph raised
                status = "error"
                error = {"error": type(exc).__name__, "message": str(exc)}
                log.info("run %s raised %s: %s", run.run_id, type(exc).__name__, exc)
        cancelled = None
        if active.scope.cancelled_caught:
            status = "interrupted"
            cancelled = _cancel_error(active.cancel_action or "interrupt", active.cancel_reason)
        rollback = active.cancel_action == "rollback"
        with trio.CancelScope(shield=True):
            if rollback and started and self.checkpointer is not None:
                await self.bridge.call(lambda: self.checkpointer.adelete_for_runs([run.run_id]))
            if status != "success" and started and not run.temporary:
                state = await self._read_state(run)
            await self._finish(run, status, error=error, cancelled=cancelled, state=state, rollback=rollback, started=started)
        if run.kwargs.get("webhook"):
            payload = {
                **run.public(),
                "run_started_at": started_at,
                "run_ended_at": ids.now_iso(),
                "values": state["values"] if state and state.get("checkpoint") else None,
            }
            if error or cancelled:
                payload["error"] = error or cancelled
            self.nursery.start_soon(call_webhook, run.kwargs["webhook"], payload)

    async def _drive(self, run: Run) -> dict[str, Any] | None:
        """Run the graph on the asyncio loop, appending its output to the log in batches.
        Returns the thread's state afterwards (None for a stateless run)."""
        spec = self.graphs[run.graph_id]
        kwargs = run.kwargs
        assistant = self.tables.get_assistant(run.assistant_id)
        config = self._run_config(run, assistant)
        # The run's context over the assistant's, as the reference merges them.
        context = {**((assistant.context if assistant else None) or {}), **(kwargs.get("context") or {})}
        send, receive = trio.open_memory_channel[LogEvent](math.inf)
        result: dict[str, Any] = {}
        failure: list[BaseException] = []

        async def produce(emit: Callable[[LogEvent], None]) -> None:
            graph = await self._graph_for(spec, config, run.temporary)
            encoder = ChunkEncoder(run.run_id, run.stream_mode, run.stream_subgraphs, emit)
            graph_input: Any = kwargs.get("input")
            if kwargs.get("command"):
                graph_input = to_command(kwargs["command"])
            options: dict[str, Any] = dict(
                stream_mode=graph_stream_modes(run.stream_mode),
                subgraphs=run.stream_subgraphs,
                interrupt_before=kwargs.get("interrupt_before"),
                interrupt_after=kwargs.get("interrupt_after"),
            )
            if context:
                options["context"] = context
            if kwargs.get("durability"):
                options["durability"] = kwargs["durability"]
            if "events" in run.stream_mode:
                async for event in graph.astream_events(graph_input, config, version="v2", **options):
                    encoder.stream_event(event)
            else:
                async for item in graph.astream(graph_input, config, **options):
                    if run.stream_subgraphs:
                        ns, mode, chunk = item
                    else:
                        (mode, chunk), ns = item, None
                    encoder.graph_chunk(ns, mode, chunk)
            encoder.finish()
            if not run.temporary:
                result["state"] = await read_state(graph, run.thread_id)

        async def producer() -> None:
            try:
                await self.bridge.pump(produce, send.send_nowait)
            except Exception as exc:  # handed to the run, after the events before it
                failure.append(exc)
            finally:
                send.close()

        async with trio.open_nursery() as nursery:
            nursery.start_soon(producer)
            async for first in receive:
                batch = [first]
                while True:
                    try:
                        batch.append(receive.receive_nowait())
                    except (trio.WouldBlock, trio.EndOfChannel):
                        break
                await self.log.append(run.thread_id, batch)
        if failure:
            raise failure[0]
        return result.get("state")

    async def _graph_for(self, spec: GraphSpec, config: dict[str, Any], temporary: bool) -> Any:
        """The graph with our checkpointer attached (none for stateless runs, as the reference)."""
        checkpointer = None if temporary else self.checkpointer

        def attach(graph: Any) -> Any:
            update: dict[str, Any] = {"checkpointer": checkpointer}
            if self.kvstore is not None:
                update["store"] = self.kvstore
            if graph.name == "LangGraph":  # as the reference: the root run is named after the graph id
                update["name"] = spec.graph_id
            return graph.copy(update=update)

        if spec.is_factory:
            return attach(await spec.build(config))
        key = (spec.graph_id, temporary)
        graph = self._graph_cache.get(key)
        if graph is None:
            graph = self._graph_cache[key] = attach(spec.target)
        return graph

    async def graph(self, graph_id: str, config: dict[str, Any]) -> Any:
        """A graph for reading or updating a thread's state (with the checkpointer)."""
        return await self.bridge.call(lambda: self._graph_for(self.graphs[graph_id], config, False))

    def _run_config(self, run: Run, assistant: Any = None) -> dict[str, Any]:
        kwargs = run.kwargs
        user_config = kwargs.get("config") or {}
        assistant = assistant or self.tables.get_assistant(run.assistant_id)
        base = (assistant.config if assistant else {}) or {}
        configurable = {
            **(base.get("configurable") or {}),
            **(user_config.get("configurable") or {}),
            # What the reference puts here too; graphs written against it may read these.
            "langgraph_auth_user": None,
            "langgraph_auth_user_id": "",
            "langgraph_auth_permissions": [],
            "langgraph_request_id": run.run_id,
            "__request_start_time_ms__": int(ids.parse_iso(run.created_at) * 1000),
            "__after_seconds__": kwargs.get("after_seconds") or 0,
            "run_id": run.run_id,
            "thread_id": run.thread_id,
            "graph_id": run.graph_id,
            "assistant_id": run.assistant_id,
            "user_id": "",
        }
        if kwargs.get("checkpoint_id"):
            configurable["checkpoint_id"] = kwargs["checkpoint_id"]
        if kwargs.get("checkpoint"):
            configurable.update(kwargs["checkpoint"])
        metadata = {
            **(base.get("metadata") or {}),
            **(assistant.metadata if assistant else {}),
            **(user_config.get("metadata") or {}),
            **(run.metadata or {}),
            "graph_id": run.graph_id,
            "assistant_id": run.assistant_id,
            "run_attempt": run.attempt,
            "langgraph_version": langgraph.version.__version__,
            "langgraph_api_version": __version__,
            "langgraph_plan": "developer",
            "langgraph_host": "self-hosted",
            "langgraph_api_url": self.api_url,
            "run_id": run.run_id,
            "thread_id": run.thread_id,
        }
        config: dict[str, Any] = {
            **{k: v for k, v in user_config.items() if k not in ("configurable", "metadata")},
            "configurable": configurable,
            "metadata": metadata,
            "run_id": ids.parse_uuid(run.run_id),
        }
        if "recursion_limit" in base and "recursion_limit" not in config:
            config["recursion_limit"] = base["recursion_limit"]
        return config

    async def _read_state(self, run: Run) -> dict[str, Any] | None:
        """The thread's state after a failed or cancelled run (best effort)."""
        try:
            graph = await self.graph(run.graph_id, self._run_config(run))
            return await self.bridge.call(lambda: read_state(graph, run.thread_id))
        except Exception:  # noqa: BLE001
            log.debug("no state for %s", run.thread_id, exc_info=True)
            return None

    # -- finishing -----------------------------------------------------------------

    def _lifecycle_event(self, run: Run, status: str) -> LogEvent:
        payload = {"run_id": run.run_id, "thread_id": run.thread_id, "status": status, "timestamp": ids.now_iso()}
        return LogEvent(run.run_id, LIFECYCLE, LIFECYCLE, jsonenc.dumps(payload))

    async def _finish(
        self,
        run: Run,
        status: str,
        *,
        error: dict[str, Any] | None = None,
        cancelled: dict[str, Any] | None = None,
        state: dict[str, Any] | None = None,
        rollback: bool = False,
        started: bool = True,
    ) -> None:
        """Record the end of a run in one commit: its last events, its status, its thread's.

        `error` is what the graph raised (an `error` event, thread status `error`);
        `cancelled` is why it was cancelled (kept as the thread's `error`, as the reference)."""
        events = []
        if error is not None:
            events.append(LogEvent(run.run_id, "error", "error", jsonenc.dumps(error)))
        if started:
            events.append(LogEvent(run.run_id, RUN_DONE, RUN_DONE, jsonenc.dumps({"status": RUN_DONE, "run_id": run.run_id})))
        events.append(self._lifecycle_event(run, "rollback" if rollback else status))
        if state is not None and not run.temporary:
            events.append(state_update_event(run.thread_id, state, run.run_id))
        _, events_op = self.log.prepare(run.thread_id, events)
        now = ids.now_iso()
        thread_busy_after = bool(self._queued.get(run.thread_id))

        def settle_thread(thread: Thread) -> None:
            has_next = bool(state and state["next"])
            if error is not None:
                base = "error"
            elif has_next:
                base = "interrupted"
            else:
                base = "idle"
            thread.status = "busy" if thread_busy_after else base
            thread.updated_at = now
            thread.error = error or cancelled
            thread.graph_id = run.graph_id
            thread.metadata.setdefault("graph_id", run.graph_id)
            thread.metadata.setdefault("assistant_id", run.assistant_id)
            if state is not None:
                thread.values = state["values"] if state["checkpoint"] else None
                thread.interrupts = thread_interrupts(state)

        def settle_run(r: Run) -> None:
            r.status = status
            r.updated_at = now

        ops = [events_op]
        if rollback:
            ops.append(self.tables.delete_run_op(run.run_id))
        else:
            ops.append(self.tables.update_run_op(run.run_id, settle_run))
        if run.temporary:
            ops.append(self.tables.delete_thread_op(run.thread_id))
        else:
            ops.append(self.tables.update_thread_op(run.thread_id, settle_thread))
        await self.store.write(all_ops(*ops))
        run.status = status


def state_update_event(thread_id: str, state: dict[str, Any], run_id: str = "") -> LogEvent:
    """The thread stream's `state_update`: the thread's state after a run or an update."""
    return LogEvent(run_id, STATE_UPDATE, STATE_UPDATE, jsonenc.dumps({"state": state, "thread_id": thread_id}))


def _cancel_error(action: str, reason: str) -> dict[str, str]:
    return {"error": "UserRollback" if action == "rollback" else "UserInterrupt", "message": reason}


def _set_status(status: str) -> Callable[[Any], None]:
    def change(record: Any) -> None:
        record.status = status
        record.updated_at = ids.now_iso()

    return change


def all_ops(*ops: Callable[[lmdb.Transaction], Any]) -> Callable[[lmdb.Transaction], list[Any]]:
    """One write op doing `ops` in order, in one transaction."""

    def op(txn: lmdb.Transaction) -> list[Any]:
        return [o(txn) for o in ops]

    return op
