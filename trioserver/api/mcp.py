"""`/mcp`: the Model Context Protocol over streamable HTTP, as the reference serves it:
every assistant is a tool; calling one runs it (a stateless run) and answers its final
values.

The protocol is the official `mcp` package's, in stateless mode (no sessions, as the
reference). It is an ASGI app of its own, so server.py hands `/mcp` to this endpoint in
front of Quart (`McpEndpoint`), and the package's session managers run in the server's
nursery. They start on the first `/mcp` request: importing the package takes about a
second, which a server that never sees an MCP client should not pay at start-up.

Beyond the reference: a client that accepts `text/event-stream` gets the answer as a
stream, with a `notifications/progress` for every step of the run when it asked for
progress (a `progressToken`); one that accepts only `application/json` gets one JSON
answer, as from the reference.

Auth: these requests bypass Quart's before-request gate, so `McpEndpoint.gate` applies
the same checks (`auth_gate`), and the tools a caller lists and calls are the assistants
its `assistants:search` filter shows (runs are checked as every run is, in `Runs.create`).
"""

from __future__ import annotations

import contextvars
import importlib
import logging
import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, cast

import orjson
import trio

from .. import __version__
from ..errors import ServerError
from ..protocols.outcome import run_outcome
from ..runtime.assistants import with_assistant_graph
from ..runtime.runs import RunRequest
from ..runtime.schemas import graph_schemas
from ..services import Services
from ..storage.records import Assistant, LogEvent

log = logging.getLogger(__name__)

MCP_PATH = "/mcp"
MCP_METHODS = ("POST", "GET", "DELETE")
PAGE = 100  # tools per tools/list page, as the reference
INVALID_PARAMS = -32602

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
AsgiApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def open_gate(app: AsgiApp) -> AsgiApp:
    return app


class McpEndpoint:
    """The ASGI app server.py serves `/mcp` with."""

    def __init__(self, svc: Services, nursery: trio.Nursery) -> None:
        self.svc = svc
        self.nursery = nursery
        # Wraps every /mcp request: the server's API key and custom auth, as Quart's gate.
        self.gate: Callable[[AsgiApp], AsgiApp] = auth_gate(svc)
        self._managers: tuple[Any, Any] | None = None
        self._starting = trio.Lock()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.gate(self._serve)(scope, receive, send)

    async def _serve(self, scope: Scope, receive: Receive, send: Send) -> None:
        send = _with_cors(scope, send)
        if scope["method"] != "POST":  # stateless: no stream to open with GET, no session to DELETE
            await _answer(send, 405, {"detail": "Method Not Allowed"}, [(b"allow", b"POST")])
            return
        accept = _header(scope, b"accept")
        wants_sse = "text/event-stream" in accept
        if not wants_sse and "application/json" not in accept:
            await _answer(send, 400, {"error": "Accept header must include application/json or text/event-stream"})
            return
        json_manager, sse_manager = await self._started()
        if wants_sse:  # the package's SSE mode wants both types named; the reference accepts either
            scope = {**scope, "headers": [(k, v) for k, v in scope["headers"] if k != b"accept"] + [(b"accept", b"application/json, text/event-stream")]}
            await sse_manager.handle_request(scope, receive, send)
        else:
            await json_manager.handle_request(scope, receive, send)

    async def _started(self) -> tuple[Any, Any]:
        async with self._starting:
            if self._managers is None:
                ready = trio.Event()
                # An empty context: the managers outlive the request that started them.
                contextvars.Context().run(self.nursery.start_soon, self._run_managers, ready)
                await ready.wait()
            assert self._managers is not None
            return self._managers

    async def _run_managers(self, ready: trio.Event) -> None:
        # The package logs every stateless request at INFO ("Terminating session: None").
        if not logging.getLogger().isEnabledFor(logging.DEBUG):
            logging.getLogger("mcp").setLevel(logging.WARNING)
        try:
            await trio.to_thread.run_sync(importlib.import_module, "mcp.server.streamable_http_manager")
            from mcp.server.streamable_http_manager import StreamableHTTPSessionManager

            server = build_server(self.svc)
            json_manager = StreamableHTTPSessionManager(app=server, stateless=True, json_response=True)
            sse_manager = StreamableHTTPSessionManager(app=server, stateless=True, json_response=False)
            async with json_manager.run(), sse_manager.run():
                self._managers = (json_manager, sse_manager)
                ready.set()
                await trio.sleep_forever()
        finally:
            self._managers = None
            ready.set()


def build_server(svc: Services) -> Any:
    """The MCP server: `tools/list` and `tools/call` over the server's assistants."""
    import mcp_types as types
    from mcp.server.lowlevel import Server
    from mcp.shared.exceptions import MCPError

    async def list_tools(ctx: Any, params: Any) -> Any:
        try:
            cursor = int(params.cursor) if params is not None and params.cursor else 0
        except ValueError:
            cursor = 0
        page = (await visible(svc))[cursor : cursor + PAGE]
        seen: set[str] = set()
        tools = []
        for assistant in page:
            name = tool_name(assistant.name)
            if not name or name in seen:  # the first of equal names wins, as the reference
                continue
            seen.add(name)
            schema = await input_schema(svc, assistant)
            if schema is None:  # no renderable input schema: not offered (as the reference)
                continue
            tools.append(
                types.Tool(
                    name=name,
                    title=assistant.name,
                    description=assistant.description or f"Tool based on the {assistant.name} assistant",
                    input_schema=schema,
                    annotations=types.ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=False, open_world_hint=True),
                )
            )
        return types.ListToolsResult(tools=tools, next_cursor=str(cursor + PAGE) if len(page) == PAGE else None)

    async def call_tool(ctx: Any, params: Any) -> Any:
        matches = [a for a in await visible(svc) if tool_name(a.name) == params.name] if params.name else []
        if not matches:
            raise MCPError(INVALID_PARAMS, f"Unknown tool: {params.name}")
        if len(matches) > 1:
            raise MCPError(INVALID_PARAMS, "Multiple tools found with the same name.")
        body: dict[str, Any] = {"assistant_id": matches[0].assistant_id, "input": params.arguments or {}, "stream_mode": ["updates", "values"]}
        context = (ctx.params or {}).get("context")  # the reference's extension: the run's context
        if context:
            body["context"] = context
        try:
            run = await svc.runs.create(None, RunRequest.parse(body))
        except ServerError as exc:
            raise MCPError(INVALID_PARAMS, str(exc.detail)) from None
        steps = 0

        async def progress(event: LogEvent) -> None:
            nonlocal steps
            if event.event == "updates":
                steps += 1
                nodes = ", ".join(orjson.loads(event.data)) if event.data.startswith(b"{") else "update"
                await ctx.session.report_progress(steps, None, nodes)

        outcome = await run_outcome(svc.classic, run, progress, cancel_if_abandoned=True)
        if outcome.error is not None:
            return types.CallToolResult(is_error=True, content=[types.TextContent(type="text", text=str(outcome.error.get("error")))])
        # As the reference: the final values as Python shows them.
        return types.CallToolResult(content=[types.TextContent(type="text", text=repr(outcome.values))])

    return Server("LangGraph", version=__version__, on_list_tools=list_tools, on_call_tool=call_tool)


async def visible(svc: Services) -> list[Assistant]:
    """The assistants the caller may see (custom auth's `assistants:search`), newest first."""
    found = sorted(svc.tables.all_assistants(), key=lambda a: (a.created_at, a.assistant_id), reverse=True)
    if not svc.auth.enabled:
        return found
    allowed = await svc.auth.authorize("assistants", "search", {"graph_id": None, "metadata": {}, "limit": PAGE, "offset": 0})
    return [a for a in found if allowed.allows(a.metadata)]


def auth_gate(svc: Services) -> Callable[[AsgiApp], AsgiApp]:
    """What Quart's before-request gate (auth/gate.py) does, for requests that bypass Quart:
    the API key, then custom auth's authenticate, whose principal the request (and the
    tool calls it starts) then acts for. Nothing at all when neither is configured."""
    from ..auth.apikey import DETAIL
    from ..auth.authorize import AuthDenied
    from ..auth.context import current

    keys, auth = svc.settings.api_keys, svc.auth
    if keys is None and not auth.enabled:
        return open_gate

    def wrap(app: AsgiApp) -> AsgiApp:
        async def gated(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["method"] == "OPTIONS":
                await app(scope, receive, send)
                return
            conn = _Request(scope)
            try:
                if keys is not None and not keys.check(cast(Any, conn.headers)):
                    raise AuthDenied(401, DETAIL)
                principal = await auth.authenticate(conn) if auth.enabled else None
            except AuthDenied as exc:
                headers = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in exc.headers.items()]
                await _answer(send, exc.status, {"detail": exc.detail}, [*headers, (b"connection", b"close")])
                return
            token = current.set(principal)
            try:
                await app(scope, receive, send)
            finally:
                current.reset(token)

        return gated

    return wrap


class _Request:
    """The parts of a request that authentication reads, from an ASGI scope (as Quart's
    request offers them)."""

    def __init__(self, scope: Scope) -> None:
        from urllib.parse import parse_qsl

        from werkzeug.datastructures import Headers, MultiDict

        self.scope = scope
        self.method = scope["method"]
        self.path = scope["path"]
        self.headers = Headers([(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope.get("headers", [])])
        self.args = MultiDict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
        self.view_args: dict[str, Any] = {}


_INVALID = re.compile(r"[^A-Za-z0-9_.\-]")


def tool_name(name: str) -> str:
    """An assistant's name as an MCP tool name (`^[A-Za-z0-9_.-]{1,128}$`): whitespace runs
    become `_`, other characters are dropped."""
    return _INVALID.sub("", re.sub(r"\s+", "_", name.strip()))[:128]


async def input_schema(svc: Services, assistant: Assistant) -> dict[str, Any] | None:
    """The assistant's input schema as a tool's `inputSchema` (None when the graph cannot
    render one): an object, with LangChain message lists offered as one message string."""
    try:
        schema = (await with_assistant_graph(svc.bridge, svc.graphs, assistant, graph_schemas))["input_schema"]
    except Exception as exc:  # noqa: BLE001 - a graph that cannot be built is not offered
        log.warning("MCP: assistant %s is not offered as a tool: %s: %s", assistant.assistant_id, type(exc).__name__, exc)
        return None
    if schema is None:
        return None
    simplify_messages(schema)
    schema.setdefault("type", "object")
    return schema


MESSAGE_TYPES = frozenset(
    f"{kind}Message{chunk}" for kind in ("AI", "Human", "Chat", "System", "Function", "Tool") for chunk in ("", "Chunk")
)
MESSAGE_PARTS = frozenset({"ToolCall", "ToolCallChunk", "InvalidToolCall", "UsageMetadata", "InputTokenDetails", "OutputTokenDetails"})


def simplify_messages(schema: dict[str, Any]) -> None:
    """A list of LangChain messages becomes one string (the user's message, which the
    graph's message reducer turns into a human message), and their definitions go: a
    tool's caller is a model, and a model writes a message, not a message object."""
    defs = schema.get("$defs") or {}
    if not MESSAGE_TYPES & set(defs):
        return
    for name in MESSAGE_TYPES | MESSAGE_PARTS:
        defs.pop(name, None)
    if not defs:
        schema.pop("$defs", None)
    for key, prop in list((schema.get("properties") or {}).items()):
        if _is_message_list(prop):
            schema["properties"][key] = {"type": "string", "title": prop.get("title", key), "description": "The user message to send to the agent."}


def _is_message_list(prop: Any) -> bool:
    if not isinstance(prop, dict) or prop.get("type") != "array":
        return False
    items = prop.get("items") or {}
    options = items.get("oneOf") or items.get("anyOf") or []
    return any(str(o.get("$ref", "")).removeprefix("#/$defs/") in MESSAGE_TYPES for o in options if isinstance(o, dict))


# -- plain ASGI answers ---------------------------------------------------------------------


def _header(scope: Scope, name: bytes) -> str:
    return ", ".join(v.decode("latin-1") for k, v in scope.get("headers", []) if k == name)


def _with_cors(scope: Scope, send: Send) -> Send:
    """As Quart's answers (app.py): any origin may call, so a browser MCP client works."""
    if not _header(scope, b"origin"):
        return send

    async def cors_send(message: MutableMapping[str, Any]) -> None:
        if message["type"] == "http.response.start":
            message = {**message, "headers": [*message.get("headers", []), (b"access-control-allow-origin", b"*"), (b"vary", b"Origin")]}
        await send(message)

    return cors_send


async def _answer(send: Send, status: int, body: Any, headers: list[tuple[bytes, bytes]] | None = None) -> None:
    raw = orjson.dumps(body)
    start = [(b"content-type", b"application/json"), (b"content-length", str(len(raw)).encode()), *(headers or [])]
    await send({"type": "http.response.start", "status": status, "headers": start})
    await send({"type": "http.response.body", "body": raw})
