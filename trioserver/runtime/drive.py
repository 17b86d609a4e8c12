"""Driving one run's graph on the asyncio loop and appending what it streams to the log.

The graph runs on the loop thread (see `bridge`); its output is encoded there, once
(`ChunkEncoder`), handed to trio, and appended to the thread's event log in batches:
whatever arrived while the previous append was committing goes in the next one. The
producer may run at most `BACKLOG` events ahead of the appends, so a graph that
streams faster than the disk can commit waits instead of filling memory.
"""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Callable
from typing import Any, Protocol

import outcome
import trio

from ..auth import context as auth_context
from ..storage.eventlog import EventLog
from ..storage.records import Assistant, LogEvent, Run
from .bridge import AsyncioBridge, Backpressure, current_run
from .chunks import ChunkEncoder, graph_stream_modes, to_command
from .graphs import READ, RUN, Graphs
from .protocol_events import ProtocolEncoder
from .protocol_events import transformers as protocol_transformers
from .runconfig import run_config, run_context
from .state import read_state

log = logging.getLogger(__name__)

# LangGraph marks its protocol stream experimental on every v2 run; once is enough to know.
warnings.filterwarnings("ignore", message="The v3 streaming protocol", category=Warning)

BACKLOG = 2048  # events a graph may stream ahead of the log


class RunDriver(Protocol):
    """What the run queue needs of whatever runs graphs: this process (`Driver`) or graph
    workers (`workers.RemoteDriver`)."""

    async def drive(self, run: Run, assistant: Assistant | None) -> dict[str, Any] | None: ...

    async def state_after(self, run: Run, assistant: Assistant | None) -> dict[str, Any] | None: ...


class RunLost(Exception):
    """The run's graph went away with the process running it (a graph worker died): the
    queue hands the run back as its next attempt."""


class GraphFailure(Exception):
    """What a graph raised in another process: its type name and message, as recorded."""

    def __init__(self, error: dict[str, Any]) -> None:
        super().__init__(error.get("message", ""))
        self.error = error


class Driver:
    """Runs graphs for the run queue; knows nothing of queues, statuses or HTTP."""

    def __init__(self, *, bridge: AsyncioBridge, graphs: Graphs, log: EventLog, checkpointer: Any, api_url: str = "") -> None:
        self.bridge = bridge
        self.graphs = graphs
        self.log = log
        self.checkpointer = checkpointer
        self.api_url = api_url

    async def drive(self, run: Run, assistant: Assistant | None) -> dict[str, Any] | None:
        """Run the graph to its end, appending its output to the log. Returns the
        thread's state afterwards (None for a stateless run). Raises what the graph
        raised, after the events it streamed before it."""
        kwargs = run.kwargs
        config = run_config(run, assistant, api_url=self.api_url)
        context = run_context(run, assistant)
        send, receive = trio.open_memory_channel[LogEvent](math.inf)  # bounded by `flow`
        flow = Backpressure(self.bridge.loop, BACKLOG)
        result: dict[str, Any] = {}
        failure: list[BaseException] = []

        async def produce(emit: Callable[[LogEvent], None]) -> None:  # on the graph loop
            current_run.set(run.run_id)
            principal = run_principal(run)
            auth_context.current.set(principal)  # get_auth_ctx() in the graph

            def counted(event: LogEvent) -> None:
                flow.sent += 1
                emit(event)

            opened = self.graphs.open(run.graph_id, config, access=RUN, principal=principal, context=context, stateless=run.temporary)
            graph: Any  # a Pregel, whose stream arguments are built at run time
            async with opened as graph:
                encoder = ChunkEncoder(run.run_id, run.stream_mode, run.stream_subgraphs, counted)
                graph_input = await self._input(run, graph)
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
                if run.kwargs.get("protocol") == "v2":
                    await _drive_protocol(run, graph, graph_input, config, options, counted, flow)
                elif "events" in run.stream_mode:
                    async for event in graph.astream_events(graph_input, config, version="v2", **options):
                        encoder.stream_event(event)
                        await flow.throttle()
                else:
                    async for item in graph.astream(graph_input, config, **options):
                        if run.stream_subgraphs:
                            ns, mode, chunk = item
                        else:
                            (mode, chunk), ns = item, None
                        encoder.graph_chunk(ns, mode, chunk)
                        await flow.throttle()
                encoder.finish()
                if not run.temporary:
                    result["state"] = await read_state(graph, run.thread_id)

        async def producer() -> None:
            try:
                await self.bridge.pump(produce, send.send_nowait, label=f"run {run.run_id} on thread {run.thread_id}", on_abandon=lambda: self.fence(run))
            except Exception as exc:  # noqa: BLE001 - handed to the run, after the events before it
                failure.append(exc)
            finally:
                send.close()

        try:
            await self._pump(run, producer, receive, flow)
        except trio.Cancelled:
            self._fence_if_lingering(run)
            raise
        if failure:
            raise failure[0]
        return result.get("state")

    async def _pump(self, run: Run, producer: Callable[[], Any], receive: trio.MemoryReceiveChannel[LogEvent], flow: Backpressure) -> None:
        """Append what the graph streams, batch by batch, without waiting for the commits:
        a run's batches, and the record of its end queued after them, share commits (the
        writer keeps their order). The producer may run ahead by what is committed
        (`flow`). A batch that fails to commit fails the run's end record too."""

        def committed(count: int) -> Callable[[outcome.Outcome], None]:
            return lambda result: flow.ack(count)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(producer)
            async for first in receive:
                batch = [first]
                while True:
                    try:
                        batch.append(receive.receive_nowait())
                    except (trio.WouldBlock, trio.EndOfChannel):
                        break
                await self.log.append_queued(run.thread_id, batch, on_done=committed(len(batch)))

    def _fence_if_lingering(self, run: Run) -> None:
        """A cancelled run whose sync nodes still run in worker threads: log it, and
        refuse its graph's later checkpoint writes so it cannot change the thread."""
        lingering = self.bridge.pool.busy(run.run_id)
        if lingering:
            log.warning("run %s on thread %s: cancelled while %d sync node(s) still run in worker threads; their writes will be refused", run.run_id, run.thread_id, lingering)
            self.fence(run)

    def fence(self, run: Run) -> None:
        """The run's graph would not stop: whatever it checkpoints from now on is refused,
        so it cannot change the thread behind the runs that come after it."""
        if self.checkpointer is not None:
            self.checkpointer.fence(run.run_id)

    async def _input(self, run: Run, graph: Any) -> Any:
        """What the graph is invoked with: the run's input or command; for a later
        attempt of a run the server had to stop, nothing (so it resumes from its last
        checkpoint) once that checkpoint is the run's own."""
        kwargs = run.kwargs
        graph_input: Any = to_command(kwargs["command"]) if kwargs.get("command") else kwargs.get("input")
        if run.attempt > 1 and not run.temporary and self.checkpointer is not None:
            latest = await self.checkpointer.aget_tuple({"configurable": {"thread_id": run.thread_id, "checkpoint_ns": ""}})
            if latest is not None and str(latest.metadata.get("run_id") or "") == run.run_id:
                log.info("run %s on thread %s: attempt %d resumes from checkpoint %s", run.run_id, run.thread_id, run.attempt, latest.config["configurable"]["checkpoint_id"])
                return None
        return graph_input

    async def state_after(self, run: Run, assistant: Assistant | None) -> dict[str, Any] | None:
        """The thread's state after a failed or cancelled run (best effort: None when it
        cannot be read)."""
        if run.temporary:
            return None
        config = run_config(run, assistant, api_url=self.api_url)
        try:
            principal = run_principal(run)
            return await self.bridge.call(
                lambda: self.graphs.use(run.graph_id, config, lambda graph: read_state(graph, run.thread_id), access=READ, principal=principal),
                label=f"state of thread {run.thread_id}",
            )
        except Exception:  # noqa: BLE001
            log.debug("no state for thread %s after run %s", run.thread_id, run.run_id, exc_info=True)
            return None


def run_principal(run: Run) -> auth_context.Principal | None:
    """Whom a run acts for (stored with it when it was created)."""
    auth = run.kwargs.get("auth")
    return auth_context.Principal.from_run_auth(auth) if auth else None


async def _drive_protocol(run: Run, graph: Any, graph_input: Any, config: dict[str, Any], options: dict[str, Any], emit: Callable[[LogEvent], None], flow: Backpressure) -> None:
    """A run started through the event streaming protocol: LangGraph's protocol stream,
    with every channel, encoded record by record (see `protocol_events`)."""
    encoder = ProtocolEncoder(run.run_id, emit)
    kwargs = {k: v for k, v in options.items() if k not in ("stream_mode", "subgraphs")}  # v3 owns both
    stream = await graph.astream_events(graph_input, config, version="v3", transformers=protocol_transformers(graph, encoder.event), **kwargs)
    async with stream:
        async for event in stream:
            encoder.event(event)
            await flow.throttle()
