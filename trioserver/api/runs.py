"""Runs: create (stream, wait, background; on a thread or stateless), list, get, join, cancel."""

from __future__ import annotations

from typing import Any

import orjson
from quart import Quart, Response, request

from ..errors import Invalid, NotFound
from ..ids import EventId
from ..runtime.runs import RunRequest
from ..services import Services
from ..storage.records import Run
from .access import authorize, run_for, stream_check, thread_allows, thread_for, uid
from .common import (
    body_json,
    body_object,
    empty_response,
    field,
    get_run_or_404,
    json_response,
    last_event_id,
    query_bool,
    query_int,
    query_list,
    require_uuid,
    run_json,
    sse_response,
)


def run_paths(run: Run) -> dict[str, str]:
    """Where a run can be read and joined (the JS SDK reads the run id from Content-Location)."""
    if run.temporary:
        return {"Location": f"/runs/{run.run_id}/stream", "Content-Location": f"/runs/{run.run_id}"}
    base = f"/threads/{run.thread_id}/runs/{run.run_id}"
    return {"Location": f"{base}/stream", "Content-Location": base}


def join_paths(run: Run) -> dict[str, str]:
    """Where a waited-for (or cancelled-and-waited) run's result can be joined."""
    base = f"/threads/{run.thread_id}/runs/{run.run_id}"
    return {"Location": f"{base}/join", "Content-Location": base}


def register(app: Quart, svc: Services) -> None:
    streams = svc.classic

    async def create(thread_id: str | None) -> tuple[Run, RunRequest]:
        request_ = RunRequest.parse(await body_object())
        return await svc.runs.create(thread_id, request_), request_

    def stream_new(run: Run, request_: RunRequest) -> Response:
        after = run.start_position
        body = streams.run_events(run, after, None, cancel_on_disconnect=request_.on_disconnect == "cancel")
        return sse_response(body, headers=run_paths(run))

    def wait_response(run: Run, *, cancel: bool, location: bool = True) -> Response:
        headers = join_paths(run) if location else {}
        response = Response(streams.run_result(run, cancel_on_disconnect=cancel), status=200, content_type="application/json", headers=headers)
        response.timeout = None  # never cut by Quart's response timeout
        return response

    def join_stream(run: Run) -> Response:
        """Join a run's stream: from its start (we keep everything), or after `Last-Event-ID`."""
        after = last_event_id()
        if after is None or after == EventId.ZERO:
            after = run.start_position
        modes = query_list("stream_mode") or None
        body = streams.run_events(run, after, modes, cancel_on_disconnect=query_bool("cancel_on_disconnect"))
        return sse_response(body, headers=run_paths(run))

    @app.post("/threads/<thread_id>/runs/stream")
    async def stream_thread_run(thread_id: str) -> Response:
        return stream_new(*await create(thread_id))

    @app.post("/runs/stream")
    async def stream_stateless_run() -> Response:
        return stream_new(*await create(None))

    @app.post("/threads/<thread_id>/runs/wait")
    async def wait_thread_run(thread_id: str) -> Response:
        run, request_ = await create(thread_id)
        return wait_response(run, cancel=request_.on_disconnect == "cancel")

    @app.post("/runs/wait")
    async def wait_stateless_run() -> Response:
        run, request_ = await create(None)
        return wait_response(run, cancel=request_.on_disconnect == "cancel")

    @app.post("/threads/<thread_id>/runs")
    async def create_background_run(thread_id: str) -> Response:
        run, _ = await create(thread_id)
        return json_response(run_json(run), headers=run_paths(run))

    @app.post("/runs")
    async def create_stateless_background_run() -> Response:
        run, _ = await create(None)
        return json_response(run_json(run), headers=run_paths(run))

    @app.post("/runs/batch")
    async def create_stateless_batch() -> Response:
        body = await body_json()
        if not isinstance(body, list) or not all(isinstance(item, dict) for item in body):
            raise Invalid("Request body must be a list of run objects")
        requests = [RunRequest.parse(item) for item in body]  # all checked before any is made
        runs = [await svc.runs.create(None, r) for r in requests]
        return json_response([run_json(r) for r in runs])

    @app.get("/threads/<thread_id>/runs")
    async def list_runs(thread_id: str) -> Response:
        thread = await thread_for(svc, thread_id)
        limit = query_int("limit", 10)
        offset = query_int("offset", 0)
        status = request.args.get("status")
        visible = await authorize(svc, "threads", "search", {"thread_id": uid(thread.thread_id), "metadata": {}})
        runs = svc.tables.thread_runs(thread.thread_id) if visible.allows(thread.metadata) else []
        runs.reverse()  # newest first
        if status:
            runs = [r for r in runs if r.status == status]
        return json_response([run_json(r) for r in runs[offset : offset + limit]])

    @app.get("/threads/<thread_id>/runs/<run_id>")
    async def get_run(thread_id: str, run_id: str) -> Response:
        return json_response(run_json(await run_for(svc, thread_id, run_id)))

    @app.delete("/threads/<thread_id>/runs/<run_id>")
    async def delete_run(thread_id: str, run_id: str) -> Response:
        run = await run_for(svc, thread_id, run_id, "delete", {"thread_id": uid(require_uuid(thread_id, "thread_id")), "run_id": uid(require_uuid(run_id, "run_id"))})
        await svc.queue.cancel(run.thread_id, run.run_id, action="interrupt", wait=True)
        await svc.store.write(svc.tables.delete_run_op(run.run_id))
        return empty_response(204)

    @app.get("/threads/<thread_id>/runs/<run_id>/join")
    async def join_run(thread_id: str, run_id: str) -> Response:
        return wait_response(await run_for(svc, thread_id, run_id), cancel=query_bool("cancel_on_disconnect"), location=False)

    @app.get("/threads/<thread_id>/runs/<run_id>/stream")
    async def join_run_stream(thread_id: str, run_id: str) -> Response:
        run = get_run_or_404(svc.tables, thread_id, run_id)
        return await stream_check(svc, run.thread_id) or join_stream(run)

    @app.get("/runs/<run_id>/stream")
    async def join_stateless_run_stream(run_id: str) -> Response:
        run = svc.tables.get_run(require_uuid(run_id, "run_id"))
        if run is None:
            raise NotFound(f"Run {run_id} not found")
        return await stream_check(svc, run.thread_id) or join_stream(run)

    @app.post("/threads/<thread_id>/runs/<run_id>/cancel")
    async def cancel_run(thread_id: str, run_id: str) -> Response:
        run = svc.tables.get_run(require_uuid(run_id, "run_id"))
        if run is None or run.thread_id != require_uuid(thread_id, "thread_id"):
            raise NotFound("No runs found to cancel.")
        action = request.args.get("action", "interrupt")
        if action not in ("interrupt", "rollback"):
            raise Invalid("action: must be 'interrupt' or 'rollback'")
        allowed = await authorize(svc, "threads", "update", {"thread_id": uid(run.thread_id), "action": action, "metadata": {"run_ids": [uid(run.run_id)], "status": None}})
        if not thread_allows(svc, allowed, run.thread_id):
            raise NotFound("No runs found to cancel.")
        wait = query_bool("wait")
        if not await svc.queue.cancel(run.thread_id, run.run_id, action=action, wait=wait):
            raise NotFound("No runs found to cancel.")
        if wait:
            return json_response({}, headers=join_paths(run))
        return empty_response(202)

    @app.post("/runs/cancel")
    async def cancel_runs() -> Response:
        body = await body_object()
        action = request.args.get("action", "interrupt")
        targets: list[tuple[str, str]] = []
        status = field(body, "status", str, None, choices=("pending", "running", "all"))
        if status:
            for run in svc.tables.all_runs():
                if run.status in ("pending", "running") and (status == "all" or run.status == status):
                    targets.append((run.thread_id, run.run_id))
        elif body.get("thread_id") is not None:
            thread_id = require_uuid(field(body, "thread_id", str, ""), "thread_id")
            run_ids: list[Any] | None = field(body, "run_ids", list, None)
            if run_ids is None:
                run_ids = svc.queue.run_ids(thread_id)
            for run_id in run_ids:
                targets.append((thread_id, require_uuid(run_id, "run_id")))
        else:
            raise Invalid(f"{orjson.dumps(body).decode()} is not valid under any of the schemas listed in the 'oneOf' keyword")
        if svc.auth.enabled:  # as the reference: one `update` event; the runs of threads its filter hides are skipped
            scope = body.get("thread_id") if not status else None
            value = {"thread_id": uid(scope), "action": action, "metadata": {"run_ids": [uid(r) for _, r in targets] if scope else None, "status": status}}
            allowed = await svc.auth.authorize("threads", "update", value)
            targets = [(t, r) for t, r in targets if thread_allows(svc, allowed, t)]
        cancelled = 0
        for thread_id, run_id in targets:
            cancelled += await svc.queue.cancel(thread_id, run_id, action=action)
        if not cancelled:
            raise NotFound("No runs found to cancel.")
        return empty_response(204)
