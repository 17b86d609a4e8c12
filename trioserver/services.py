"""The server's services and their lifetime: storage and its writer, the graph loop, the
run queue, the cron scheduler and retention, opened in order and closed in reverse.

`open_services` is entered by the function that calls `hypercorn.trio.serve` (see
server.py), around it, so the nursery that owns every background task belongs to that
function. (Not to Quart's `while_serving`: an exception escaping a nursery opened in
that async generator lands in a generator that yielded inside it, and trio kills the
process with "Nursery stack corrupted".) The app is then built from the `Services` it
is handed.

Order of the stop: the scheduler (no new cron runs), the streams (they end cleanly),
the queue (running runs are handed back as `pending`), and only then the writer, so
everything the stop has to record is committed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import attrs
import trio

from .auth import Authorizer, Principal, acting_as
from .auth.apikey import ApiKeys
from .guard import critical, guarded
from .protocols.classic import ClassicStreams
from .runtime.assistants import Assistants
from .runtime.bridge import AsyncioBridge
from .runtime.crons import Crons, run_scheduler
from .runtime.drive import Driver, RunDriver
from .runtime.graphs import Graphs, GraphSpec
from .runtime.queue import RunQueue
from .runtime.runs import RunRequest, Runs
from .runtime.threads import Threads
from .runtime.workers import RemoteDriver, WorkerPool, WorkerSettings
from .storage.checkpointer import LmdbSaver
from .storage.env import Store
from .storage.eventlog import EventLog
from .storage.kvstore import LmdbStore
from .storage.retention import RetentionPolicy, run_retention
from .storage.tables import Tables


@attrs.define
class Settings:
    data_dir: str = ".trioserver"
    durability: str = "full"
    heartbeat: float = 5.0
    write_timeout: float = 30.0
    retention: RetentionPolicy = attrs.field(factory=RetentionPolicy)
    api_url: str = ""
    workers: int = 0  # graph worker processes (0: graphs run in this process)
    config_path: str = ""  # the langgraph.json the workers load
    python_path: list[str] = attrs.field(factory=list)
    log_level: str = "info"
    api_keys: ApiKeys | None = None  # the built-in API key gate (auth/apikey.py)
    custom_auth: Any = None  # langgraph.json's `auth`: a loaded langgraph_sdk.Auth (auth/loader.py)


@attrs.define(eq=False)
class Services:
    """Everything the HTTP layer calls into, opened for the server's lifetime."""

    settings: Settings
    store: Store
    tables: Tables
    log: EventLog
    checkpointer: LmdbSaver
    kvstore: LmdbStore
    crons: Crons
    bridge: AsyncioBridge
    graphs: Graphs
    queue: RunQueue
    assistants: Assistants
    runs: Runs
    threads: Threads
    classic: ClassicStreams
    shutdown: trio.Event
    workers: WorkerPool | None
    auth: Authorizer

    @property
    def heartbeat(self) -> float:
        return self.settings.heartbeat

    def begin_shutdown(self) -> None:
        """A clean stop has begun: every stream ends now, cleanly, and no run starts."""
        self.shutdown.set()
        self.queue.close()
        self.log.wake_all()


def build_services(settings: Settings, specs: dict[str, GraphSpec], store: Store, bridge: AsyncioBridge) -> Services:
    """The services over one store and one graph loop, wired, not yet running."""
    tables = Tables(store)
    event_log = EventLog(store)
    checkpointer = LmdbSaver(store)
    kvstore = LmdbStore(store)
    crons = Crons(store)
    graphs = Graphs(specs, checkpointer=checkpointer, kvstore=kvstore)
    driver = Driver(bridge=bridge, graphs=graphs, log=event_log, checkpointer=checkpointer, api_url=settings.api_url)
    workers = None
    run_driver: RunDriver = driver
    if settings.workers > 0:
        worker_settings = WorkerSettings(
            config=settings.config_path, data_dir=settings.data_dir, durability=settings.durability, api_url=settings.api_url,
            log_level=settings.log_level, python_path=settings.python_path,
        )
        workers = WorkerPool(settings.workers, worker_settings, event_log)
        run_driver = RemoteDriver(pool=workers, local=driver)
    queue = RunQueue(store=store, tables=tables, log=event_log, driver=run_driver, checkpointer=checkpointer)
    assistants = Assistants(store=store, tables=tables, graph_ids=lambda: list(specs), crons=crons)
    auth = Authorizer(settings.custom_auth, bridge)
    shutdown = trio.Event()
    return Services(
        settings=settings,
        store=store,
        tables=tables,
        log=event_log,
        checkpointer=checkpointer,
        kvstore=kvstore,
        crons=crons,
        bridge=bridge,
        graphs=graphs,
        queue=queue,
        assistants=assistants,
        runs=Runs(tables=tables, assistants=assistants, queue=queue, auth=auth),
        threads=Threads(store=store, tables=tables, log=event_log, queue=queue, graphs=graphs, bridge=bridge, checkpointer=checkpointer, crons=crons),
        classic=ClassicStreams(log=event_log, tables=tables, queue=queue, shutdown=shutdown, heartbeat=settings.heartbeat),
        shutdown=shutdown,
        workers=workers,
        auth=auth,
    )


@asynccontextmanager
async def open_services(settings: Settings, specs: dict[str, GraphSpec]) -> AsyncIterator[Services]:
    """Open the services, with a nursery owning their tasks, for the body's lifetime."""
    store = Store(settings.data_dir, durability=settings.durability)
    bridge = AsyncioBridge()
    try:
        svc = build_services(settings, specs, store, bridge)

        async def create_cron_run(thread_id: str | None, payload: dict[str, Any], creator: dict[str, Any] | None) -> Any:
            # The run acts for the cron's creator, as in the reference: its handlers run, its graph sees that user.
            with acting_as(Principal.from_run_auth(creator) if creator else None):
                return await svc.runs.create(thread_id, RunRequest.parse(payload))

        # The writer outlives everything else: runs that end at the stop still record it.
        async with trio.open_nursery() as storage_nursery:
            await storage_nursery.start(critical, "storage writer", store.run_writer)
            await svc.assistants.ensure_defaults(specs)
            async with trio.open_nursery() as nursery:
                if svc.workers is not None:  # before the queue: the runs it recovers start at once
                    await nursery.start(critical, "graph workers", svc.workers.serve)
                await nursery.start(critical, "run queue", svc.queue.serve)
                nursery.start_soon(guarded, "event-log retention", run_retention, svc.log, svc.tables, settings.retention)
                scheduler = await nursery.start(guarded, "cron scheduler", run_scheduler, svc.crons, create_cron_run)
                try:
                    yield svc
                finally:
                    scheduler.cancel()
                    svc.begin_shutdown()
                    with trio.CancelScope(shield=True):
                        await svc.queue.shutdown()
                        if svc.workers is not None:
                            await svc.workers.stop()
                    nursery.cancel_scope.cancel()
            storage_nursery.cancel_scope.cancel()
    finally:
        bridge.close()
        store.close()
