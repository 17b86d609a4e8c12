"""Runs: create (stream, wait, background; on a thread or stateless), list, get, join, cancel."""

from __future__ import annotations

from contextlib import aclosing
from typing import Any, AsyncIterator

import orjson
import trio
from quart import Quart, Response, request

from .. import ids, jsonenc
from ..errors import BadRequest, Invalid, NotFound
from ..ids import EventId
from ..runtime.chunks import STREAM_MODES
from ..runtime.webhooks import valid_webhook
from ..storage.records import LogEvent, Run, Thread
from ..streaming.selectors import run_selector
from ..streaming.sse import sse_from_log
from ..streaming.tail import tail_selected
from .common import (
    Services,
    body_json,
    body_object,
    field,
    get_run_or_404,
    get_thread_or_404,
    json_response,
    last_event_id,
    query_bool,
    query_int,
    query_list,
    require_uuid,
    run_json,
    services,
    sse_response,
)

MULTITASK = ("reject", "rollback", "interrupt", "enqueue")
RUN_KWARGS = (
    "input", "command", "config", "context", "interrupt_before", "interrupt_after", "webhook",
    "feedback_keys", "checkpoint_id", "checkpoint", "durability", "checkpoint_during", "after_seconds",
)


def resolve_assistant(assistant_id: Any) -> tuple[str, str]:
    """(assistant id, graph id) for a graph id or an assistant UUID."""
    svc = services()
    if assistant_id is None:
        raise Invalid('"assistant_id" is a required property')
    if not isinstance(assistant_id, str) or not assistant_id:
        raise Invalid(f'{orjson.dumps(assistant_id).decode()} is not of type "string"\n\nOn instance["assistant_id"]')
    if assistant_id in svc.graphs:
        return ids.graph_assistant_id(assistant_id), assistant_id
    if ids.parse_uuid(assistant_id) is None:
        keys = ", ".join(svc.graphs)
        raise Invalid(
            f"Invalid assistant: '{assistant_id}'. Must be either:\n- A valid assistant UUID, or\n- One of the registered graphs: {keys}"
        )
    assistant = svc.tables.get_assistant(str(ids.parse_uuid(assistant_id)))
    if assistant is None or assistant.graph_id not in svc.graphs:
        raise NotFound("Thread or assistant not found.")
    return assistant.assistant_id, assistant.graph_id


def parse_stream_mode(value: Any) -> list[str]:
    if value is None or value == []:
        return ["values"]
    modes = value if isinstance(value, list) else [value]
    for mode in modes:
        if not isinstance(mode, str) or mode not in STREAM_MODES:
            shown = orjson.dumps(value).decode()
            raise Invalid(
                f"{shown} is not valid under any of the schemas listed in the 'anyOf' keyword\n\n"
                f'On instance["stream_mode"]: expected one or a list of {", ".join(sorted(STREAM_MODES))}'
            )
    return list(dict.fromkeys(modes))


async def create_run(thread_id: str | None, body: dict[str, Any]) -> Run:
    """Validate a run request and hand the run to the executor. Nothing is stored on a rejection."""
    svc = services()
    assistant_id, graph_id = resolve_assistant(body.get("assistant_id"))
    stream_mode = parse_stream_mode(body.get("stream_mode"))
    multitask = field(body, "multitask_strategy", str, "enqueue", choices=MULTITASK)
    if_not_exists = field(body, "if_not_exists", str, "reject", choices=("create", "reject"))
    on_completion = field(body, "on_completion", str, "delete", choices=("delete", "keep"))
    field(body, "on_disconnect", str, "continue", choices=("cancel", "continue"))
    for name in ("metadata", "config", "context", "command", "checkpoint"):
        field(body, name, dict)
    for name in ("interrupt_before", "interrupt_after"):
        value = body.get(name)
        if value is not None and value != "*" and not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
            raise Invalid(f"{name}: expected '*' or a list of node names")
    field(body, "after_seconds", (int, float))
    webhook = field(body, "webhook", str, None)
    if webhook is not None and not valid_webhook(webhook):
        raise Invalid(f"Invalid webhook URL {webhook!r}: expected an http(s) URL")
    subgraphs = bool(field(body, "stream_subgraphs", bool, False))
    field(body, "stream_resumable", bool, False)  # every stream is resumable here
    config = body.get("config") or {}
    if (config.get("configurable") or {}) and body.get("context"):
        raise BadRequest("Cannot specify both configurable and context. Prefer setting context alone.")
    command = body.get("command")
    temporary = thread_id is None and on_completion == "delete"
    if thread_id is None and command and command.get("resume") is not None:
        raise BadRequest("You must provide a thread_id when resuming.")

    extra_ops = []
    now = ids.now_iso()
    thread_metadata: dict[str, Any] = {}
    if thread_id is None:
        thread_id = ids.new_id()
        extra_ops.append(svc.tables.put_thread_op(Thread(thread_id, now, now, temporary=temporary, graph_id=graph_id)))
    else:
        parsed = ids.parse_uuid(thread_id)
        if parsed is None:
            raise BadRequest("badly formed hexadecimal UUID string")
        thread_id = str(parsed)
        thread = svc.tables.get_thread(thread_id)
        if thread is None or thread.temporary:
            if if_not_exists != "create":
                raise NotFound("Thread or assistant not found.")
            thread_metadata = {"graph_id": graph_id, "assistant_id": assistant_id}
            extra_ops.append(svc.tables.put_thread_op(Thread(thread_id, now, now, metadata=thread_metadata, graph_id=graph_id)))
        else:
            thread_metadata = thread.metadata
    # As the reference: the run's metadata is the assistant's, the thread's, then the request's.
    assistant = svc.tables.get_assistant(assistant_id)
    metadata = {**(assistant.metadata if assistant else {}), **thread_metadata, **(body.get("metadata") or {})}
    kwargs = {name: body.get(name) for name in RUN_KWARGS}
    kwargs["stream_mode"] = stream_mode
    kwargs["subgraphs"] = subgraphs
    kwargs["temporary"] = temporary
    kwargs["resumable"] = True
    kwargs["on_disconnect"] = body.get("on_disconnect") or "continue"
    run = Run(
        run_id=ids.new_id(),
        thread_id=thread_id,
        assistant_id=assistant_id,
        graph_id=graph_id,
        created_at=now,
        updated_at=now,
        metadata=metadata,
        kwargs=kwargs,
        multitask_strategy=multitask,
        stream_mode=stream_mode,
        stream_subgraphs=subgraphs,
        temporary=temporary,
    )
    return await svc.executor.submit(run, extra_ops=extra_ops)


def run_paths(run: Run) -> dict[str, str]:
    if run.temporary:
        return {"Location": f"/runs/{run.run_id}/stream", "Content-Location": f"/runs/{run.run_id}"}
    base = f"/threads/{run.thread_id}/runs/{run.run_id}"
    return {"Location": f"{base}/stream", "Content-Location": base}


async def run_events(svc: Services, run: Run, after: EventId, modes: list[str] | None, *, cancel_on_disconnect: bool) -> AsyncIterator[bytes]:
    """The SSE bytes of one run, from `after` to its end; optionally cancelling it if the client leaves."""
    finished = False
    try:
        async for chunk in sse_from_log(svc.log, run.thread_id, after, run_selector(run.run_id, modes), shutdown=svc.shutdown, heartbeat=svc.heartbeat):
            yield chunk
        finished = True
    finally:
        if not finished:
            await _cancel_abandoned(svc, run, cancel_on_disconnect)


async def run_result(svc: Services, run: Run, *, cancel_on_disconnect: bool) -> AsyncIterator[bytes]:
    """The body of `runs/wait` and `join`: the run's last values (with `__interrupt__`), or
    `{"__error__": ...}`, once the run ends; read from the log like any stream.

    A newline goes out every heartbeat interval meanwhile, so proxies keep the
    connection open (JSON parsers skip leading whitespace)."""
    result = RunResult()
    after = EventId.parse(run.log_start) if run.log_start else EventId.ZERO
    finished = False
    try:
        selected = tail_selected(svc.log, run.thread_id, after, run_selector(run.run_id, None), shutdown=svc.shutdown, heartbeat=svc.heartbeat)
        async with aclosing(selected) as batches:
            async for batch in batches:
                if not batch:
                    yield b"\n"
                for _, event, _ in batch:
                    result.absorb(event)
        finished = not svc.shutdown.is_set()
    finally:
        if not finished:
            await _cancel_abandoned(svc, run, cancel_on_disconnect)
    if finished:
        yield result.body(lambda: _thread_values(svc, run))


class RunResult:
    """Keeps what `runs/wait` answers while a run's events go by."""

    def __init__(self) -> None:
        self.latest: bytes | None = None
        self.interrupts: list[Any] = []
        self.errored = False

    def absorb(self, event: LogEvent) -> None:
        if event.mode == "error":
            self.latest = b'{"__error__":' + event.data + b"}"
            self.errored = True
        elif event.event == "values":
            self.latest = event.data
        elif event.event == "updates" and b'"__interrupt__"' in event.data:
            self.interrupts = orjson.loads(event.data).get("__interrupt__") or []

    def body(self, fallback) -> bytes:
        """The last values; with the interrupts when the run was not asked for `values`."""
        if self.interrupts and not self.errored and (self.latest is None or b'"__interrupt__"' not in self.latest):
            values = orjson.loads(self.latest) if self.latest else fallback()
            return jsonenc.dumps({**(values if isinstance(values, dict) else {}), "__interrupt__": self.interrupts})
        if self.latest is not None:
            return self.latest
        return jsonenc.dumps(fallback())


def _thread_values(svc: Services, run: Run) -> Any:
    thread = svc.tables.get_thread(run.thread_id)
    return thread.values if thread is not None and thread.values is not None else {}


async def _cancel_abandoned(svc: Services, run: Run, cancel_on_disconnect: bool) -> None:
    """The client left before the run ended: with `on_disconnect="cancel"`, so does the run."""
    if cancel_on_disconnect and not svc.shutdown.is_set():
        with trio.CancelScope(shield=True), trio.move_on_after(5):
            await svc.executor.cancel(run.thread_id, run.run_id, action="interrupt", reason="client disconnected from the run stream (on_disconnect=cancel)")


def register(app: Quart) -> None:
    @app.post("/threads/<thread_id>/runs/stream")
    async def stream_thread_run(thread_id: str):
        body = await body_object()
        run = await create_run(thread_id, body)
        return _stream_new_run(run, body)

    @app.post("/runs/stream")
    async def stream_stateless_run():
        body = await body_object()
        run = await create_run(None, body)
        return _stream_new_run(run, body)

    @app.post("/threads/<thread_id>/runs/wait")
    async def wait_thread_run(thread_id: str):
        body = await body_object()
        run = await create_run(thread_id, body)
        return _wait_response(run, body)

    @app.post("/runs/wait")
    async def wait_stateless_run():
        body = await body_object()
        run = await create_run(None, body)
        return _wait_response(run, body)

    @app.post("/threads/<thread_id>/runs")
    async def create_background_run(thread_id: str):
        body = await body_object()
        run = await create_run(thread_id, body)
        return json_response(run_json(run), headers=run_paths(run))

    @app.post("/runs")
    async def create_stateless_background_run():
        body = await body_object()
        run = await create_run(None, body)
        return json_response(run_json(run), headers=run_paths(run))

    @app.post("/runs/batch")
    async def create_stateless_batch():
        body = await body_json()
        if not isinstance(body, list) or not all(isinstance(item, dict) for item in body):
            raise Invalid("Request body must be a list of run objects")
        runs = [await create_run(None, item) for item in body]
        return json_response([run_json(r) for r in runs])

    @app.get("/threads/<thread_id>/runs")
    async def list_runs(thread_id: str):
        get_thread_or_404(thread_id)
        limit = query_int("limit", 10)
        offset = query_int("offset", 0)
        status = request.args.get("status")
        runs = services().tables.thread_runs(require_uuid(thread_id, "thread_id"))
        runs.reverse()  # newest first
        if status:
            runs = [r for r in runs if r.status == status]
        return json_response([run_json(r) for r in runs[offset : offset + limit]])

    @app.get("/threads/<thread_id>/runs/<run_id>")
    async def get_run(thread_id: str, run_id: str):
        return json_response(run_json(get_run_or_404(thread_id, run_id)))

    @app.delete("/threads/<thread_id>/runs/<run_id>")
    async def delete_run(thread_id: str, run_id: str):
        run = get_run_or_404(thread_id, run_id)
        svc = services()
        await svc.executor.cancel(run.thread_id, run.run_id, action="interrupt", wait=True)
        await svc.store.write(svc.tables.delete_run_op(run.run_id))
        return Response(b"", status=204)

    @app.get("/threads/<thread_id>/runs/<run_id>/join")
    async def join_run(thread_id: str, run_id: str):
        run = get_run_or_404(thread_id, run_id)
        return _wait_response(run, {}, location=False)

    @app.get("/threads/<thread_id>/runs/<run_id>/stream")
    async def join_run_stream(thread_id: str, run_id: str):
        return _join_stream(get_run_or_404(thread_id, run_id))

    @app.get("/runs/<run_id>/stream")
    async def join_stateless_run_stream(run_id: str):
        run = services().tables.get_run(require_uuid(run_id, "run_id"))
        if run is None:
            raise NotFound(f"Run {run_id} not found")
        return _join_stream(run)

    @app.post("/threads/<thread_id>/runs/<run_id>/cancel")
    async def cancel_run(thread_id: str, run_id: str):
        run = get_run_or_404(thread_id, run_id)
        action = request.args.get("action", "interrupt")
        if action not in ("interrupt", "rollback"):
            raise Invalid("action: must be 'interrupt' or 'rollback'")
        wait = query_bool("wait")
        if not await services().executor.cancel(run.thread_id, run.run_id, action=action, wait=wait):
            raise NotFound("No runs found to cancel.")
        if wait:
            base = f"/threads/{run.thread_id}/runs/{run.run_id}"
            return json_response({}, headers={"Location": f"{base}/join", "Content-Location": base})
        return Response(b"", status=202)

    @app.post("/runs/cancel")
    async def cancel_runs():
        body = await body_object()
        action = request.args.get("action", "interrupt")
        svc = services()
        targets: list[tuple[str, str]] = []
        status = field(body, "status", str, None, choices=("pending", "running", "all"))
        if status:
            for run in svc.tables.all_runs():
                if run.status in ("pending", "running") and (status == "all" or run.status == status):
                    targets.append((run.thread_id, run.run_id))
        elif body.get("thread_id") is not None:
            thread_id = require_uuid(field(body, "thread_id", str, ""), "thread_id")
            run_ids = field(body, "run_ids", list, None)
            if run_ids is None:
                run_ids = svc.executor.active_run_ids(thread_id)
            for run_id in run_ids:
                targets.append((thread_id, require_uuid(run_id, "run_id")))
        else:
            raise Invalid(f"{orjson.dumps(body).decode()} is not valid under any of the schemas listed in the 'oneOf' keyword")
        cancelled = 0
        for thread_id, run_id in targets:
            cancelled += await svc.executor.cancel(thread_id, run_id, action=action)
        if not cancelled:
            raise NotFound("No runs found to cancel.")
        return Response(b"", status=204)


def _stream_new_run(run: Run, body: dict[str, Any]):
    after = EventId.parse(run.log_start) if run.log_start else EventId.ZERO
    cancel = body.get("on_disconnect") == "cancel"
    return sse_response(run_events(services(), run, after, None, cancel_on_disconnect=cancel), headers=run_paths(run))


def _join_stream(run: Run):
    """Join a run's stream: from its start (we keep everything), or after `Last-Event-ID`."""
    after = last_event_id()
    if after is None or after == EventId.ZERO:
        after = EventId.parse(run.log_start) if run.log_start else EventId.ZERO
    modes = query_list("stream_mode") or None
    cancel = query_bool("cancel_on_disconnect")
    return sse_response(run_events(services(), run, after, modes, cancel_on_disconnect=cancel), headers=run_paths(run))


def _wait_response(run: Run, body: dict[str, Any], *, location: bool = True) -> Response:
    cancel = body.get("on_disconnect") == "cancel"
    headers = {}
    if location:
        base = f"/threads/{run.thread_id}/runs/{run.run_id}"
        headers = {"Location": f"{base}/join", "Content-Location": base}
    response = Response(run_result(services(), run, cancel_on_disconnect=cancel), status=200, content_type="application/json", headers=headers)
    response.timeout = None  # STACK.md 1
    return response
