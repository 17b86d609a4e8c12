"""Custom auth at the HTTP layer: the event each endpoint raises, and what a filter hides.

Handlers call these where the reference authorizes (docs/auth.md lists every endpoint's
event and value). A filter never widens what a request may see: an object it hides is
"not found" (or, for a create over an existing id, "already exists"), and searches and
counts leave it out. Without custom auth each helper costs one attribute check.

`stream_denial` renders a refused thread or run stream as the reference does: a 200
with one `event: error` (the SDKs expect that shape, not an HTTP error).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from quart import Response

from .. import jsonenc
from ..auth import ALL, AuthDenied, Filter
from ..errors import NotFound
from ..services import Services
from ..storage.records import Assistant, Run, Thread
from ..streaming.sse import frame
from .common import get_run_or_404, get_thread_or_404, require_uuid, sse_response


def uid(value: str | None) -> uuid.UUID | None:
    """An id as the reference hands it to handlers: a UUID object."""
    return uuid.UUID(value) if value else None


async def authorize(svc: Services, resource: str, action: str, value: dict[str, Any]) -> Filter:
    """`svc.auth.authorize`, skipped at no cost when custom auth is off."""
    if not svc.auth.enabled:
        return ALL
    return await svc.auth.authorize(resource, action, value)


async def thread_for(svc: Services, thread_id: str, action: str = "read", value: dict[str, Any] | None = None) -> Thread:
    """The thread, when the caller may `action` it: a hidden thread is not found."""
    thread_id = require_uuid(thread_id, "thread_id")
    if not svc.auth.enabled:
        return get_thread_or_404(svc.tables, thread_id)
    allowed = await svc.auth.authorize("threads", action, value if value is not None else {"thread_id": uuid.UUID(thread_id)})
    thread = get_thread_or_404(svc.tables, thread_id)
    if not allowed.allows(thread.metadata):
        raise NotFound(f"Thread with ID {thread_id} not found")
    return thread


async def run_for(svc: Services, thread_id: str, run_id: str, action: str = "read", value: dict[str, Any] | None = None) -> Run:
    """The run, when the caller may `action` its thread (runs have no filter of their own)."""
    if not svc.auth.enabled:
        return get_run_or_404(svc.tables, thread_id, run_id)
    thread_id = require_uuid(thread_id, "thread_id")
    allowed = await svc.auth.authorize("threads", action, value if value is not None else {"thread_id": uuid.UUID(thread_id)})
    run = get_run_or_404(svc.tables, thread_id, run_id)
    if not thread_allows(svc, allowed, run.thread_id):
        raise NotFound("Run not found")
    return run


def thread_allows(svc: Services, allowed: Filter, thread_id: str) -> bool:
    """Whether the stored thread exists and passes `allowed` (runs and crons go by their thread)."""
    if allowed.empty:
        return True
    thread = svc.tables.get_thread(thread_id)
    return thread is not None and allowed.allows(thread.metadata)


async def assistant_for(svc: Services, assistant_id: str, action: str = "read", value: dict[str, Any] | None = None) -> Assistant:
    """The assistant (by graph id or UUID), when the caller may `action` it."""
    assistant = svc.assistants.get(assistant_id)
    if svc.auth.enabled:
        allowed = await svc.auth.authorize("assistants", action, value if value is not None else {"assistant_id": uuid.UUID(assistant.assistant_id)})
        if not allowed.allows(assistant.metadata):
            raise NotFound(f"Assistant {assistant_id} not found")
    return assistant


def only_allowed(items: Iterable[Any], allowed: Filter) -> list[Any]:
    """The items (with `metadata`) a search filter keeps."""
    if allowed.empty:
        return list(items)
    return [item for item in items if allowed.allows(item.metadata)]


async def thread_refusal(svc: Services, thread_id: str) -> tuple[int, str] | None:
    """The `threads:read` check of a stream or protocol command on a thread: None to go
    on, or the refusal's status and detail. A thread hidden by the filter, and a missing
    one when a filter applies, look the same (so nobody learns which ids exist, and nobody
    watches an id before its owner creates it)."""
    if not svc.auth.enabled:
        return None
    try:
        allowed = await svc.auth.authorize("threads", "read", {"thread_id": uuid.UUID(thread_id)})
    except AuthDenied as exc:
        return exc.status, exc.detail
    if allowed.empty:
        return None
    thread = svc.tables.get_thread(thread_id)
    if thread is None or not allowed.allows(thread.metadata):
        return 404, "Thread not found"
    return None


async def stream_check(svc: Services, thread_id: str) -> Response | None:
    """`thread_refusal` for a thread or run stream: None to go on, or the reference's
    one-event error stream."""
    refusal = await thread_refusal(svc, thread_id)
    return None if refusal is None else stream_denial(*refusal)


def stream_denial(status: int, detail: str) -> Response:
    body = frame("error", jsonenc.dumps({"error": "HTTPException", "message": f"{status}: {detail}"}))

    async def once() -> Any:
        yield body

    return sse_response(once())
