"""`/a2a/{assistant_id}`: Agent-to-Agent JSON-RPC, as the reference serves it, written
here (the official `a2a-sdk` server is asyncio-only; its client is what the tests use).

A message creates a run on the context's thread (created on demand) through the same
`svc.runs.create` as every run, and the answer is read from the run's events as
`runs/wait` reads them. Methods: `SendMessage`, `SendStreamingMessage`, `GetTask`,
`CancelTask`, `ListTasks`, `GetExtendedAgentCard`, and the v0.3 names `message/send`,
`message/stream`, `tasks/get`, `tasks/cancel`, answered in v0.3 spelling. A thread
stopped at an `interrupt()` is `input-required`; the next message on its task resumes it.
Not served: file parts, push notifications, A2UI.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import Any

import orjson
from quart import Quart, Response, request

from .. import __version__, ids
from ..errors import ServerError
from ..protocols import a2a
from ..protocols.outcome import Outcome, run_events, run_outcome
from ..runtime.assistants import with_assistant_graph
from ..runtime.runs import RunRequest
from ..runtime.schemas import graph_schemas
from ..services import Services
from ..storage.records import Assistant, Run
from .access import authorize, thread_allows, uid
from .common import json_response

ALIASES = {"message/send": "SendMessage", "message/stream": "SendStreamingMessage", "tasks/get": "GetTask", "tasks/cancel": "CancelTask"}
METHODS = frozenset({"SendMessage", "SendStreamingMessage", "GetTask", "CancelTask", "ListTasks", "GetExtendedAgentCard"})
HISTORY_SCOPE = "LangGraph-A2A-History-Scope"
MODES = ["application/json", "text/plain"]


class RpcError(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def invalid(message: str) -> RpcError:
    return RpcError(-32602, message)


def register(app: Quart, svc: Services) -> None:
    @app.get("/a2a/<assistant_id>/.well-known/agent-card.json")
    @app.get("/a2a/<assistant_id>/.well-known/agent.json")
    @app.get("/a2a/<assistant_id>")
    async def a2a_card(assistant_id: str) -> Response:
        return await card_response(svc, assistant_id)

    @app.get("/.well-known/agent-card.json")
    async def a2a_well_known_card() -> Response:
        assistant_id = request.args.get("assistant_id")
        if not assistant_id:
            return json_response({"error": {"code": -32602, "message": "Missing required query parameter: assistant_id"}}, status=400)
        return await card_response(svc, assistant_id)

    @app.post("/a2a/<assistant_id>")
    async def a2a_rpc(assistant_id: str) -> Response:
        try:
            message = orjson.loads(await request.get_data())
        except orjson.JSONDecodeError:
            return rpc_answer(None, error=RpcError(-32700, "Invalid JSON payload"))
        if not isinstance(message, dict) or message.get("jsonrpc") != "2.0" or not isinstance(message.get("method"), str):
            return rpc_answer(message.get("id") if isinstance(message, dict) else None, error=RpcError(-32600, "Invalid Request"))
        rpc_id, method = message.get("id"), message["method"]
        name = ALIASES.get(method, method)
        spelling = a2a.legacy if method in ALIASES else _same
        if name not in METHODS:
            return rpc_answer(rpc_id, error=RpcError(-32601, f"Method not found: {method}"))
        accept = request.headers.get("Accept", "")
        if name == "SendStreamingMessage" and not accepts(accept, "text/event-stream"):
            return json_response({"error": "Accept header must include text/event-stream for streaming"}, status=400)
        if name != "SendStreamingMessage" and not accepts(accept, "application/json"):
            return json_response({"error": "Accept header must include application/json"}, status=400)
        params = message.get("params") or {}
        try:
            if not isinstance(params, dict):
                raise invalid("Invalid params: must be an object")
            assistant = await resolve(svc, assistant_id)
            scope = "task" if request.headers.get(HISTORY_SCOPE, "context") == "task" else "context"
            if name == "SendStreamingMessage":
                return stream_response(svc, assistant, params, rpc_id, spelling)
            if name == "SendMessage":
                result = await send_message(svc, assistant, params, scope)
            elif name == "GetTask":
                result = await get_task(svc, assistant, params, scope)
            elif name == "CancelTask":
                result = await cancel_task(svc, assistant, params)
            elif name == "ListTasks":
                result = await list_tasks(svc, assistant, params)
            else:
                result = agent_card(assistant, request.host_url.rstrip("/"))
        except RpcError as exc:
            return rpc_answer(rpc_id, error=exc, spelling=spelling)
        return rpc_answer(rpc_id, result=result, spelling=spelling)


def _same(value: Any) -> Any:
    return value


def accepts(header: str, media_type: str) -> bool:
    """Whether an Accept header admits `media_type` (`*/*` and `type/*` ranges included)."""
    kind = media_type.split("/", 1)[0]
    for item in header.lower().split(","):
        candidate = item.split(";", 1)[0].strip()
        if candidate in ("*/*", media_type, f"{kind}/*"):
            return True
    return False


def rpc_answer(rpc_id: Any, *, result: Any = None, error: RpcError | None = None, spelling: Any = _same) -> Response:
    """A JSON-RPC answer; errors too answer HTTP 200, as the reference."""
    body: dict[str, Any] = {"jsonrpc": "2.0", "id": rpc_id}
    if error is not None:
        body["error"] = {"code": error.code, "message": error.message}
    else:
        body["result"] = result
    return json_response(spelling(body))


async def resolve(svc: Services, assistant_id: str) -> Assistant:
    """The path's assistant (a UUID only, as the reference), if the caller may read it."""
    parsed = ids.parse_uuid(assistant_id)
    if parsed is None:
        raise invalid("Invalid assistant ID: must be a UUID")
    assistant = svc.tables.get_assistant(str(parsed))
    if assistant is None or assistant.graph_id not in svc.graphs:
        raise invalid(f"Assistant '{assistant_id}' not found")
    if assistant.metadata.get("created_by") != "system":  # as runs check it: a graph's own assistant is everyone's
        if not (await authorize(svc, "assistants", "read", {"assistant_id": uid(assistant.assistant_id)})).allows(assistant.metadata):
            raise invalid(f"Assistant '{assistant_id}' not found")
    return assistant


async def readable(svc: Services, thread_id: str, action: str = "read") -> bool:
    """Whether the caller may `action` the context's thread (custom auth's thread filter)."""
    return thread_allows(svc, await authorize(svc, "threads", action, {"thread_id": uid(thread_id)}), thread_id)


# -- the agent card -------------------------------------------------------------------------


async def card_response(svc: Services, assistant_id: str) -> Response:
    try:
        assistant = await resolve(svc, assistant_id)
    except RpcError as exc:
        message = exc.message if "not found" in exc.message else f"Failed to get assistant '{assistant_id}': {exc.message}"
        return json_response({"error": {"code": exc.code, "message": message}}, status=400)
    fields = await input_fields(svc, assistant)
    return json_response(agent_card(assistant, request.host_url.rstrip("/"), fields))


def agent_card(assistant: Assistant, base_url: str, fields: tuple[list[str], list[str]] | None = None) -> dict[str, Any]:
    url = f"{base_url}/a2a/{assistant.assistant_id}"
    description = assistant.description or f"{assistant.name} assistant"
    required, properties = fields if fields is not None else ([], [])
    history_scope = {
        "uri": "https://langchain.com/a2a/extensions/history-scope/v1",
        "description": "Choose task-only or full-context response history",
        "required": False,
        "params": {"header": HISTORY_SCOPE, "values": ["context", "task"], "default": "context", "methods": ["SendMessage", "GetTask", "ListTasks"]},
    }
    skill = {
        "id": f"{assistant.assistant_id}-main",
        "name": f"{assistant.name} Capabilities",
        "description": description,
        "tags": ["assistant", "langgraph"],
        "examples": [],
        "inputModes": MODES,
        "outputModes": MODES,
        "metadata": {"inputSchema": {"required": required, "properties": sorted(properties), "supportsA2A": "messages" in properties}},
    }
    return {
        "name": assistant.name,
        "description": description,
        "url": url,
        "supportedInterfaces": [{"url": url, "protocolBinding": "JSONRPC", "protocolVersion": "1.0"}],
        "capabilities": {"streaming": True, "pushNotifications": False, "stateTransitionHistory": False, "extensions": [history_scope]},
        "defaultInputModes": MODES,
        "defaultOutputModes": MODES,
        "skills": [skill],
        "version": __version__,
    }


async def input_fields(svc: Services, assistant: Assistant) -> tuple[list[str], list[str]]:
    """(required, all) input field names of the assistant's graph (the required sorted, all
    in the schema's order): from its input schema, or its state schema when the input
    cannot be rendered."""
    schemas = await with_assistant_graph(svc.bridge, svc.graphs, assistant, graph_schemas)
    schema = schemas["input_schema"] or schemas["state_schema"] or {}
    return sorted(schema.get("required") or []), list(schema.get("properties") or {})


# -- messages -------------------------------------------------------------------------------


async def prepare(svc: Services, assistant: Assistant, params: dict[str, Any]) -> tuple[RunRequest, str, str | None, str | None, dict[str, Any]]:
    """Check a message and turn it into a run request: (request, context id, the task it
    continues, the new task's start id, the message)."""
    message = params.get("message")
    if not isinstance(message, dict):
        raise invalid("Missing 'message' in params")
    if not message.get("messageId"):
        raise invalid("Missing required 'messageId' in message")
    if not message.get("role"):
        raise invalid("Missing required 'role' in message")
    parts = message.get("parts")
    if not isinstance(parts, list):
        raise invalid("Invalid params: 'parts' must be an array")
    if not parts:
        raise invalid("Message must contain at least one part")
    context_id, continued = message.get("contextId"), message.get("taskId")
    if context_id is not None and not isinstance(context_id, str):
        raise invalid("contextId must be a string")
    if continued is not None and not isinstance(continued, str):
        raise invalid("taskId must be a string")
    texts = [p["text"] for p in parts if isinstance(p, dict) and isinstance(p.get("text"), str) and p.get("kind", "text") == "text"]
    data: dict[str, Any] = {}
    for part in parts:
        if isinstance(part, dict) and (part.get("kind") == "data" or "data" in part):
            if not isinstance(part.get("data"), dict):
                raise invalid("A data part must hold an object")
            data.update(part["data"])
    required, fields = await input_fields(svc, assistant)
    if texts and "messages" not in fields:
        raise invalid(
            f"Assistant '{assistant.assistant_id}' (graph '{assistant.graph_id}') does not support A2A conversational messages. "
            f"Graph input schema must include a 'messages' field to accept text or file parts. Available input fields: {fields}"
        )
    start_id = None
    if continued is not None:
        found = await find_task(svc, continued, context_id)
        if found is None:
            raise RpcError(-32001, f"Task not found: {continued}")
        run, thread = found
        if a2a.task_state(run, thread) in a2a.TERMINAL:
            raise RpcError(-32004, "A terminal task cannot accept another message")
        context_id = run.thread_id
        stamp: dict[str, Any] = {"task_id": continued}
    else:
        context_id = context_id or str(uuid.uuid4())
        start_id = str(uuid.uuid4())
        stamp = {"task_start_id": start_id}
    body: dict[str, Any] = {"assistant_id": assistant.assistant_id, "if_not_exists": "create", "metadata": {"a2a": stamp}, "stream_mode": ["messages-tuple", "values"]}
    thread = svc.tables.get_thread(context_id) if ids.parse_uuid(context_id) else None
    if thread is not None and thread.status == "interrupted":  # the graph waits for an answer: this is it
        body["command"] = {"resume": data.get("resume", "\n".join(texts) if texts else data)}
    else:
        turn = [{"role": "human", "content": text, "id": message["messageId"], "additional_kwargs": {"a2a": stamp}} for text in texts]
        body["input"] = {**data, **({"messages": turn} if turn else {})}
    if params.get("context"):
        body["context"] = params["context"]
    try:
        return RunRequest.parse(body), context_id, continued, start_id, message
    except ServerError as exc:
        raise invalid(str(exc.detail)) from None


async def start(svc: Services, assistant: Assistant, params: dict[str, Any]) -> tuple[Run, str, dict[str, Any]]:
    run_request, context_id, continued, _, message = await prepare(svc, assistant, params)
    if ids.parse_uuid(context_id) is None:
        raise invalid("contextId must be a UUID")
    try:
        run = await svc.runs.create(context_id, run_request)
    except ServerError as exc:
        raise invalid(f"Failed to create run: {exc.detail}") from None
    return run, continued or a2a.task_id(run.thread_id, run.run_id), message


async def send_message(svc: Services, assistant: Assistant, params: dict[str, Any], scope: str) -> dict[str, Any]:
    run, task, _ = await start(svc, assistant, params)
    outcome = await run_outcome(svc.classic, run)
    return {"task": task_json(svc, assistant, run, task, outcome.values, outcome.error, scope=scope, length=_history_length(params))}


def task_json(svc: Services, assistant: Assistant, run: Run, task: str, values: Any, error: dict[str, Any] | None, *, scope: str, length: int | None) -> dict[str, Any]:
    """A finished message's task: its history, status and answer."""
    thread = svc.tables.get_thread(run.thread_id)
    values = values if values is not None else (thread.values if thread is not None else None)
    by_start = a2a.task_ids_by_start(svc.tables.thread_runs(run.thread_id))
    history = a2a.history(values, run.thread_id, by_start, only_task=task if scope == "task" else None)
    out: dict[str, Any] = {"kind": "task", "id": task, "contextId": run.thread_id}
    if length != 0:
        out["history"] = history[-length:] if length else history
    if error is not None:
        text = f"Error executing assistant: {error.get('error')}"
        out["status"] = a2a.status("TASK_STATE_FAILED", message=a2a.message_json("ROLE_AGENT", [{"kind": "text", "text": text}], str(uuid.uuid4()), task, run.thread_id))
        return out
    refreshed = svc.tables.get_run(run.run_id) or run
    out["status"] = a2a.status(a2a.task_state(refreshed, thread))
    out["artifacts"] = [a2a.artifact(values, assistant.assistant_id)]
    return out


def stream_response(svc: Services, assistant: Assistant, params: dict[str, Any], rpc_id: Any, spelling: Any) -> Response:
    """`SendStreamingMessage`: the task as submitted, the agent's answer as it grows (one
    `status-update` per token chunk), the answer as an artifact, the final status."""

    def frame(result: Any) -> bytes:
        return b"event: message\r\ndata: " + orjson.dumps(spelling({"jsonrpc": "2.0", "id": rpc_id, "result": result})) + b"\r\n\r\n"

    async def events() -> AsyncIterator[bytes]:
        try:
            run, task, message = await start(svc, assistant, params)
        except RpcError as exc:
            yield b"event: message\r\ndata: " + orjson.dumps(spelling({"jsonrpc": "2.0", "id": rpc_id, "error": {"code": exc.code, "message": exc.message}})) + b"\r\n\r\n"
            return
        context = run.thread_id
        user = {**message, "taskId": task, "contextId": context}
        yield frame({"task": {"kind": "task", "id": task, "contextId": context, "history": [user], "status": a2a.status("TASK_STATE_SUBMITTED")}})
        answer: dict[str, str] = {}  # message id -> its text so far
        outcome = None
        async with aclosing(run_events(svc.classic, run)) as items:
            async for item in items:
                if isinstance(item, Outcome):
                    outcome = item
                elif item.event == "messages":
                    chunk, _ = orjson.loads(item.data)
                    if isinstance(chunk, dict) and a2a.is_ai(chunk) and a2a.text_of(chunk.get("content")):
                        key = str(chunk.get("id"))
                        answer[key] = answer.get(key, "") + a2a.text_of(chunk.get("content"))
                        update = a2a.message_json("ROLE_AGENT", [{"kind": "text", "text": answer[key]}], str(uuid.uuid4()), task, context)
                        yield frame({"taskId": task, "contextId": context, "kind": "status-update", "status": a2a.status("TASK_STATE_WORKING", message=update), "final": False})
        if outcome is None or not outcome.finished:
            return  # the server is stopping: the task goes on, `GetTask` reads it later
        if outcome.error is not None:
            failed = a2a.message_json("ROLE_AGENT", [{"kind": "text", "text": f"Error executing assistant: {outcome.error.get('error')}"}], str(uuid.uuid4()), task, context)
            yield frame({"taskId": task, "contextId": context, "kind": "status-update", "status": a2a.status("TASK_STATE_FAILED", message=failed), "final": True})
            return
        yield frame({"taskId": task, "contextId": context, "kind": "artifact-update", "artifact": a2a.artifact(outcome.values, assistant.assistant_id), "append": False, "lastChunk": True})
        refreshed = svc.tables.get_run(run.run_id) or run
        yield frame({"taskId": task, "contextId": context, "kind": "status-update", "status": a2a.status(a2a.task_state(refreshed, svc.tables.get_thread(context))), "final": True})

    response = Response(events(), status=200, content_type="text/event-stream")
    response.timeout = None
    return response


# -- tasks ----------------------------------------------------------------------------------


async def find_task(svc: Services, task: str, context_id: str | None = None, action: str = "read") -> tuple[Run, Any] | None:
    """The latest run of a task (a continued task has several), with its thread; None
    also when the caller may not `action` the thread."""
    parsed = a2a.parse_task_id(task)
    if parsed is None or (context_id is not None and context_id != parsed[0]) or not await readable(svc, parsed[0], action):
        return None
    runs = [r for r in svc.tables.thread_runs(parsed[0]) if a2a.run_task_id(r) == task]
    if not runs:
        return None
    return runs[-1], svc.tables.get_thread(parsed[0])


def _task_param(params: dict[str, Any]) -> str:
    task = params.get("id")
    if task is None:
        raise invalid("Missing required parameter: id (task_id)")
    if not isinstance(task, str):
        raise invalid("Task id and contextId must be strings")
    return task


async def get_task(svc: Services, assistant: Assistant, params: dict[str, Any], scope: str) -> dict[str, Any]:
    task = _task_param(params)
    found = await find_task(svc, task, params.get("contextId"))
    if found is None:
        raise RpcError(-32001, f"Task not found: {task}")
    run, thread = found
    state = a2a.task_state(run, thread)
    by_start = a2a.task_ids_by_start(svc.tables.thread_runs(run.thread_id))
    history = a2a.history(thread.values if thread is not None else None, run.thread_id, by_start, only_task=task if scope == "task" else None)
    length = _history_length(params)
    note = {"TASK_STATE_COMPLETED": "Task completed successfully", "TASK_STATE_FAILED": "Task failed", "TASK_STATE_CANCELED": "Task was canceled"}.get(state)
    status = a2a.status(state, run.updated_at)
    if note is not None:
        status["message"] = a2a.message_json("ROLE_AGENT", [{"kind": "text", "text": note}], str(uuid.uuid4()), task, None)
    out: dict[str, Any] = {"kind": "task", "id": task, "contextId": run.thread_id, "status": status}
    if length != 0:
        out["history"] = history[-length:] if length else history
    return out


async def cancel_task(svc: Services, assistant: Assistant, params: dict[str, Any]) -> dict[str, Any]:
    task = _task_param(params)
    found = await find_task(svc, task, params.get("contextId"), "update")
    if found is None:
        raise RpcError(-32001, f"Task not found: {task}")
    run, _ = found
    if run.status not in ("pending", "running") or not await svc.queue.cancel(run.thread_id, run.run_id, action="interrupt", wait=True, reason="cancelled through A2A"):
        raise RpcError(-32002, "Task is not cancelable in its current state")
    return await get_task(svc, assistant, params, "context")


async def list_tasks(svc: Services, assistant: Assistant, params: dict[str, Any]) -> dict[str, Any]:
    """The assistant's tasks in one context (`contextId`), newest first."""
    context_id = params.get("contextId")
    if context_id is not None and not isinstance(context_id, str):
        raise invalid("contextId must be a string.")
    page_size = params.get("pageSize", 50)
    if not isinstance(page_size, int) or not 1 <= page_size <= 100:
        raise invalid("pageSize must be an integer between 1 and 100.")
    runs = svc.tables.thread_runs(context_id) if context_id and ids.parse_uuid(context_id) and await readable(svc, context_id) else []
    tasks: dict[str, Run] = {}
    for run in runs:  # oldest first: a continued task's last run wins
        if run.assistant_id == assistant.assistant_id:
            tasks[a2a.run_task_id(run)] = run
    out = []
    for task, run in sorted(tasks.items(), key=lambda item: item[1].created_at, reverse=True)[:page_size]:
        thread = svc.tables.get_thread(run.thread_id)
        by_start = a2a.task_ids_by_start(runs)
        history = a2a.history(thread.values if thread is not None else None, run.thread_id, by_start)
        out.append({"kind": "task", "id": task, "contextId": run.thread_id, "status": a2a.status(a2a.task_state(run, thread), run.updated_at), "artifacts": [], "history": history})
    return {"tasks": out, "totalSize": len(tasks), "pageSize": len(out), "nextPageToken": ""}


def _history_length(params: dict[str, Any]) -> int | None:
    config = params.get("configuration") if isinstance(params.get("configuration"), dict) else {}
    value = params.get("historyLength", config.get("historyLength") if config else None)
    if value is None:
        return None
    if not isinstance(value, int) or value < 0:
        raise invalid("historyLength must be a non-negative integer")
    return value
