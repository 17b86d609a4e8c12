"""Which log events a stream sends, under which names, and when it ends."""

from __future__ import annotations

from collections.abc import Iterable

from ..runtime.lifecycle import CONTROL_MODES, LIFECYCLE, RUN_DONE, STATE_UPDATE, is_run_end
from ..runtime.protocol_events import V2_MODE
from ..storage.records import LogEvent
from .tail import Selector

ALWAYS = frozenset({"metadata", "error"})
THREAD_STREAM_MODES = frozenset({"run_modes", "lifecycle", "state_update"})


def run_selector(run_id: str, modes: Iterable[str] | None) -> Selector:
    """A run's own events (all of them, or those of `modes`); ends with the run."""
    wanted = None if modes is None else frozenset(modes) | ALWAYS

    def select(event: LogEvent) -> tuple[str | None, bool]:
        if event.run_id != run_id or event.mode == V2_MODE:  # protocol v2 records: not for classic streams
            return None, False
        if event.mode in CONTROL_MODES:
            return None, is_run_end(event)
        if wanted is not None and event.mode not in wanted:
            return None, False
        return event.event, False

    return select


def thread_selector(modes: Iterable[str]) -> Selector:
    """Every run on the thread, for `GET /threads/{id}/stream`; never ends by itself.

    `run_modes`: each run's events as its own stream sent them, then `metadata`
    `{"status": "run_done"}`. `lifecycle`: the runs' `metadata` start and `run_done`
    events (as the reference), plus `lifecycle` events with the run's status and a
    timestamp. `state_update`: `{"state", "thread_id"}` after each run and state update."""
    modes = frozenset(modes)
    run_modes = "run_modes" in modes
    lifecycle = "lifecycle" in modes
    state_update = "state_update" in modes

    def select(event: LogEvent) -> tuple[str | None, bool]:
        mode = event.mode
        if mode == V2_MODE:
            return None, False
        if mode == RUN_DONE or mode == "metadata":
            return ("metadata" if run_modes or lifecycle else None), False
        if mode == LIFECYCLE:
            return ("lifecycle" if lifecycle else None), False
        if mode == STATE_UPDATE:
            return ("state_update" if state_update else None), False
        return (event.event if run_modes else None), False

    return select
