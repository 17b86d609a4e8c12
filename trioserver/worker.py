"""A graph worker: a process that runs graphs for the server, so graphs use another core
and a graph that crashes, leaks or blocks costs a worker, never the server.

It is the server's run driver (`runtime.drive.Driver`) in a process of its own, with the
same graph loop, checkpointer and store over the same LMDB data directory (LMDB is built
for several processes: readers never block, writers take turns; checkpoints are
group-committed by this process's own writer). What a run streams is not appended here
but sent to the server, which owns the event log and appends it, so positions, tails
and every stream stay in one process. Commands come over one socket (`runtime.ipc`):
`run`, `cancel`, `ack`, `stop`. A worker whose server goes away stops.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import socket
from collections.abc import Callable
from typing import Any

import outcome
import trio

from .guard import critical
from .heap import freeze_startup_objects
from .runtime.bridge import AsyncioBridge
from .runtime.drive import Driver
from .runtime.graphs import Graphs, load_config
from .runtime.ipc import Channel, ChannelClosed
from .storage.checkpointer import LmdbSaver
from .storage.env import Store
from .storage.kvstore import LmdbStore
from .storage.records import Assistant, LogEvent, Run, converter

log = logging.getLogger("trioserver.worker")

WINDOW = 16  # event batches a run may send ahead of the server's commits


class Sent:
    """A batch handed to the server: it commits it (the run's `done` comes after)."""

    async def wait(self) -> None:
        return None


class ForwardingLog:
    """What `Driver` appends to, in a worker: batches go to the server, at most WINDOW
    of them unacknowledged per run (the server acknowledges a batch once it has queued it
    for its log: this bounds what is in flight, the commit's durability is the server's)."""

    def __init__(self, channel: Channel) -> None:
        self.channel = channel
        self._unacked: dict[str, int] = {}
        self._room: dict[str, trio.Event] = {}

    async def append_queued(self, thread_id: str, events: list[LogEvent], *, on_done: Callable[[outcome.Outcome], None] | None = None) -> Sent:
        """Send `events` to the server, which appends them; waits while WINDOW batches of
        this run are not acknowledged yet (that is the backpressure here)."""
        run_id = events[0].run_id
        while self._unacked.get(run_id, 0) >= WINDOW:
            room = self._room[run_id] = trio.Event()
            await room.wait()
        self._unacked[run_id] = self._unacked.get(run_id, 0) + 1
        await self.channel.send(["events", run_id, thread_id, [[e.run_id, e.event, e.mode, e.data] for e in events]])
        if on_done is not None:
            on_done(outcome.Value(None))
        return Sent()

    def acked(self, run_id: str, count: int) -> None:
        self._unacked[run_id] = max(0, self._unacked.get(run_id, 0) - count)
        room = self._room.pop(run_id, None)
        if room is not None:
            room.set()

    def forget(self, run_id: str) -> None:
        self._unacked.pop(run_id, None)
        room = self._room.pop(run_id, None)
        if room is not None:
            room.set()


async def serve(channel: Channel, driver: Driver, forwarding: ForwardingLog) -> None:
    """Run what the server sends until it says stop or goes away."""
    scopes: dict[str, trio.CancelScope] = {}

    async def run_one(run: Run, assistant: Assistant | None, scope: trio.CancelScope) -> None:
        outcome: list[Any]
        with scope:  # registered when the run arrived: a cancel that follows at once counts
            try:
                state = await driver.drive(run, assistant)
                outcome = ["done", run.run_id, "ok", state]
            except Exception as exc:  # noqa: BLE001 - the graph raised: the server records it
                outcome = ["done", run.run_id, "error", {"error": type(exc).__name__, "message": str(exc)}]
        if scope.cancelled_caught:
            outcome = ["done", run.run_id, "cancelled", None]
        scopes.pop(run.run_id, None)
        forwarding.forget(run.run_id)
        try:
            await channel.send(outcome)
        except ChannelClosed:
            pass

    async with trio.open_nursery() as nursery:
        try:
            await channel.send(["hello", os.getpid()])  # the server may be gone already
            while True:
                message = await channel.receive()
                kind = message[0]
                if kind == "run":
                    run = converter.structure(message[1], Run)
                    assistant = converter.structure(message[2], Assistant) if message[2] else None
                    scope = scopes[run.run_id] = trio.CancelScope()
                    nursery.start_soon(run_one, run, assistant, scope)
                elif kind == "cancel":
                    if (cancelled := scopes.get(message[1])) is not None:
                        cancelled.cancel()
                elif kind == "ack":
                    for run_id, count in message[1].items():
                        forwarding.acked(run_id, count)
                elif kind == "stop":
                    break
        except ChannelClosed:
            log.warning("worker %d: the server went away; stopping", os.getpid())
        nursery.cancel_scope.cancel()


async def worker_main(fd: int, config: str, data_dir: str, durability: str, api_url: str) -> None:
    channel = Channel(socket.socket(fileno=fd))
    store = Store(data_dir, durability=durability)
    bridge = AsyncioBridge()
    try:
        checkpointer = LmdbSaver(store)
        graphs = Graphs(load_config(config), checkpointer=checkpointer, kvstore=LmdbStore(store))
        forwarding = ForwardingLog(channel)
        driver = Driver(bridge=bridge, graphs=graphs, log=forwarding, checkpointer=checkpointer, api_url=api_url)  # type: ignore[arg-type]
        freeze_startup_objects()
        async with trio.open_nursery() as storage:
            await storage.start(critical, "worker's storage writer", store.run_writer)
            await serve(channel, driver, forwarding)
            storage.cancel_scope.cancel()
    finally:
        bridge.close()
        store.close()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="trioserver worker", description="a graph worker (started by `trioserver serve`)")
    parser.add_argument("--fd", type=int, required=True)
    parser.add_argument("--config", required=True)
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--durability", default="full")
    parser.add_argument("--api-url", default="")
    parser.add_argument("--log-level", default="info")
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s[worker]: %(message)s")
    # The server decides when its workers stop (a Ctrl-C reaches the whole process group).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    trio.run(worker_main, args.fd, args.config, args.data_dir, args.durability, args.api_url)
    from .runtime.bridge import sync_work_in_flight

    if sync_work_in_flight():
        os._exit(0)  # sync nodes of cancelled runs: do not wait for them
    return 0
