"""What every handler shares: JSON in and out, validation, resource rendering, SSE responses."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import attrs
import orjson
from quart import Response, request

from .. import ids, jsonenc
from ..errors import Invalid, NotFound
from ..storage.records import Assistant, AssistantVersion, Run, Thread, converter
from ..storage.tables import Tables
from ..validate import field, require_uuid, show

__all__ = ["field", "require_uuid", "show"]


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(jsonenc.dumps(body), status=status, content_type="application/json", headers=headers)


def empty_response(status: int = 204) -> Response:
    """A bodiless answer (202, 204) with no Content-Type, as the reference sends them
    (Quart would call an empty body `text/html`)."""
    response = Response(b"", status=status)
    del response.headers["Content-Type"]
    if status == 204:  # a 204 carries no Content-Length either (RFC 9110)
        del response.headers["Content-Length"]
    return response


async def body_json(*, default: Any = attrs.NOTHING) -> Any:
    """The request body as JSON, whatever its Content-Type (curl's default is a form type).

    An empty body is `default` (or a 422); malformed JSON is a 422, as the reference answers."""
    raw = await request.get_data(cache=False)
    if not raw or not raw.strip():
        if default is attrs.NOTHING:
            raise Invalid("Invalid JSON in request body")
        return default
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise Invalid("Invalid JSON in request body") from None


async def body_object(*, default: Any = attrs.NOTHING) -> dict[str, Any]:
    body = await body_json(default=default)
    if body is None and default is not attrs.NOTHING:
        return default
    if not isinstance(body, dict):
        raise Invalid(f'{orjson.dumps(body).decode()} is not of type "object"')
    return body


def limit_offset(body: dict[str, Any], default_limit: int = 10) -> tuple[int, int]:
    """`limit` (1 to 1000, as the reference) and `offset` (0 or more) of a search body."""
    limit = field(body, "limit", int, default_limit)
    offset = field(body, "offset", int, 0)
    if limit < 1:
        raise Invalid(f'{limit} is less than the minimum of 1\n\nOn instance["limit"]')
    if limit > 1000:
        raise Invalid(f'{limit} is greater than the maximum of 1000\n\nOn instance["limit"]')
    if offset < 0:
        raise Invalid(f'{offset} is less than the minimum of 0\n\nOn instance["offset"]')
    return limit, offset


def query_bool(name: str, default: bool = False) -> bool:
    value = request.args.get(name)
    if value is None:
        return default
    return value.lower() in ("1", "true", "yes", "on")


def query_int(name: str, default: int) -> int:
    value = request.args.get(name)
    if value is None:
        return default
    try:
        return int(value)
    except ValueError:
        raise Invalid(f"{name}: expected an integer") from None


def query_list(*names: str) -> list[str]:
    """All values of the query parameters `names` (repeated or comma-separated)."""
    out: list[str] = []
    for name in names:
        for value in request.args.getlist(name):
            out.extend(v for v in value.split(",") if v)
    return out


def paginated(items: list[Any], limit: int, offset: int, render: Callable[[Any], dict[str, Any]], select: list[str] | None = None) -> Response:
    """A page of `items` with the reference's pagination headers: `X-Pagination-Total` is
    offset + page size + 1 when more exist (so clients know to ask again), and
    `X-Pagination-Next` the next offset, only when more exist. With `select`, each
    rendered item keeps only those fields."""
    page = items[offset : offset + limit]
    more = len(items) > offset + limit
    headers = {"X-Pagination-Total": str(offset + len(page) + (1 if more else 0))}
    if more:
        headers["X-Pagination-Next"] = str(offset + limit)
    rendered = [render(item) for item in page]
    if select:
        rendered = [{k: v for k, v in data.items() if k in select} for data in rendered]
    return json_response(rendered, headers=headers)


# -- resources as the API shows them ---------------------------------------------------


def thread_json(thread: Thread) -> dict[str, Any]:
    """A thread in the reference's shape: `error` and `interrupts` appear once a run has
    left something on it (values, an error, interrupts), not before."""
    data = {
        "thread_id": thread.thread_id,
        "created_at": thread.created_at,
        "updated_at": thread.updated_at,
        "state_updated_at": thread.updated_at,
        "metadata": thread.metadata,
        "status": thread.status,
        "config": thread.config,
        "values": thread.values,
    }
    if thread.values is not None or thread.error is not None or thread.interrupts:
        data["error"] = thread.error
        data["interrupts"] = thread.interrupts
    return data


def run_json(run: Run) -> dict[str, Any]:
    return run.public()


def assistant_json(assistant: Assistant) -> dict[str, Any]:
    return converter.unstructure(assistant)


def version_json(version: AssistantVersion) -> dict[str, Any]:
    """An assistant version, with the reference's keys in its order."""
    keys = ("assistant_id", "version", "graph_id", "config", "context", "metadata", "created_at", "name", "description")
    return {k: getattr(version, k) for k in keys}


def get_thread_or_404(tables: Tables, thread_id: str) -> Thread:
    thread_id = require_uuid(thread_id, "thread_id")
    thread = tables.get_thread(thread_id)
    if thread is None or thread.temporary:
        raise NotFound(f"Thread with ID {thread_id} not found")
    return thread


def get_run_or_404(tables: Tables, thread_id: str, run_id: str) -> Run:
    thread_id = require_uuid(thread_id, "thread_id")
    run_id = require_uuid(run_id, "run_id")
    run = tables.get_run(run_id)
    if run is None or run.thread_id != thread_id:
        raise NotFound("Run not found")
    return run


# -- server-sent events ------------------------------------------------------------------

SSE_HEADERS = {
    "Cache-Control": "no-store",
    "X-Accel-Buffering": "no",
    "Connection": "keep-alive",
}


def sse_response(body: AsyncIterator[bytes], headers: dict[str, str] | None = None) -> Response:
    response = Response(body, status=200, content_type="text/event-stream; charset=utf-8", headers={**SSE_HEADERS, **(headers or {})})
    response.timeout = None  # Quart would cut the stream at 60 s
    return response


def last_event_id() -> ids.EventId | None:
    """The `Last-Event-ID` header: None when absent; ZERO for `-` or `-1` (replay all).

    Accepts the Redis stream id shapes the reference accepts: `-`, `<ms>`, `<ms>-<seq>`,
    `<ms>-*` (the last two mean "after everything in that millisecond")."""
    value = request.headers.get("Last-Event-ID")
    if value is None or value.strip() == "":
        return None
    value = value.strip()
    if value in ("-", "-1"):
        return ids.EventId.ZERO
    try:
        if value.endswith("-*"):
            return ids.EventId(ids.EventId.parse(value[:-2]).ms, 0xFFFFFFFF)
        return ids.EventId.parse(value)
    except ValueError:
        raise Invalid("Invalid last-event-id: must be a valid Redis stream ID") from None
