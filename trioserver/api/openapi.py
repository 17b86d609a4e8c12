"""`GET /openapi.json`: an OpenAPI 3.1 document of what this server serves.

Built from the app's own route table (every Quart rule, WebSocket routes included) plus
the paths served in front of Quart (`/mcp`, see server.py), so it cannot leave a route
out: a route without an entry in `OPERATIONS` below still appears, with a summary made
from its handler's name. The entries add what the route table cannot know: a summary,
a tag, the request body, the answer and the query parameters. The schemas are in
`openapi_schemas`.
"""

from __future__ import annotations

import re
from typing import Any

import attrs
from quart import Quart, Response, request

from .. import __version__
from ..auth.openapi import apply_security
from ..services import Services
from .common import json_response
from .mcp import MCP_METHODS, MCP_PATH
from .openapi_schemas import SCHEMAS, ref

# Quart's built-in static route: this app has no static folder, so it serves nothing.
IGNORED_ENDPOINTS = frozenset({"static"})


@attrs.frozen
class Op:
    """What the route table does not say about one endpoint."""

    summary: str
    tag: str
    body: str | None = None  # a component schema name
    answer: str | None = None  # a component schema name (array of it when `many`)
    many: bool = False
    kind: str = "json"  # json | sse | wait | empty | text | html | asset | ws | jsonrpc
    status: int = 200
    query: tuple[tuple[str, str, str], ...] = ()  # (name, JSON type, description)
    description: str | None = None


_PAGE_QUERY = (("limit", "integer", "Page size"), ("offset", "integer", "Items to skip"))

OPERATIONS: dict[str, Op] = {
    # system
    "ok": Op("Health check", "System", answer="Health"),
    "info": Op("Server information", "System", answer="ServerInfo"),
    "get_metrics": Op("Metrics (Prometheus text, or JSON)", "System", kind="text", query=(("format", "string", "`prometheus` (default) or `json`"),)),
    "openapi_json": Op("This document", "System", kind="json"),
    "docs": Op("API reference page (offline)", "System", kind="html"),
    "docs_asset": Op("A script or stylesheet of the API reference page", "System", kind="asset"),
    # assistants
    "create_assistant": Op("Create an assistant", "Assistants", body="AssistantCreate", answer="Assistant"),
    "get_assistant": Op("Get an assistant", "Assistants", answer="Assistant"),
    "patch_assistant": Op("Update an assistant (a new version)", "Assistants", body="AssistantPatch", answer="Assistant"),
    "delete_assistant": Op("Delete an assistant, its versions and crons", "Assistants", kind="empty", status=204),
    "search_assistants": Op("Search assistants", "Assistants", body="AssistantSearch", answer="Assistant", many=True),
    "count_assistants": Op("Count assistants", "Assistants", body="AssistantCount", answer="count"),
    "assistant_versions": Op("List an assistant's versions", "Assistants", body="AssistantVersionsSearch", answer="AssistantVersion", many=True),
    "set_latest_version": Op("Make a version the current one", "Assistants", body="AssistantLatest", answer="Assistant"),
    "assistant_graph": Op("Draw an assistant's graph", "Assistants", answer="DrawnGraph", query=(("xray", "string", "`true`, or a subgraph depth"),)),
    "assistant_subgraphs": Op("Schemas of an assistant's subgraphs", "Assistants", answer="SubgraphSchemas", query=(("recurse", "boolean", "Include nested subgraphs"),)),
    "assistant_schemas": Op("JSON schemas of an assistant's graph", "Assistants", answer="GraphSchemas"),
    # threads
    "create_thread": Op("Create a thread (optionally seeded with supersteps)", "Threads", body="ThreadCreate", answer="Thread"),
    "get_thread": Op("Get a thread", "Threads", answer="Thread"),
    "patch_thread": Op("Update a thread's metadata", "Threads", body="ThreadPatch", answer="Thread"),
    "delete_thread": Op("Delete a thread with its runs, checkpoints, events and crons", "Threads", kind="empty", status=204),
    "search_threads": Op("Search threads", "Threads", body="ThreadSearch", answer="Thread", many=True),
    "count_threads": Op("Count threads", "Threads", body="ThreadCount", answer="count"),
    "prune_threads": Op("Delete threads, or keep only their latest checkpoint", "Threads", body="ThreadPrune", answer="ThreadPruned"),
    "copy_thread": Op("Copy a thread with its checkpoints", "Threads", answer="Thread"),
    "get_thread_storage": Op("Bytes a thread's checkpoints occupy", "Threads", answer="ThreadStorage"),
    "stream_thread": Op(
        "Follow every run on a thread", "Threads", kind="sse",
        query=(("stream_mode", "string", "`run_modes`, `lifecycle`, `state_update` (repeatable)"),),
        description="Server-sent events. Send `Last-Event-ID` to resume after an event (`-` replays from the first one kept).",
    ),  # fmt: skip
    # thread state
    "get_state": Op("Get a thread's state", "Thread State", answer="ThreadState", query=(("subgraphs", "boolean", "Include subgraph states"),)),
    "get_state_at": Op("Get a thread's state at a checkpoint", "Thread State", answer="ThreadState", query=(("subgraphs", "boolean", "Include subgraph states"),)),
    "get_state_at_checkpoint": Op("Get a thread's state at a checkpoint", "Thread State", body="ThreadStateAt", answer="ThreadState"),
    "update_state": Op("Update a thread's state (as if a node ran)", "Thread State", body="ThreadStateUpdate", answer="ThreadStateUpdated"),
    "history_get": Op("A thread's past states, newest first", "Thread State", answer="ThreadState", many=True, query=(("limit", "integer", "How many"), ("before", "string", "A checkpoint id"))),
    "history_post": Op("A thread's past states, newest first", "Thread State", body="HistorySearch", answer="ThreadState", many=True),
    # runs on a thread
    "stream_thread_run": Op("Create a run and stream its output", "Thread Runs", body="RunCreate", kind="sse"),
    "wait_thread_run": Op("Create a run and wait for its result", "Thread Runs", body="RunCreate", kind="wait"),
    "create_background_run": Op("Create a run in the background", "Thread Runs", body="RunCreate", answer="Run"),
    "list_runs": Op("List a thread's runs, newest first", "Thread Runs", answer="Run", many=True, query=(*_PAGE_QUERY, ("status", "string", "Only runs with this status"))),
    "get_run": Op("Get a run", "Thread Runs", answer="Run"),
    "delete_run": Op("Delete a run (cancelled first)", "Thread Runs", kind="empty", status=204),
    "join_run": Op("Wait for a run's result", "Thread Runs", kind="wait", query=(("cancel_on_disconnect", "boolean", "Cancel the run if the client leaves"),)),
    "join_run_stream": Op(
        "Join a run's stream", "Thread Runs", kind="sse",
        query=(("stream_mode", "string", "Only these modes (repeatable)"), ("cancel_on_disconnect", "boolean", "Cancel the run if the client leaves")),
        description="From the run's first event, or after `Last-Event-ID`.",
    ),  # fmt: skip
    "cancel_run": Op(
        "Cancel a run", "Thread Runs", kind="empty", status=202,
        query=(("wait", "boolean", "Answer once the run has ended (200 `{}`)"), ("action", "string", "`interrupt` (default) or `rollback`")),
    ),  # fmt: skip
    # stateless runs
    "stream_stateless_run": Op("Create a run on a temporary thread and stream its output", "Stateless Runs", body="RunCreateStateless", kind="sse"),
    "wait_stateless_run": Op("Create a run on a temporary thread and wait for its result", "Stateless Runs", body="RunCreateStateless", kind="wait"),
    "create_stateless_background_run": Op("Create a run on a temporary thread in the background", "Stateless Runs", body="RunCreateStateless", answer="Run"),
    "create_stateless_batch": Op("Create several background runs", "Stateless Runs", body="RunBatch", answer="Run", many=True),
    "join_stateless_run_stream": Op("Join a stateless run's stream", "Stateless Runs", kind="sse"),
    "cancel_runs": Op("Cancel several runs", "Stateless Runs", body="RunsCancel", kind="empty", status=204, query=(("action", "string", "`interrupt` or `rollback`"),)),
    # crons
    "create_cron": Op("Schedule runs, each on a new thread", "Crons", body="CronCreate", answer="Cron"),
    "create_thread_cron": Op("Schedule runs on a thread", "Crons", body="CronCreate", answer="Cron"),
    "search_crons": Op("Search crons", "Crons", body="CronSearch", answer="Cron", many=True),
    "count_crons": Op("Count crons", "Crons", body="CronCount", answer="count"),
    "get_cron": Op("Get a cron", "Crons", answer="Cron"),
    "patch_cron": Op("Update a cron", "Crons", body="CronPatch", answer="Cron"),
    "delete_cron": Op("Delete a cron", "Crons", kind="empty", status=204),
    # store
    "put_item": Op("Store an item", "Store", body="StorePut", kind="empty", status=204),
    "get_item": Op("Get an item", "Store", answer="Item", query=(("namespace", "string", "Dot-separated namespace"), ("key", "string", "The item's key"))),
    "delete_item": Op("Delete an item", "Store", body="StoreDelete", kind="empty", status=204),
    "search_items": Op("Search items", "Store", body="StoreSearch", answer="StoreSearchResult"),
    "list_namespaces": Op("List namespaces", "Store", body="StoreNamespaces", answer="StoreNamespacesResult"),
    # protocol v2
    "command": Op("Send a command of the v2 event protocol", "Event Protocol v2", body="ProtocolCommand", answer="JsonRpcResponse"),
    "stream_events": Op("Stream a thread's events (v2 event protocol)", "Event Protocol v2", kind="sse"),
    "stream_socket": Op("The v2 event protocol over a WebSocket", "Event Protocol v2", kind="ws"),
    # agent-to-agent
    "a2a_rpc": Op("A2A JSON-RPC (message/send, message/stream, tasks/get, tasks/cancel, ...)", "A2A", body="JsonRpcRequest", kind="jsonrpc"),
    "a2a_card": Op("An assistant's A2A agent card", "A2A", answer="AgentCard"),
    "a2a_well_known_card": Op("An assistant's A2A agent card (`?assistant_id=`)", "A2A", answer="AgentCard", query=(("assistant_id", "string", "The assistant"),)),
}

# Served in front of Quart (server.py hands them to their own ASGI apps).
OUTSIDE_QUART: dict[str, dict[str, Op]] = {
    MCP_PATH: {
        "post": Op("MCP over streamable HTTP: each assistant is a tool", "MCP", body="JsonRpcRequest", kind="jsonrpc"),
        "get": Op("MCP: no server-initiated stream (405)", "MCP", kind="empty", status=405),
        "delete": Op("MCP: no sessions to end (405)", "MCP", kind="empty", status=405),
    },
}
assert set(OUTSIDE_QUART[MCP_PATH]) == {m.lower() for m in MCP_METHODS}

_PARAM = re.compile(r"<(?:[a-z]+:)?([A-Za-z_][A-Za-z0-9_]*)>")


def openapi_path(rule: str) -> str:
    """A Quart rule as an OpenAPI path: `<thread_id>` becomes `{thread_id}`."""
    return _PARAM.sub(r"{\1}", rule)


def served_operations(app: Quart) -> list[tuple[str, str, str, bool]]:
    """(OpenAPI path, method, endpoint, websocket) of every route the app serves."""
    out: list[tuple[str, str, str, bool]] = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint in IGNORED_ENDPOINTS:
            continue
        methods = ["get"] if rule.websocket else sorted(m.lower() for m in (rule.methods or set()) - {"HEAD", "OPTIONS"})
        out.extend((openapi_path(rule.rule), method, rule.endpoint, bool(rule.websocket)) for method in methods)
    return out


def build_document(app: Quart, server_url: str) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    used: set[str] = set()
    for path, method, endpoint, websocket in served_operations(app):
        op = OPERATIONS.get(endpoint) or _fallback(endpoint, path, websocket)
        operation_id = endpoint if endpoint not in used else f"{endpoint}_{method}_{len(used)}"
        used.add(operation_id)
        if method in paths.get(path, {}):  # an HTTP route and a WebSocket on one path: the socket is described on it
            paths[path][method]["description"] = (paths[path][method].get("description") or "") + " Also a WebSocket endpoint (upgrade with GET)."
            continue
        paths.setdefault(path, {})[method] = _operation(op, operation_id, path)
    for path, ops in OUTSIDE_QUART.items():
        for method, op in ops.items():
            paths.setdefault(path, {})[method] = _operation(op, f"mcp_{method}", path)
    tags = sorted({op["tags"][0] for ops in paths.values() for op in ops.values()})
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "trioserver",
            "version": __version__,
            "description": "The LangGraph Agent Server HTTP API, served by trioserver: assistants, threads, runs and their streams, crons, the store, MCP and A2A.",
        },
        "servers": [{"url": server_url}],
        "tags": [{"name": tag} for tag in tags],
        "paths": dict(sorted(paths.items())),
        "components": {"schemas": SCHEMAS},
    }


def _fallback(endpoint: str, path: str, websocket: bool) -> Op:
    """An endpoint nobody described yet: named after its handler, tagged by its path."""
    tag = "Event Protocol v2" if "/stream/events" in path or "/commands" in path else path.strip("/").split("/")[0].title() or "System"
    return Op(endpoint.replace("_", " ").capitalize(), tag, kind="ws" if websocket else "json")


def _operation(op: Op, operation_id: str, path: str) -> dict[str, Any]:
    params: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}, "description": _describe_param(name)}
        for name in re.findall(r"{([^}]+)}", path)
    ]
    params += [{"name": name, "in": "query", "required": False, "schema": {"type": kind}, "description": text} for name, kind, text in op.query]
    operation: dict[str, Any] = {"operationId": operation_id, "summary": op.summary, "tags": [op.tag], "responses": _responses(op)}
    if op.description:
        operation["description"] = op.description
    if params:
        operation["parameters"] = params
    if op.body:
        operation["requestBody"] = {"required": True, "content": {"application/json": {"schema": ref(op.body)}}}
    return operation


def _describe_param(name: str) -> str:
    if name == "assistant_id":
        return "An assistant UUID, or a graph id (its default assistant)."
    if name.endswith("_id"):
        return f"The {name[:-3].replace('_', ' ')}'s id (a UUID)."
    return name.replace("_", " ")


def _responses(op: Op) -> dict[str, Any]:
    error = {"content": {"application/json": {"schema": ref("ErrorResponse")}}}
    out: dict[str, Any] = {}
    if op.kind == "json":
        schema: dict[str, Any] = {"type": "integer"} if op.answer == "count" else ref(op.answer) if op.answer else {}
        if op.many:
            schema = {"type": "array", "items": schema}
        out[str(op.status)] = {"description": "Success", "content": {"application/json": {"schema": schema}}}
    elif op.kind == "sse":
        out["200"] = {"description": "Server-sent events; every event has an `id` to resume after.", "content": {"text/event-stream": {"schema": {"type": "string"}}}}
    elif op.kind == "wait":
        out["200"] = {"description": "The run's result, once it has ended.", "content": {"application/json": {"schema": ref("RunResult")}}}
    elif op.kind == "jsonrpc":
        out["200"] = {
            "description": "A JSON-RPC response (errors too), or server-sent events for streaming methods.",
            "content": {"application/json": {"schema": ref("JsonRpcResponse")}, "text/event-stream": {"schema": {"type": "string"}}},
        }
        out["202"] = {"description": "A notification or a response was accepted."}
    elif op.kind == "text":
        out["200"] = {"description": "Prometheus text exposition (JSON with `format=json`).", "content": {"text/plain": {"schema": {"type": "string"}}, "application/json": {"schema": ref("MetricsJson")}}}
    elif op.kind == "html":
        out["200"] = {"description": "An HTML page.", "content": {"text/html": {"schema": {"type": "string"}}}}
    elif op.kind == "asset":
        out["200"] = {"description": "A file.", "content": {"application/javascript": {"schema": {"type": "string"}}, "text/css": {"schema": {"type": "string"}}}}
    elif op.kind == "ws":
        out["101"] = {"description": "Switching protocols: a WebSocket."}
    else:  # empty
        out[str(op.status)] = {"description": "No content." if op.status < 400 else "Not allowed."}
    if op.status < 400:
        out["404"] = {"description": "Not found", **error}
        out["422"] = {"description": "Invalid request", **error}
    return out


def register(app: Quart, svc: Services) -> None:
    documents: dict[str, dict[str, Any]] = {}  # per base URL: the routes do not change once serving

    @app.get("/openapi.json")
    async def openapi_json() -> Response:
        base = request.host_url.rstrip("/")
        document = documents.get(base)
        if document is None:
            if len(documents) > 16:  # the Host header is the client's: keep a few, not one per value
                documents.clear()
            # The configured auth's schemes: the API key, and langgraph.json's `auth.openapi`.
            document = documents[base] = apply_security(build_document(app, base), svc.settings.api_keys, svc.auth.openapi)
        return json_response(document)
