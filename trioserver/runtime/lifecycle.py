"""The run lifecycle: run and thread status as explicit state machines, and the log
vocabulary that tells a run's story.

Everything that changes a run's or a thread's status goes through `advance_run` and
`thread_status` here, so the rules live in one place:

    run:     pending ──► running ──► success | error | timeout | interrupted
               │            │
               │            └──► pending   (handed back to the queue: the server stopped
               │                            under it; a new attempt resumes it)
               └──► interrupted             (cancelled before it started)

    thread:  busy while it has a run running or waiting; otherwise what its last run
             left: error, interrupted (pending interrupts), or idle.

Besides the graph's own output, a thread's event log holds control records: `metadata`
and `lifecycle` when a run starts, `run_done` and a final `lifecycle` when it ends,
`state_update` after each run and each state update. Streams select on them (see
`streaming.selectors`); they are built only here.
"""

from __future__ import annotations

from typing import Any

import orjson

from .. import ids, jsonenc
from ..storage.records import LogEvent, Run, Thread

PENDING, RUNNING = "pending", "running"
FINAL_STATUSES = frozenset({"success", "error", "timeout", "interrupted"})
RUN_STATUSES = (PENDING, RUNNING, "success", "error", "timeout", "interrupted")  # in the order the API documents them
THREAD_STATUSES = ("idle", "busy", "interrupted", "error")

_RUN_TRANSITIONS: dict[str, frozenset[str]] = {
    PENDING: frozenset({RUNNING, "interrupted"}),
    RUNNING: FINAL_STATUSES | {PENDING},
}

# Control records in the log: not graph output, but the run's own story.
RUN_DONE = "run_done"  # rendered on thread streams as `metadata {"status": "run_done"}`
LIFECYCLE = "lifecycle"
STATE_UPDATE = "state_update"
CONTROL_MODES = frozenset({RUN_DONE, LIFECYCLE, STATE_UPDATE})
# A run's last lifecycle record carries one of these ("rollback": it was deleted).
END_STATUSES = FINAL_STATUSES | {"rollback"}

CANCEL_ERRORS = frozenset({"UserInterrupt", "UserRollback"})


class InvalidTransition(RuntimeError):
    """A status change the state machine does not allow: a bug, never a client error."""


def advance_run(run: Run, status: str) -> None:
    """Move `run` to `status`, or raise InvalidTransition."""
    if status not in _RUN_TRANSITIONS.get(run.status, frozenset()):
        raise InvalidTransition(f"run {run.run_id}: {run.status} -> {status}")
    run.status = status
    run.updated_at = ids.now_iso()


def thread_status(*, has_work: bool, errored: bool, interrupted: bool) -> str:
    """The one rule for a thread's status: `busy` while a run runs or waits on it;
    otherwise `error` after a failed run, `interrupted` with pending interrupts, or `idle`."""
    if has_work:
        return "busy"
    if errored:
        return "error"
    if interrupted:
        return "interrupted"
    return "idle"


def resting_status(thread: Thread, *, has_work: bool) -> str:
    """A thread's status when no run of its own ended (a run cancelled before it started):
    what its last run left, read from the thread itself."""
    error = thread.error if isinstance(thread.error, dict) else None
    errored = error is not None and error.get("error") not in CANCEL_ERRORS
    return thread_status(has_work=has_work, errored=errored, interrupted=bool(thread.interrupts))


def cancel_error(action: str, reason: str) -> dict[str, str]:
    """What a cancelled run leaves as its thread's `error`, as the reference does."""
    return {"error": "UserRollback" if action == "rollback" else "UserInterrupt", "message": reason}


# -- the log vocabulary ----------------------------------------------------------------------


def metadata_event(run: Run) -> LogEvent:
    return LogEvent(run.run_id, "metadata", "metadata", jsonenc.dumps({"run_id": run.run_id, "attempt": run.attempt}))


def lifecycle_event(run: Run, status: str, *, interrupted: bool = False, error: str | None = None) -> LogEvent:
    """A run's status change. `graph_id`, `interrupted` (it ended waiting for input) and
    `error` are what the event streaming protocol's root lifecycle tells its clients."""
    payload: dict[str, Any] = {"run_id": run.run_id, "thread_id": run.thread_id, "status": status, "timestamp": ids.now_iso(), "graph_id": run.graph_id}
    if interrupted:
        payload["interrupted"] = True
    if error is not None:
        payload["error"] = error
    return LogEvent(run.run_id, LIFECYCLE, LIFECYCLE, jsonenc.dumps(payload))


def run_done_event(run: Run) -> LogEvent:
    return LogEvent(run.run_id, RUN_DONE, RUN_DONE, jsonenc.dumps({"status": RUN_DONE, "run_id": run.run_id}))


def error_event(run: Run, error: dict[str, Any]) -> LogEvent:
    return LogEvent(run.run_id, "error", "error", jsonenc.dumps(error))


def state_update_event(thread_id: str, state: dict[str, Any], run_id: str = "") -> LogEvent:
    """The thread stream's `state_update`: the thread's state after a run or an update."""
    return LogEvent(run_id, STATE_UPDATE, STATE_UPDATE, jsonenc.dumps({"state": state, "thread_id": thread_id}))


def is_run_end(event: LogEvent) -> bool:
    """Whether `event` is the lifecycle record that closes a run (every run that ends,
    started or not, gets one)."""
    return event.mode == LIFECYCLE and orjson.loads(event.data)["status"] in END_STATUSES


def start_events(run: Run) -> list[LogEvent]:
    """What a run's start appends: `lifecycle` running, then `metadata` (the first event
    of its stream, as the reference sends it)."""
    return [lifecycle_event(run, RUNNING), metadata_event(run)]


def end_events(run: Run, status: str, *, error: dict[str, Any] | None, started: bool, rollback: bool, state: dict[str, Any] | None) -> list[LogEvent]:
    """What a run's end appends: its error, `run_done` (if it started), the final
    `lifecycle` and, for a stateful run, the thread's new state."""
    events = []
    if error is not None:
        events.append(error_event(run, error))
    if started:
        events.append(run_done_event(run))
    interrupted = bool(state and any(task.get("interrupts") for task in state.get("tasks", ())))
    message = str(error.get("message", "")) if error else None
    events.append(lifecycle_event(run, "rollback" if rollback else status, interrupted=interrupted, error=message))
    if state is not None and not run.temporary:
        events.append(state_update_event(run.thread_id, state, run.run_id))
    return events
