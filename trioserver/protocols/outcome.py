"""A run's outcome for protocols that answer one call per run (MCP tool calls, A2A
messages): its events as they come, then its final values or its error.

Read from the event log exactly as `runs/wait` reads it (a tail of the run's events and
`RunResult`, see classic.py); what differs is only that each event is also handed to the
caller, who turns it into progress of its own protocol.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator, Awaitable, Callable
from contextlib import aclosing
from typing import Any

import attrs
import orjson

from ..storage.records import LogEvent, Run
from .classic import ClassicStreams, RunResult

log = logging.getLogger(__name__)


@attrs.define
class Outcome:
    values: Any  # the run's last values (with `__interrupt__` when it stopped at one)
    error: dict[str, Any] | None  # what the graph raised: {"error": <type>, "message": ...}
    finished: bool  # False: the server stopped before the run ended


async def run_outcome(
    streams: ClassicStreams,
    run: Run,
    on_event: Callable[[LogEvent], Awaitable[None]] | None = None,
    *,
    cancel_if_abandoned: bool = False,
) -> Outcome:
    """Follow `run` to its end, handing each event to `on_event`. With
    `cancel_if_abandoned`, a caller that goes away (is cancelled) before the end cancels
    the run too: nobody could read its result."""
    async with aclosing(run_events(streams, run, cancel_if_abandoned=cancel_if_abandoned)) as items:
        async for item in items:
            if isinstance(item, Outcome):
                return item
            if on_event is not None:
                await on_event(item)
    raise AssertionError("run_events ends with the outcome")


async def run_events(streams: ClassicStreams, run: Run, *, cancel_if_abandoned: bool = False) -> AsyncGenerator[LogEvent | Outcome, None]:
    """The run's events as they are appended, then (last) its `Outcome`."""
    result = RunResult()
    async with aclosing(streams.follow_run(run, result, "call", cancel_if_abandoned)) as items:
        async for item in items:
            if item is not None:
                yield item
    body = orjson.loads(result.body(lambda: streams.thread_values(run)))
    if isinstance(body, dict) and "__error__" in body:
        yield Outcome(values=None, error=body["__error__"], finished=result.finished)
    else:
        yield Outcome(values=body, error=None, finished=result.finished)
