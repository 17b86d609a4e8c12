"""Crons: create (stateless or on a thread), search, count, get, patch, delete.

The scheduler that fires them is `runtime.crons.run_scheduler`."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from quart import Quart, Response

from .. import ids
from ..auth import ALL, Filter, current_principal
from ..errors import BadRequest, Invalid, NotFound
from ..runtime.crons import (
    Cron,
    next_run,
    parse_time,
    validate_schedule,
    validate_timezone,
)
from ..runtime.runs import MULTITASK, check_node_list, parse_stream_mode
from ..services import Services
from .access import thread_allows, uid
from .common import body_object, empty_response, field, json_response, limit_offset, paginated

SORT_FIELDS = ("cron_id", "assistant_id", "thread_id", "next_run_date", "end_time", "created_at", "updated_at")
SELECT_FIELDS = (
    "cron_id", "assistant_id", "thread_id", "on_run_completed", "end_time", "schedule", "timezone",
    "created_at", "updated_at", "user_id", "payload", "next_run_date", "metadata", "enabled",
)


def cron_json(cron: Cron) -> dict[str, Any]:
    """A cron as the API shows it (the reference's field order)."""
    return {
        "cron_id": cron.cron_id,
        "assistant_id": cron.assistant_id,
        "thread_id": cron.thread_id,
        "user_id": cron.user_id or "",  # as the reference: "" without auth
        "end_time": cron.end_time,
        "schedule": cron.schedule,
        "timezone": cron.timezone,
        "payload": cron.payload,
        "next_run_date": cron.next_run_date,
        "metadata": cron.metadata,
        "on_run_completed": cron.on_run_completed,
        "enabled": cron.enabled,
        "created_at": cron.created_at,
        "updated_at": cron.updated_at,
    }


def _uuid(value: Any, detail: str) -> str:
    parsed = ids.parse_uuid(value) if isinstance(value, str) else None
    if parsed is None:
        raise Invalid(detail)
    return str(parsed)


def _end_time(body: dict[str, Any]) -> str | None:
    value = field(body, "end_time", str)
    if value is None:
        return None
    try:
        return parse_time(value).isoformat()
    except ValueError:
        raise Invalid(f"'{value}' is not a 'date-time'\n\nOn instance[\"end_time\"]") from None


def _check_payload(body: dict[str, Any]) -> None:
    """The run fields of a cron body, checked as the reference's schema does."""
    for name in ("metadata", "config", "context"):
        field(body, name, dict)
    field(body, "input", (dict, list))
    field(body, "webhook", str)
    field(body, "stream_subgraphs", bool)
    field(body, "stream_resumable", bool)
    field(body, "enabled", bool)
    field(body, "durability", str, choices=("sync", "async", "exit"))
    field(body, "multitask_strategy", str, choices=MULTITASK)
    if body.get("stream_mode") is not None:
        parse_stream_mode(body["stream_mode"])
    check_node_list(body, "interrupt_before")
    check_node_list(body, "interrupt_after")


async def _create(svc: Services, thread_id: str | None, body: dict[str, Any]) -> Response:
    schedule = body.get("schedule")
    if schedule is None:
        raise Invalid("'schedule' is a required property")
    field(body, "schedule", str)
    if body.get("assistant_id") is None:
        raise Invalid("'assistant_id' is a required property")
    _check_payload(body)
    on_run_completed = field(body, "on_run_completed", str, "delete", choices=("delete", "keep"))
    end_time = _end_time(body)
    timezone = validate_timezone(body.get("timezone"))
    validate_schedule(schedule)
    assistant_id = _resolve_assistant(svc, body.get("assistant_id"))
    if thread_id is not None:
        thread = svc.tables.get_thread(thread_id)
        if thread is None or thread.temporary:
            raise NotFound(
                f"Thread with ID '{thread_id}' not found. Please verify the ID is correct and the thread hasn't been deleted or expired."
            )

    cron_id = ids.new_id()
    payload = dict(body)
    metadata = dict(body.get("metadata") or {})
    user_id = creator = None
    if svc.auth.enabled:
        metadata, user_id = await _authorize_create(svc, cron_id, thread_id, assistant_id, schedule, end_time, payload, metadata)
        principal = current_principal()
        creator = principal.run_auth() if principal is not None else None
    payload["assistant_id"] = assistant_id
    config = dict(payload.get("config") or {})
    config["configurable"] = {**(config.get("configurable") or {}), "cron_id": cron_id}
    payload["config"] = config
    now = ids.now()
    cron = Cron(
        cron_id=cron_id,
        assistant_id=assistant_id,
        thread_id=thread_id,
        schedule=schedule,
        payload=payload,
        created_at=now.isoformat(),
        updated_at=now.isoformat(),
        next_run_date=next_run(schedule, now, timezone).isoformat(),
        end_time=end_time,
        timezone=timezone,
        metadata=metadata,
        user_id=user_id,
        creator=creator,
        on_run_completed=on_run_completed if thread_id is None else None,
        enabled=field(body, "enabled", bool, True),
    )
    await svc.crons.put(cron)
    return json_response(cron_json(cron))


async def _authorize_create(
    svc: Services, cron_id: str, thread_id: str | None, assistant_id: str, schedule: str, end_time: str | None, payload: dict[str, Any], metadata: dict[str, Any]
) -> tuple[dict[str, Any], str | None]:
    """`crons:create` (the handler may stamp the cron's metadata), then `assistants:read`
    for an assistant that is not a graph's own and `threads:read` for a thread's cron:
    what they hide is not found. The cron's metadata, and its creator, whom its runs act for."""
    principal = current_principal()
    user_id = principal.identity if principal is not None else None
    value: dict[str, Any] = {"payload": payload, "schedule": schedule, "cron_id": uid(cron_id), "thread_id": uid(thread_id), "user_id": user_id, "end_time": end_time, "metadata": metadata}
    await svc.auth.authorize("crons", "create", value)
    if isinstance(value.get("metadata"), dict):
        metadata = value["metadata"]
    assistant = svc.tables.get_assistant(assistant_id)
    if assistant is not None and assistant.metadata.get("created_by") != "system":
        if not (await svc.auth.authorize("assistants", "read", {"assistant_id": uid(assistant_id)})).allows(assistant.metadata):
            raise NotFound(f"Assistant '{assistant_id}' not found")
    if thread_id is not None:
        allowed = await svc.auth.authorize("threads", "read", {"thread_id": uid(thread_id), "metadata": metadata})
        if not thread_allows(svc, allowed, thread_id):
            raise NotFound(f"Thread with ID '{thread_id}' not found. Please verify the ID is correct and the thread hasn't been deleted or expired.")
    return metadata, user_id


async def _search_scope(svc: Services, body: dict[str, Any], limit: int, offset: int) -> tuple[Filter, Filter]:
    """`crons:search`, and `threads:read` (of the asked thread) or `threads:search`, whose
    filter applies to each cron's thread (a cron without one is exempt)."""
    if not svc.auth.enabled:
        return ALL, ALL
    assistant_id, thread_id, metadata = _filters(body)
    allowed = await svc.auth.authorize("crons", "search", {"assistant_id": uid(assistant_id), "thread_id": uid(thread_id), "limit": limit, "offset": offset, "metadata": metadata or {}})
    if thread_id:
        threads = await svc.auth.authorize("threads", "read", {"thread_id": uid(thread_id)})
    else:
        threads = await svc.auth.authorize("threads", "search", {})
    return allowed, threads


async def _cron_for(svc: Services, cron_id: str, action: str, value: dict[str, Any] | None = None) -> None:
    """The `action` event of one cron: a cron its filter hides is not found."""
    if not svc.auth.enabled:
        return
    allowed = await svc.auth.authorize("crons", action, value if value is not None else {"cron_id": uid(cron_id)})
    cron = svc.crons.get(cron_id)
    if cron is not None and not allowed.allows(cron.metadata):
        raise NotFound(f"Cron '{cron_id}' not found")


def _cron_id(cron_id: str) -> str:
    return _uuid(cron_id, "Invalid cron ID: must be a UUID")


def _filters(body: dict[str, Any]) -> tuple[str | None, str | None, dict[str, Any] | None]:
    assistant_id = body.get("assistant_id")
    thread_id = body.get("thread_id")
    if assistant_id:
        assistant_id = _uuid(assistant_id, "Invalid assistant ID: must be a UUID")
    if thread_id:
        thread_id = _uuid(thread_id, "Invalid thread ID: must be a UUID")
    metadata = field(body, "metadata", dict)
    return assistant_id or None, thread_id or None, metadata


def _matching(svc: Services, body: dict[str, Any], enabled: bool | None = None, scope: tuple[Filter, Filter] = (ALL, ALL)) -> list[Cron]:
    assistant_id, thread_id, metadata = _filters(body)
    allowed, threads = scope
    return [
        c
        for c in svc.crons.all()
        if (assistant_id is None or c.assistant_id == assistant_id)
        and (thread_id is None or c.thread_id == thread_id)
        and (enabled is None or c.enabled == enabled)
        and all(key in c.metadata and c.metadata[key] == value for key, value in (metadata or {}).items())
        and allowed.allows(c.metadata)
        and (c.thread_id is None or thread_allows(svc, threads, c.thread_id))
    ]


_EPOCH = dt.datetime.min.replace(tzinfo=dt.UTC)


def _resolve_assistant(svc: Services, assistant_id: Any) -> str:
    """The assistant's UUID, for a graph id or an existing assistant's UUID (404 otherwise)."""
    if assistant_id is None:
        raise Invalid("'assistant_id' is a required property")
    field({"assistant_id": assistant_id}, "assistant_id", str)
    assistant = svc.assistants.find(assistant_id)
    if assistant is None:
        raise NotFound(f"Assistant '{assistant_id}' not found")
    return assistant.assistant_id


def _sort_key(sort_by: str) -> Callable[[Cron], Any]:
    if sort_by in ("cron_id", "assistant_id", "thread_id"):
        return lambda c: str(getattr(c, sort_by)).lower()
    return lambda c: parse_time(getattr(c, sort_by)) if getattr(c, sort_by) else _EPOCH


def register(app: Quart, svc: Services) -> None:
    @app.post("/runs/crons")
    async def create_cron() -> Response:
        return await _create(svc, None, await body_object())

    @app.post("/threads/<thread_id>/runs/crons")
    async def create_thread_cron(thread_id: str) -> Response:
        thread_id = _uuid(thread_id, "Invalid thread ID: must be a UUID")
        return await _create(svc, thread_id, await body_object())

    @app.post("/runs/crons/search")
    async def search_crons() -> Response:
        body = await body_object(default={})
        select = field(body, "select", list)
        if select:
            invalid = [col for col in select if col not in SELECT_FIELDS]
            if invalid:
                raise Invalid(f"Invalid select columns: {invalid}. Expected: {set(SELECT_FIELDS)}")
        enabled = field(body, "enabled", bool)
        limit, offset = limit_offset(body)
        sort_by = field(body, "sort_by", str, "created_at")
        if sort_by.lower() not in SORT_FIELDS:
            raise Invalid(f"Invalid sort_by field: '{sort_by}'. Valid options are: {', '.join(SORT_FIELDS)}")
        sort_order = field(body, "sort_order", str, "desc", choices=("asc", "desc"))
        crons = _matching(svc, body, enabled, await _search_scope(svc, body, limit, offset))
        crons.sort(key=_sort_key(sort_by.lower()), reverse=sort_order != "asc")
        return paginated(crons, limit, offset, cron_json, select=select)

    @app.post("/runs/crons/count")
    async def count_crons() -> Response:
        body = await body_object(default={})
        return json_response(len(_matching(svc, body, scope=await _search_scope(svc, body, 0, 0))))

    @app.get("/runs/crons/<cron_id>")
    async def get_cron(cron_id: str) -> Response:
        cron_id = _cron_id(cron_id)
        await _cron_for(svc, cron_id, "read")
        cron = svc.crons.get(cron_id)
        if cron is None:  # the reference answers a bare "Not Found": we name it (README)
            raise NotFound(f"Cron '{cron_id}' not found")
        return json_response(cron_json(cron))

    @app.patch("/runs/crons/<cron_id>")
    async def patch_cron(cron_id: str) -> Response:
        cron_id = _cron_id(cron_id)
        body = await body_object(default={})
        if not body:
            raise BadRequest("Request body cannot be empty")
        _check_payload(body)
        schedule = field(body, "schedule", str)
        if schedule is not None:
            validate_schedule(schedule)
        timezone = validate_timezone(body.get("timezone"))
        end_time = _end_time(body)
        clear_end_time = "end_time" in body and body["end_time"] is None
        enabled = field(body, "enabled", bool)
        on_run_completed = field(body, "on_run_completed", str, choices=("delete", "keep"))
        metadata = field(body, "metadata", dict)
        if svc.auth.enabled:
            value: dict[str, Any] = {"cron_id": uid(cron_id), "schedule": schedule, "end_time": end_time, "enabled": enabled, "on_run_completed": on_run_completed, "payload": body}
            if metadata is not None:
                value["metadata"] = metadata
            await _cron_for(svc, cron_id, "update", value)
            metadata = value["metadata"] if isinstance(value.get("metadata"), dict) else metadata
        now = ids.now()

        def change(cron: Cron) -> None:
            if timezone is not None:
                cron.timezone = timezone
            if schedule is not None:
                cron.schedule = schedule
            if schedule is not None or timezone is not None:
                cron.next_run_date = next_run(cron.schedule, now, cron.timezone).isoformat()
            if clear_end_time:
                cron.end_time = None
            elif end_time is not None:
                cron.end_time = end_time
            if enabled is not None:
                cron.enabled = enabled
            if on_run_completed is not None:
                cron.on_run_completed = on_run_completed
            if metadata is not None:
                cron.metadata = {**cron.metadata, **metadata}
            # The payload is shallow-merged; its assistant and cron id stay (as the reference).
            merged = {**cron.payload, **body}
            merged["assistant_id"] = cron.payload.get("assistant_id", cron.assistant_id)
            config = dict(merged.get("config") or {})
            config["configurable"] = {**(config.get("configurable") or {}), "cron_id": cron.cron_id}
            merged["config"] = config
            cron.payload = merged
            cron.updated_at = now.isoformat()

        cron = await svc.crons.update(cron_id, change)
        if cron is None:
            raise NotFound(f"Cron '{cron_id}' not found")
        return json_response(cron_json(cron))

    @app.delete("/runs/crons/<cron_id>")
    async def delete_cron(cron_id: str) -> Response:
        cron_id = _cron_id(cron_id)
        await _cron_for(svc, cron_id, "delete")
        if not await svc.crons.delete(cron_id):
            raise NotFound(f"Cron '{cron_id}' not found")
        return empty_response(204)
