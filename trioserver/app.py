"""The Quart-Trio application: routes, error rendering, and the services' lifetime."""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator

import attrs
import trio
from quart import Response, request
from quart_trio import QuartTrio
from quart_trio.asgi import TrioASGIHTTPConnection
from werkzeug.exceptions import HTTPException

from . import ids, jsonenc
from .api import assistants, crons, meta, runs, state, threads
from .api import store as store_api
from .api.common import Services
from .errors import ServerError
from .runtime.bridge import AsyncioBridge
from .runtime.crons import Crons, run_scheduler
from .runtime.executor import RunExecutor
from .runtime.graphs import GraphSpec
from .runtime.threadstates import ThreadStates
from .storage.checkpointer import LmdbSaver
from .storage.env import Store
from .storage.kvstore import LmdbStore
from .storage.eventlog import EventLog
from .storage.records import Assistant
from .storage.retention import RetentionPolicy, run_retention
from .storage.tables import Tables

log = logging.getLogger(__name__)


@attrs.define
class Settings:
    data_dir: str = ".trioserver"
    durability: str = "full"
    heartbeat: float = 5.0
    write_timeout: float = 30.0
    retention: RetentionPolicy = attrs.field(factory=RetentionPolicy)
    api_url: str = ""


class ClosingHTTPConnection(TrioASGIHTTPConnection):
    """STACK.md 2: quart-trio cancels the request nursery from inside the final send,
    which also cancels hypercorn's socket close and keep-alive re-arm: connections
    were never closed. Send the last body message shielded."""

    async def __call__(self, receive, send) -> None:
        async def send_last_shielded(message) -> None:
            if message.get("type") == "http.response.body" and not message.get("more_body", False):
                with trio.CancelScope(shield=True):
                    await send(message)
            else:
                await send(message)

        await super().__call__(receive, send_last_shielded)


def create_app(graphs: dict[str, GraphSpec], settings: Settings) -> QuartTrio:
    app = QuartTrio(__name__)
    app.config["RESPONSE_TIMEOUT"] = None  # STACK.md 1: never cut streams at 60 s
    app.config["BODY_TIMEOUT"] = 60
    app.asgi_http_class = ClosingHTTPConnection
    for module in (meta, assistants, threads, state, runs, crons, store_api):
        module.register(app)

    @app.errorhandler(ServerError)
    async def server_error(exc: ServerError) -> Response:
        return _error(exc.status, exc.detail)

    @app.errorhandler(HTTPException)
    async def http_error(exc: HTTPException) -> Response:
        response = _error(exc.code or 500, exc.name)
        valid = getattr(exc, "valid_methods", None)
        if valid:
            response.headers["Allow"] = ", ".join(sorted(valid))
        return response

    @app.after_request
    async def cors(response: Response) -> Response:
        # Browser chat UIs talk to the server directly: allow any origin, as the reference.
        response.headers.add("Vary", "Origin")
        if request.headers.get("Origin"):
            response.headers["Access-Control-Allow-Origin"] = "*"
            response.headers["Access-Control-Expose-Headers"] = "x-pagination-total, x-pagination-next, content-location"
        return response

    @app.before_request
    async def preflight() -> Response | None:
        if request.method != "OPTIONS":
            return None
        response = Response(b"OK", status=200, content_type="text/plain")
        response.headers["Access-Control-Allow-Methods"] = "DELETE, GET, HEAD, OPTIONS, PATCH, POST, PUT"
        response.headers["Access-Control-Allow-Headers"] = request.headers.get("Access-Control-Request-Headers", "*")
        response.headers["Access-Control-Max-Age"] = "600"
        return response

    @app.errorhandler(Exception)
    async def unexpected(exc: Exception) -> Response:
        log.exception("unhandled error")
        return _error(500, f"{type(exc).__name__}: {exc}")

    @app.while_serving
    async def lifespan():
        # Our own nursery (STACK.md 4): a failing background task must not tear down quart-trio's.
        ready = trio.Event()

        async def create_cron_run(thread_id, payload):
            await ready.wait()  # an overdue cron fires at start-up, before the services are in app.config
            async with app.app_context():  # api.runs.create_run reads the services from the app
                return await runs.create_run(thread_id, payload)

        async with open_services(graphs, settings, create_cron_run=create_cron_run) as svc:
            app.config["TRIOSERVER"] = svc
            ready.set()
            yield

    return app


def _error(status: int, detail: Any) -> Response:
    return Response(jsonenc.dumps({"detail": detail}), status=status, content_type="application/json")


@asynccontextmanager
async def open_services(graphs: dict[str, GraphSpec], settings: Settings, *, create_cron_run=None) -> AsyncIterator[Services]:
    """Open the store, the asyncio bridge and the executor, with a nursery owning their tasks."""
    store = Store(settings.data_dir, durability=settings.durability)
    bridge = AsyncioBridge()
    try:
        tables = Tables(store)
        event_log = EventLog(store)
        kvstore = LmdbStore(store.env)
        crons = Crons(store)
        checkpointer = LmdbSaver(store.env)
        checkpointer.group_commit = store.write_from_asyncio
        executor = RunExecutor(
            tables=tables, log=event_log, bridge=bridge, graphs=graphs,
            checkpointer=checkpointer, kvstore=kvstore, api_url=settings.api_url,
        )
        # The writer outlives the executor: runs that end at shutdown still record their end.
        async with trio.open_nursery() as storage_nursery:
            await storage_nursery.start(store.run_writer)
            await ensure_default_assistants(store, tables, graphs)
            async with trio.open_nursery() as nursery:
                await nursery.start(executor.serve)
                await nursery.start(run_retention, event_log, tables, settings.retention)
                services = Services(
                    store=store, tables=tables, log=event_log, executor=executor, states=ThreadStates(executor), graphs=graphs, kvstore=kvstore,
                    shutdown=trio.Event(), heartbeat=settings.heartbeat, crons=crons,
                )
                scheduler = None
                if create_cron_run is not None:
                    scheduler = await nursery.start(run_scheduler, crons, create_cron_run)
                try:
                    yield services
                finally:
                    if scheduler is not None:
                        scheduler.cancel()  # no new runs while the executor shuts down
                    services.begin_shutdown()
                    with trio.CancelScope(shield=True), trio.move_on_after(10):
                        await executor.shutdown()
                    nursery.cancel_scope.cancel()
            storage_nursery.cancel_scope.cancel()
    finally:
        bridge.close()
        store.close()


async def ensure_default_assistants(store: Store, tables: Tables, graphs: dict[str, GraphSpec]) -> None:
    """Each graph gets an assistant with the reference's deterministic id, named after the graph."""
    for graph_id, spec in graphs.items():
        now = ids.now_iso()  # one each: searches list them newest first, like the reference
        assistant_id = ids.graph_assistant_id(graph_id)
        if tables.get_assistant(assistant_id) is not None:
            continue
        name = getattr(spec.target, "name", None)
        assistant = Assistant(
            assistant_id=assistant_id,
            graph_id=graph_id,
            name=name if name and name != "LangGraph" else graph_id,
            created_at=now,
            updated_at=now,
            metadata={"created_by": "system"},
            description=spec.description,
        )
        await store.write(tables.put_assistant_op(assistant))
