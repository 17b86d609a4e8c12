"""Graph worker processes, seen from the server: where runs' graphs run when the server
is started with `--workers N` (N >= 1).

Everything that decides — the run queue, statuses, the event log, every stream — stays in
the server process; a worker only drives graphs (`trioserver.worker`). `RemoteDriver` has
the `Driver` interface the queue calls: it hands the run to the least busy worker and
returns the state or raises what the graph raised. Each worker's reader task appends
what comes back to the threads' logs as it arrives (queued, so batches share commits),
and acknowledges all it took in one message, so the worker may send more. Cancelling
the run cancels it in the worker. A worker that dies (a crash, `kill -9`, the OOM killer)
loses only its runs' progress since their last checkpoint: each is handed back to the
queue as its next attempt (`RunLost`), and the worker is replaced.
"""

from __future__ import annotations

import logging
import os
import socket
import sys
from typing import Any

import attrs
import trio

from ..guard import spawn
from ..storage.eventlog import EventLog
from ..storage.records import Assistant, LogEvent, Run, converter
from .bridge import CANCEL_GRACE
from .drive import Driver, GraphFailure, RunLost
from .ipc import Channel, ChannelClosed

log = logging.getLogger(__name__)

START_TIMEOUT = 60.0  # seconds a new worker may take to import its graphs


def self_command() -> list[str]:
    """How to start this program again: the binary itself when frozen, else the module."""
    if getattr(sys, "frozen", False):
        return [sys.executable]
    return [sys.executable, "-m", "trioserver.cli"]


@attrs.define(eq=False)
class Session:
    """One run in a worker, seen from the server."""

    run: Run
    outcome: list[Any] | None = None  # the worker's `done` message, or ["lost"]
    finished: trio.Event = attrs.field(factory=trio.Event)  # set with the outcome

    def finish(self, outcome: list[Any]) -> None:
        self.outcome = outcome
        self.finished.set()


@attrs.define(eq=False)
class Worker:
    channel: Channel
    process: trio.Process
    pid: int
    sessions: dict[str, Session] = attrs.field(factory=dict)
    alive: bool = True


@attrs.define
class WorkerSettings:
    config: str
    data_dir: str
    durability: str
    api_url: str
    log_level: str = "warning"
    python_path: list[str] = attrs.field(factory=list)


class WorkerPool:
    """N worker processes, kept at N: a worker that dies is replaced."""

    def __init__(self, count: int, settings: WorkerSettings, log: EventLog) -> None:
        self.count = count
        self.settings = settings
        self.log = log
        self.workers: list[Worker] = []
        self.closing = False
        self._nursery: trio.Nursery | None = None
        self._joined = trio.lowlevel.ParkingLot()  # runs waiting for a worker to be there

    async def serve(self, *, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        """Start the workers and keep them: serving begins at once, while they import
        their graphs on the other cores (runs wait for the first one to be there). A
        worker that cannot start stops the server, as a graph that cannot load does."""
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            for _ in range(self.count):
                nursery.start_soon(self._start_worker)
            task_status.started()
            await trio.sleep_forever()

    async def _start_worker(self) -> Worker:
        ours, theirs = socket.socketpair()
        s = self.settings
        command = [
            *self_command(), "worker", "--fd", str(theirs.fileno()), "--config", s.config, "--data-dir", s.data_dir,
            "--durability", s.durability, "--api-url", s.api_url, "--log-level", s.log_level,
        ]
        env = dict(os.environ)
        if s.python_path:
            env["TRIOSERVER_PYTHON_PATH"] = os.pathsep.join(s.python_path)
        process = await trio.lowlevel.open_process(command, pass_fds=(theirs.fileno(),), env=env)
        theirs.close()
        channel = Channel(ours)
        try:
            with trio.fail_after(START_TIMEOUT):
                hello = await channel.receive()
        except BaseException:  # a stop (or a worker that never said hello): leave no process behind
            process.kill()
            ours.close()
            raise
        worker = Worker(channel, process, int(hello[1]))
        self.workers.append(worker)
        self._joined.unpark_all()
        assert self._nursery is not None
        spawn(self._nursery, f"graph worker {worker.pid}", self._read, worker)
        log.info("graph worker %d started", worker.pid)
        return worker

    async def _read(self, worker: Worker) -> None:
        """Take what the worker sends, in order: event batches go to their threads' logs,
        a `done` ends its session. Everything already received is taken before the batches
        are acknowledged, in one message (one per run would cost a system call and a
        wake-up on each side)."""
        try:
            while True:
                message: list[Any] | None = await worker.channel.receive()
                taken: dict[str, int] = {}
                while message is not None:
                    await self._take(worker, message, taken)
                    message = worker.channel.receive_buffered()
                if taken and worker.alive:
                    await worker.channel.send(["ack", taken])
        except ChannelClosed:
            pass
        finally:
            await self._lost(worker)

    async def _take(self, worker: Worker, message: list[Any], taken: dict[str, int]) -> None:
        session = worker.sessions.get(message[1])
        if session is None:  # a run given up on (its cancel went unanswered)
            return
        if message[0] == "events":
            await self.log.append_queued(session.run.thread_id, [LogEvent(*item) for item in message[3]])
            taken[session.run.run_id] = taken.get(session.run.run_id, 0) + 1
        elif message[0] == "done":
            session.finish(message)

    async def _lost(self, worker: Worker) -> None:
        worker.alive = False
        in_flight = sum(1 for session in worker.sessions.values() if session.outcome is None)
        if worker in self.workers:
            self.workers.remove(worker)
        for session in list(worker.sessions.values()):
            if session.outcome is None:
                session.finish(["lost"])
        with trio.CancelScope(shield=True):
            code = await worker.process.wait()
        if not self.closing:
            log.error("graph worker %d died (exit %s) with %d run(s): they resume as their next attempt; starting a new worker", worker.pid, code, in_flight)
            await self._start_worker()

    async def _least_busy(self) -> Worker:
        """The worker with the fewest runs; while one is being replaced, wait for it."""
        with trio.move_on_after(START_TIMEOUT):
            while not self.closing:
                alive = [w for w in self.workers if w.alive]
                if alive:
                    return min(alive, key=lambda w: len(w.sessions))
                await self._joined.park()
        raise RunLost("no graph worker is running")

    async def start(self, run: Run, assistant: Assistant | None) -> tuple[Worker, Session]:
        worker = await self._least_busy()
        session = Session(run)
        worker.sessions[run.run_id] = session
        try:
            await worker.channel.send(["run", converter.unstructure(run), converter.unstructure(assistant) if assistant else None])
        except ChannelClosed:
            worker.sessions.pop(run.run_id, None)
            raise RunLost(f"graph worker {worker.pid} went away") from None
        return worker, session

    async def stop(self) -> None:
        """Ask every worker to stop; kill the ones that do not within a few seconds."""
        self.closing = True
        for worker in list(self.workers):
            try:
                await worker.channel.send(["stop"])
            except ChannelClosed:
                pass
        with trio.move_on_after(CANCEL_GRACE + 2):
            for worker in list(self.workers):
                await worker.process.wait()
        for worker in list(self.workers):
            if worker.process.returncode is None:
                log.warning("graph worker %d did not stop; killing it", worker.pid)
                worker.process.kill()


class RemoteDriver:
    """The run driver for the queue when graphs run in workers."""

    def __init__(self, *, pool: WorkerPool, local: Driver) -> None:
        self.pool = pool
        self.local = local  # reads the thread's state after a failed run, in this process

    async def drive(self, run: Run, assistant: Assistant | None) -> dict[str, Any] | None:
        worker, session = await self.pool.start(run, assistant)
        try:
            try:
                await session.finished.wait()
            except trio.Cancelled:
                with trio.CancelScope(shield=True), trio.move_on_after(CANCEL_GRACE + 2):
                    try:
                        await worker.channel.send(["cancel", run.run_id])
                    except ChannelClosed:
                        pass
                    await session.finished.wait()  # what it made before it stopped is appended meanwhile
                raise
        finally:
            worker.sessions.pop(run.run_id, None)
        outcome = session.outcome or ["lost"]
        if outcome[0] == "lost":
            raise RunLost(f"graph worker {worker.pid} died during run {run.run_id}")
        if outcome[2] == "error":
            raise GraphFailure(outcome[3])
        if outcome[2] == "cancelled":
            raise RuntimeError("the worker cancelled the run on its own")
        state: dict[str, Any] | None = outcome[3]
        return state

    async def state_after(self, run: Run, assistant: Assistant | None) -> dict[str, Any] | None:
        return await self.local.state_after(run, assistant)
