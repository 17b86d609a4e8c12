"""The classic streaming API's bodies, rendered from the event log: run streams (new
and joined), thread streams, and the single JSON answer of `runs/wait` and `join`.

A body that ends before its run does (the client left) is logged on one line with its
run and thread, and cancels the run when the client asked for that (`on_disconnect`).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from contextlib import aclosing
from typing import Any

import orjson
import trio

from .. import jsonenc
from ..ids import EventId
from ..runtime.queue import RunQueue
from ..storage.eventlog import EventLog
from ..storage.records import LogEvent, Run
from ..storage.tables import Tables
from ..streaming.selectors import run_selector, thread_selector
from ..streaming.sse import sse_from_log
from ..streaming.tail import tail_selected

log = logging.getLogger(__name__)


class ClassicStreams:
    def __init__(self, *, log: EventLog, tables: Tables, queue: RunQueue, shutdown: trio.Event, heartbeat: float) -> None:
        self.log = log
        self.tables = tables
        self.queue = queue
        self.shutdown = shutdown
        self.heartbeat = heartbeat

    async def run_events(self, run: Run, after: EventId, modes: list[str] | None, *, cancel_on_disconnect: bool) -> AsyncGenerator[bytes, None]:
        """The SSE bytes of one run, from `after` to its end."""
        finished = False
        try:
            async for chunk in sse_from_log(self.log, run.thread_id, after, run_selector(run.run_id, modes), shutdown=self.shutdown, heartbeat=self.heartbeat):
                yield chunk
            finished = True
        finally:
            if not finished:
                await self.abandoned(run, "stream", cancel_on_disconnect)

    def thread_events(self, thread_id: str, after: EventId, modes: list[str]) -> AsyncIterator[bytes]:
        """The SSE bytes of every run on a thread, from `after`, until the client leaves."""
        return sse_from_log(self.log, thread_id, after, thread_selector(modes), shutdown=self.shutdown, heartbeat=self.heartbeat)

    async def run_result(self, run: Run, *, cancel_on_disconnect: bool) -> AsyncGenerator[bytes, None]:
        """The body of `runs/wait` and `join`: the run's last values (with `__interrupt__`),
        or `{"__error__": ...}`, once the run ends; read from the log like any stream.

        A newline goes out every heartbeat interval meanwhile, so proxies keep the
        connection open (JSON parsers skip leading whitespace)."""
        result = RunResult()
        async with aclosing(self.follow_run(run, result, "wait", cancel_on_disconnect)) as items:
            async for item in items:
                if item is None:
                    yield b"\n"
        if result.finished:
            yield result.body(lambda: self.thread_values(run))

    async def follow_run(self, run: Run, result: RunResult, what: str, cancel_if_abandoned: bool) -> AsyncGenerator[LogEvent | None, None]:
        """The run's events from its start to its end, each absorbed into `result` (None
        for a heartbeat interval without any); `result.finished` once the end was seen.
        A reader that leaves first is `abandoned` (logged as `what`; the run is cancelled
        when `cancel_if_abandoned`)."""
        selected = tail_selected(self.log, run.thread_id, run.start_position, run_selector(run.run_id, None), shutdown=self.shutdown, heartbeat=self.heartbeat)
        try:
            async with aclosing(selected) as batches:
                async for batch in batches:
                    if not batch:
                        yield None
                    for _, event, _ in batch:
                        result.absorb(event)
                        yield event
            result.finished = not self.shutdown.is_set()
        finally:
            if not result.finished:
                await self.abandoned(run, what, cancel_if_abandoned)

    def thread_values(self, run: Run) -> Any:
        thread = self.tables.get_thread(run.thread_id)
        return thread.values if thread is not None and thread.values is not None else {}

    async def abandoned(self, run: Run, what: str, cancel_on_disconnect: bool) -> None:
        """The body ended before the run: log it; with `on_disconnect="cancel"` (and not
        at a stop, when every body ends), cancel the run."""
        if self.shutdown.is_set():
            return
        cancel = cancel_on_disconnect
        log.info("client left the %s of run %s on thread %s%s", what, run.run_id, run.thread_id, " (cancelling the run: on_disconnect=cancel)" if cancel else "")
        if cancel:
            with trio.CancelScope(shield=True), trio.move_on_after(5):
                await self.queue.cancel(run.thread_id, run.run_id, action="interrupt", reason="client disconnected from the run stream (on_disconnect=cancel)")


class RunResult:
    """Keeps what `runs/wait` answers while a run's events go by."""

    def __init__(self) -> None:
        self.latest: bytes | None = None
        self.interrupts: list[Any] = []
        self.errored = False
        self.finished = False  # the run's end was seen (not cut short by a stop or the caller)

    def absorb(self, event: LogEvent) -> None:
        if event.mode == "error":
            self.latest = b'{"__error__":' + event.data + b"}"
            self.errored = True
        elif event.event == "values":
            self.latest = event.data
        elif event.event == "updates" and b'"__interrupt__"' in event.data:
            self.interrupts = orjson.loads(event.data).get("__interrupt__") or []

    def body(self, fallback: Callable[[], Any]) -> bytes:
        """The last values; with the interrupts when the run was not asked for `values`."""
        if self.interrupts and not self.errored and (self.latest is None or b'"__interrupt__"' not in self.latest):
            values = orjson.loads(self.latest) if self.latest else fallback()
            return jsonenc.dumps({**(values if isinstance(values, dict) else {}), "__interrupt__": self.interrupts})
        if self.latest is not None:
            return self.latest
        return jsonenc.dumps(fallback())
