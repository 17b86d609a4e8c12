"""The run queue: one lane per thread, at most one run running in it, the others waiting
in creation order; multitask strategies, cancel, and what happens at start-up and stop.

A run is a trio task in the queue's nursery, never in a request's scope: a client that
leaves does not end a run unless it asked for that. The queue's in-memory lanes are
changed only in the trio thread and always before the write that records the change is
queued, so whatever decides a thread's status (`lifecycle.thread_status`) sees every run
that is running, waiting, or still being submitted.

Start-up: runs a previous process left `running` are queued again as a new attempt
(which resumes from the run's last checkpoint), up to `MAX_ATTEMPTS`; `pending` runs are
queued again as they were. A clean stop (`shutdown`) starts nothing new and hands every
running run back as `pending`, so the next start resumes it.
"""

from __future__ import annotations

import contextlib
import logging
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import attrs
import trio

from .. import ids
from ..errors import Conflict, NotFound, Unavailable
from ..guard import spawn
from ..storage.env import Op, Store, Txn, combine
from ..storage.eventlog import EventLog
from ..storage.records import Run, Thread
from ..storage.tables import Tables
from . import lifecycle
from .drive import GraphFailure, RunDriver, RunLost
from .lifecycle import PENDING, RUNNING
from .state import thread_interrupts
from .webhooks import call_webhook, webhook_payload

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 3  # runs the server stopped under are resumed this many times in all
SHUTDOWN_GRACE = 10.0  # seconds running runs get to record that they were handed back


@attrs.define(eq=False)
class ActiveRun:
    """The run a lane is running (or, with `after_seconds`, waiting to start)."""

    run: Run
    scope: trio.CancelScope = attrs.field(factory=trio.CancelScope)
    cancel_action: str | None = None  # interrupt | rollback | requeue, once cancelled
    cancel_reason: str = ""
    started: bool = False  # its start (status, first events) is committed
    requeued: bool = False  # handed back to the lane: it runs again, so nobody is woken


@attrs.define(eq=False)
class Waiting:
    run_id: str
    stored: bool = False  # its record is committed: it may start


@attrs.define(eq=False)
class Lane:
    active: ActiveRun | None = None
    waiting: list[Waiting] = attrs.field(factory=list)

    def has_work(self, *, besides: str | None = None) -> bool:
        """Whether a run other than `besides` runs or waits here."""
        if self.active is not None and self.active.run.run_id != besides:
            return True
        return any(w.run_id != besides for w in self.waiting)


class RunQueue:
    """Starts, queues and cancels runs; the only writer of run and thread status."""

    def __init__(self, *, store: Store, tables: Tables, log: EventLog, driver: RunDriver, checkpointer: Any) -> None:
        self.store = store
        self.tables = tables
        self.log = log
        self.driver = driver
        self.checkpointer = checkpointer
        self.nursery: trio.Nursery | None = None
        self.closing = False
        self.ended: Counter[str] = Counter()  # runs ended, by status (for /metrics)
        self._lanes: dict[str, Lane] = {}
        self._finished: dict[str, trio.Event] = {}  # run id -> set when it ends
        self._closed_threads: set[str] = set()  # being deleted: no new runs

    # -- lifetime ------------------------------------------------------------------

    async def serve(self, *, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        """Own the nursery runs live in; on start, take over what a previous process left."""
        async with trio.open_nursery() as nursery:
            await self._recover()
            self.nursery = nursery
            for thread_id in list(self._lanes):
                self._start_next(thread_id)
            task_status.started()
            await trio.sleep_forever()

    def close(self) -> None:
        """Start no more runs (a clean stop has begun)."""
        self.closing = True

    async def shutdown(self) -> None:
        """Hand every running run back as `pending` and wait until each has recorded it;
        waiting runs stay `pending`. The next start resumes them all."""
        self.close()
        actives = [lane.active for lane in self._lanes.values() if lane.active is not None]
        for active in actives:
            active.cancel_action = "requeue"
            active.cancel_reason = "the server is stopping"
            active.scope.cancel()
        with trio.move_on_after(SHUTDOWN_GRACE):
            for active in actives:
                await self.wait_finished(active.run.run_id)

    async def _recover(self) -> None:
        exhausted = []
        for run in sorted(self.tables.all_runs(), key=lambda r: r.run_id):  # ids are time-ordered
            if run.status == RUNNING and run.attempt >= MAX_ATTEMPTS:
                exhausted.append(run)
                continue
            if run.status == RUNNING:
                log.warning("run %s on thread %s was running when the server stopped: queued again as attempt %d", run.run_id, run.thread_id, run.attempt + 1)
                await self.store.write(self._requeue_op(run))
            if run.status == PENDING:
                self._lane(run.thread_id).waiting.append(Waiting(run.run_id, stored=True))
                self._finished.setdefault(run.run_id, trio.Event())
        for run in exhausted:  # after the lanes are known: the thread may have runs waiting
            log.warning("run %s on thread %s was running when the server stopped, for the %d. time: it fails", run.run_id, run.thread_id, run.attempt)
            error = {"error": "RuntimeError", "message": f"The server stopped while this run was running ({run.attempt} attempts)."}
            await self._end(run, "error", started=True, error=error)

    # -- queries -------------------------------------------------------------------

    def _lane(self, thread_id: str) -> Lane:
        lane = self._lanes.get(thread_id)
        if lane is None:
            lane = self._lanes[thread_id] = Lane()
        return lane

    def has_work(self, thread_id: str) -> bool:
        lane = self._lanes.get(thread_id)
        return lane is not None and lane.has_work()

    def run_ids(self, thread_id: str) -> list[str]:
        """The thread's running run, then its waiting ones, oldest first."""
        lane = self._lanes.get(thread_id)
        if lane is None:
            return []
        active = [lane.active.run.run_id] if lane.active is not None else []
        return active + [w.run_id for w in lane.waiting if w.stored]

    def counts(self) -> tuple[int, int]:
        """(running, waiting) runs, over all threads."""
        running = sum(1 for lane in self._lanes.values() if lane.active is not None and lane.active.started)
        waiting = sum(len(lane.waiting) + (lane.active is not None and not lane.active.started) for lane in self._lanes.values())
        return running, waiting

    def busy_threads(self) -> int:
        """Threads with a run running or waiting (for /metrics)."""
        return len(self._lanes)

    def not_started(self) -> list[tuple[str, bool]]:
        """Every run not started yet, per thread in line order, with whether it is first in
        line on a thread where nothing runs (so only its own `after_seconds`, or the
        server, holds it back). For /metrics."""
        out = []
        for lane in list(self._lanes.values()):
            idle = lane.active is None or not lane.active.started
            line = [lane.active.run.run_id] if lane.active is not None and not lane.active.started else []
            line += [w.run_id for w in lane.waiting]
            out += [(run_id, idle and i == 0) for i, run_id in enumerate(line)]
        return out

    async def wait_finished(self, run_id: str) -> None:
        """Return once the run is no longer pending or running (here)."""
        event = self._finished.get(run_id)
        if event is not None:
            await event.wait()

    @contextlib.contextmanager
    def closed_for(self, thread_id: str) -> Iterator[None]:
        """No run may be submitted on the thread meanwhile (it is being deleted)."""
        self._closed_threads.add(thread_id)
        try:
            yield
        finally:
            self._closed_threads.discard(thread_id)

    # -- submitting ----------------------------------------------------------------

    async def submit(self, run: Run, *, extra_ops: list[Callable[[Txn], Any]] | None = None) -> Run:
        """Store `run` (with `extra_ops`, e.g. creating its thread) and queue it; it starts
        at once when its thread is free. Call it shielded: once the run is stored, only
        this call starts it.

        The multitask strategy applies here: `reject` raises Conflict when the thread
        has work; `interrupt` and `rollback` cancel it; `enqueue` waits its turn."""
        if self.closing or self.nursery is None:
            raise Unavailable("The server is shutting down; try again in a moment.")
        thread_id = run.thread_id
        if thread_id in self._closed_threads:
            raise NotFound("Thread or assistant not found.")
        lane = self._lane(thread_id)
        if lane.has_work():
            strategy = run.multitask_strategy
            if strategy == "reject":
                raise Conflict("Thread is already running a task. Wait for it to finish or choose a different multitask strategy.")
            if strategy in ("interrupt", "rollback"):
                for other in self.run_ids(thread_id):
                    await self.cancel(thread_id, other, action=strategy, reason=f"superseded by run {run.run_id} (multitask_strategy={strategy})")
        run.log_start = str(self.log.last_id(thread_id))
        self._finished[run.run_id] = trio.Event()
        ops = [*(extra_ops or []), self.tables.update_thread_op(thread_id, _claim(run))]
        starts_now = lane.active is None and not lane.waiting
        entry = Waiting(run.run_id)
        active = None
        if starts_now:
            # It runs now: claim the lane before the first await, so a concurrent submit
            # sees it busy, and (unless it is scheduled for later) record its start in
            # the same commit as its creation.
            active = lane.active = ActiveRun(run)
            if not run.kwargs.get("after_seconds"):
                lifecycle.advance_run(run, RUNNING)  # stored as running, with its start events
                ops.append(self._start_events_op(run))
                active.started = True
        else:
            lane.waiting.append(entry)
        ops.insert(len(extra_ops or []), self.tables.put_run_op(run))
        try:
            await self.store.write(combine(*ops))
        except BaseException:
            self._finished.pop(run.run_id, None)
            if active is not None:
                lane.active = None
            else:
                lane.waiting.remove(entry)
            self._start_next(thread_id)
            raise
        if active is not None:
            self._spawn(active)
        else:
            entry.stored = True
            self._start_next(thread_id)
        return run

    def _start_events_op(self, run: Run) -> Callable[[Txn], Any]:
        _, events_op = self.log.prepare(run.thread_id, lifecycle.start_events(run))
        return events_op

    def _start_op(self, run: Run) -> Callable[[Txn], Any]:
        """What starting a stored run writes: its status, then `lifecycle` and `metadata` events."""
        lifecycle.advance_run(run, RUNNING)
        return combine(self.tables.update_run_op(run.run_id, lambda r: lifecycle.advance_run(r, RUNNING)), self._start_events_op(run))

    def _start_next(self, thread_id: str) -> None:
        lane = self._lanes.get(thread_id)
        if lane is None:
            return
        if lane.active is None and not self.closing and self.nursery is not None:
            while lane.waiting and lane.waiting[0].stored:
                run_id = lane.waiting.pop(0).run_id
                run = self.tables.get_run(run_id)
                if run is None or run.status != PENDING:
                    self._settled(run_id)
                    continue
                lane.active = ActiveRun(run)
                self._spawn(lane.active)
                break
        if not lane.has_work():
            del self._lanes[thread_id]

    def _spawn(self, active: ActiveRun) -> None:
        assert self.nursery is not None
        run = active.run
        spawn(self.nursery, f"run {run.run_id} on thread {run.thread_id}", self._run_task, active)

    # -- cancelling ----------------------------------------------------------------

    async def cancel(self, thread_id: str, run_id: str, *, action: str = "interrupt", wait: bool = False, reason: str | None = None) -> bool:
        """Cancel a waiting or running run. Returns False when it is not (or no longer)
        queued here. `interrupt` keeps what the run did so far; `rollback` deletes the
        run and its checkpoints. A run that has not started yet is ended before this
        returns, so its status reads `interrupted` at once."""
        reason = reason or f"{action} requested via POST /threads/{{thread_id}}/runs/{{run_id}}/cancel"
        lane = self._lanes.get(thread_id)
        if lane is None:
            return False
        active = lane.active
        if active is not None and active.run.run_id == run_id:
            if active.cancel_action is None:
                active.cancel_action, active.cancel_reason = action, reason
            active.scope.cancel()
            if wait or not active.started:
                await self.wait_finished(run_id)
            return True
        entry = next((w for w in lane.waiting if w.run_id == run_id and w.stored), None)
        if entry is None:
            return False
        lane.waiting.remove(entry)
        try:
            run = self.tables.get_run(run_id)
            if run is not None:
                await self._end(run, "interrupted", started=False, cancelled=lifecycle.cancel_error(action, reason), rollback=action == "rollback")
        finally:
            self._settled(run_id)
            self._start_next(thread_id)
        return True

    async def drain(self, thread_id: str) -> None:
        """Cancel everything queued on the thread and wait until it has ended."""
        for run_id in reversed(self.run_ids(thread_id)):  # waiting ones first: none may start
            await self.cancel(thread_id, run_id, action="interrupt", wait=True, reason="the thread is being deleted")

    def _settled(self, run_id: str) -> None:
        """The run will not run (any more) here: wake whoever waits for it."""
        event = self._finished.pop(run_id, None)
        if event is not None:
            event.set()

    # -- running -------------------------------------------------------------------

    async def _run_task(self, active: ActiveRun) -> None:
        run = active.run
        try:
            await self._execute(active)
        except Exception as exc:  # noqa: BLE001 - a failure of ours, not the graph's: it ends the run
            log.error("run %s on thread %s failed in the server: %s: %s", run.run_id, run.thread_id, type(exc).__name__, exc)
            with trio.CancelScope(shield=True), trio.move_on_after(5):
                await self._end(run, "error", started=active.started, error={"error": type(exc).__name__, "message": str(exc)})
        finally:
            lane = self._lanes.get(run.thread_id)
            if lane is not None and lane.active is active:
                lane.active = None
            if not active.requeued:
                self._settled(run.run_id)
            self._start_next(run.thread_id)

    async def _execute(self, active: ActiveRun) -> None:
        run = active.run
        assistant = self.tables.get_assistant(run.assistant_id)
        error: dict[str, Any] | None = None
        state: dict[str, Any] | None = None
        status = "success"
        started_at = None
        with active.scope:
            delay = run.kwargs.get("after_seconds")
            if delay and not active.started:  # scheduled for later: `pending` until then
                await trio.sleep(max(0.0, ids.parse_iso(run.created_at) + float(delay) - ids.now().timestamp()))
            if not active.started:
                with trio.CancelScope(shield=True):  # started or not, never half-way
                    await self.store.write(self._start_op(run))
                active.started = True
            started_at = ids.now_iso()
            try:
                state = await self.driver.drive(run, assistant)
            except RunLost as exc:  # its graph's process died: the run goes on as its next attempt
                with trio.CancelScope(shield=True):
                    await self._hand_back(active, str(exc))
                return
            except Exception as exc:  # noqa: BLE001 - the graph raised: the run fails, not the server
                status = "error"
                error = exc.error if isinstance(exc, GraphFailure) else {"error": type(exc).__name__, "message": str(exc)}
                log.info("run %s on thread %s raised %s: %s", run.run_id, run.thread_id, error["error"], error["message"])
        cancelled = None
        if active.scope.cancelled_caught:
            if active.cancel_action == "requeue":
                if active.started:
                    with trio.CancelScope(shield=True):
                        await self.store.write(self._requeue_op(run))
                    log.info("run %s on thread %s: handed back as pending (the server is stopping)", run.run_id, run.thread_id)
                return
            status = "interrupted"
            cancelled = lifecycle.cancel_error(active.cancel_action or "interrupt", active.cancel_reason)
        rollback = active.cancel_action == "rollback"
        with trio.CancelScope(shield=True):
            if rollback and active.started and self.checkpointer is not None:
                await self.store.write(self.checkpointer.delete_for_runs_op([run.run_id]))
            if status != "success" and active.started:
                state = await self.driver.state_after(run, assistant)
            await self._end(run, status, started=active.started, error=error, cancelled=cancelled, state=state, rollback=rollback)
        if run.kwargs.get("webhook") and self.nursery is not None:
            payload = webhook_payload(run, started_at=started_at, state=state, error=error or cancelled)
            spawn(self.nursery, f"webhook of run {run.run_id}", call_webhook, run.kwargs["webhook"], payload)

    async def _hand_back(self, active: ActiveRun, why: str) -> None:
        """A running run whose graph was lost goes back to the head of its lane as its
        next attempt (or fails, after MAX_ATTEMPTS)."""
        run = active.run
        if run.attempt >= MAX_ATTEMPTS:
            log.error("run %s on thread %s: %s, for the %d. time: it fails", run.run_id, run.thread_id, why, run.attempt)
            await self._end(run, "error", started=True, error={"error": "RuntimeError", "message": f"{why} ({run.attempt} attempts)"})
            return
        log.warning("run %s on thread %s: %s; queued again as attempt %d", run.run_id, run.thread_id, why, run.attempt + 1)
        await self.store.write(self._requeue_op(run))
        active.requeued = True
        self._lane(run.thread_id).waiting.insert(0, Waiting(run.run_id, stored=True))

    # -- recording -----------------------------------------------------------------

    def _requeue_op(self, run: Run) -> Callable[[Txn], Any]:
        """The run goes back to `pending` as its next attempt (the thread stays busy)."""

        def requeue(r: Run) -> None:
            lifecycle.advance_run(r, PENDING)
            r.attempt += 1

        requeue(run)
        _, events_op = self.log.prepare(run.thread_id, [lifecycle.lifecycle_event(run, PENDING)])
        return combine(self.tables.update_run_op(run.run_id, requeue), events_op)

    async def _end(
        self,
        run: Run,
        status: str,
        *,
        started: bool,
        error: dict[str, Any] | None = None,
        cancelled: dict[str, Any] | None = None,
        state: dict[str, Any] | None = None,
        rollback: bool = False,
    ) -> None:
        """Record the end of a run in one commit: its last events, its status, its thread's.

        `error` is what the graph raised (an `error` event, thread status `error`);
        `cancelled` is why it was cancelled (kept as the thread's `error`, as the reference)."""
        events = lifecycle.end_events(run, status, error=error, started=started, rollback=rollback, state=state)
        _, events_op = self.log.prepare(run.thread_id, events)
        lane = self._lanes.get(run.thread_id)
        has_work = lane is not None and lane.has_work(besides=run.run_id)
        now = ids.now_iso()

        def settle_thread(thread: Thread) -> None:
            if started:
                thread.status = lifecycle.thread_status(has_work=has_work, errored=error is not None, interrupted=bool(state and state["next"]))
                thread.error = error or cancelled
                if state is not None:
                    thread.values = state["values"] if state["checkpoint"] else None
                    thread.interrupts = thread_interrupts(state)
            else:
                thread.status = lifecycle.resting_status(thread, has_work=has_work)
            thread.updated_at = now

        ops: list[Op] = [events_op]
        if rollback:
            ops.append(self.tables.delete_run_op(run.run_id))
        else:
            ops.append(self.tables.update_run_op(run.run_id, lambda r: lifecycle.advance_run(r, status)))
        if run.temporary:
            ops.append(self.tables.delete_thread_op(run.thread_id))
        else:
            ops.append(self.tables.update_thread_op(run.thread_id, settle_thread))
        await self.store.write(combine(*ops))
        run.status = status
        self.ended[status] += 1


def _claim(run: Run) -> Callable[[Thread], None]:
    """The change a new run makes to its thread: busy, and bound to the run's graph from
    the start, so its state, history and searches by graph see it during its first run."""

    def claim(thread: Thread) -> None:
        if thread.temporary:
            return
        thread.status = lifecycle.thread_status(has_work=True, errored=False, interrupted=False)
        thread.updated_at = ids.now_iso()
        thread.graph_id = run.graph_id
        thread.metadata.setdefault("graph_id", run.graph_id)
        thread.metadata.setdefault("assistant_id", run.assistant_id)

    return claim
