"""Threads: create, get, update, delete, search; and the thread stream."""

from __future__ import annotations

from typing import Any

from quart import Quart, Response

from .. import ids
from ..auth import ALL, Filter
from ..errors import Conflict, Invalid, NotFound
from ..runtime.lifecycle import THREAD_STATUSES
from ..runtime.threads import NoGraph
from ..services import Services
from ..storage.records import Thread
from ..streaming.selectors import THREAD_STREAM_MODES
from .access import authorize, only_allowed, stream_check, thread_allows, thread_for, uid
from .common import (
    body_object,
    empty_response,
    field,
    get_thread_or_404,
    json_response,
    last_event_id,
    limit_offset,
    paginated,
    query_list,
    require_uuid,
    sse_response,
    thread_json,
)

SORT_KEYS = ("thread_id", "status", "created_at", "updated_at", "state_updated_at")


def _matches(value: Any, wanted: dict[str, Any]) -> bool:
    """Metadata/values filter: every key of `wanted` is present with an equal value (JSON containment)."""
    if not isinstance(value, dict):
        return False
    for key, expected in wanted.items():
        if key not in value:
            return False
        if isinstance(expected, dict):
            if not _matches(value[key], expected):
                return False
        elif value[key] != expected:
            return False
    return True


def _filtered_threads(svc: Services, body: dict[str, Any], allowed: Filter = ALL) -> list[Thread]:
    """The threads a search or count body asks for (`ids`, `metadata`, `values`, `status`),
    of those the caller's `threads:search` filter lets it see."""
    metadata = field(body, "metadata", dict, None)
    values = field(body, "values", dict, None)
    status = field(body, "status", str, None, choices=THREAD_STATUSES)
    wanted_ids = field(body, "ids", list, None)
    threads = [t for t in svc.tables.all_threads() if not t.temporary]
    if wanted_ids is not None:
        wanted = {str(ids.parse_uuid(i)) for i in wanted_ids}
        threads = [t for t in threads if t.thread_id in wanted]
    if metadata:
        threads = [t for t in threads if _matches(t.metadata, metadata)]
    if values:
        threads = [t for t in threads if _matches(t.values, values)]
    if status:
        threads = [t for t in threads if t.status == status]
    return only_allowed(threads, allowed)


async def _search_scope(svc: Services, body: dict[str, Any], limit: int, offset: int) -> Filter:
    """The `threads:search` event of a search or count; the handler may also narrow the
    query in place (its `metadata`, `values`, `status`)."""
    if not svc.auth.enabled:
        return ALL
    value = {"metadata": field(body, "metadata", dict, None) or {}, "values": field(body, "values", dict, None) or {}, "status": body.get("status"), "limit": limit, "offset": offset}
    allowed = await svc.auth.authorize("threads", "search", value)
    body.update(metadata=value.get("metadata"), values=value.get("values"), status=value.get("status"))
    return allowed


def _supersteps(body: dict[str, Any]) -> list[dict[str, Any]]:
    """The `supersteps` of a thread-create body: a list of `{"updates": [{"values"|"command", "as_node"}]}`."""
    supersteps = field(body, "supersteps", list, None) or []
    for step in supersteps:
        updates = step.get("updates") if isinstance(step, dict) else None
        if not isinstance(updates, list) or not all(isinstance(u, dict) and isinstance(u.get("as_node"), str) for u in updates):
            raise Invalid('supersteps: each must be {"updates": [{"values" or "command", "as_node": "<node>"}]}')
    return supersteps


def register(app: Quart, svc: Services) -> None:
    @app.post("/threads")
    async def create_thread() -> Response:
        body = await body_object(default={})
        metadata = field(body, "metadata", dict, {})
        if_exists = field(body, "if_exists", str, "raise", choices=("raise", "do_nothing"))
        thread_id = field(body, "thread_id", str, None)
        thread_id = require_uuid(thread_id, "thread_id") if thread_id else ids.new_id()
        if svc.auth.enabled:
            value = {"thread_id": uid(thread_id), "metadata": metadata, "if_exists": if_exists}
            allowed = await svc.auth.authorize("threads", "create", value)
            metadata = value["metadata"] if isinstance(value.get("metadata"), dict) else metadata
        else:
            allowed = ALL
        existing = svc.tables.get_thread(thread_id)
        if existing is not None and not existing.temporary:
            if not allowed.allows(existing.metadata):  # someone else's: it exists, and that is all one learns
                raise Conflict(f"Thread with ID {thread_id} already exists")
            if if_exists == "do_nothing":
                return json_response(thread_json(existing))
            raise Conflict(f"Thread {thread_id} already exists")
        supersteps = _supersteps(body)
        now = ids.now_iso()
        thread = Thread(thread_id, now, now, metadata=metadata)
        await svc.store.write(svc.tables.put_thread_op(thread))
        if supersteps:
            try:
                thread = await svc.threads.apply_supersteps(thread, supersteps) or thread
            except NoGraph as exc:
                # As the reference: the thread stays, and the answer says what went wrong.
                return json_response({"detail": f"Thread {thread_id} was created, but there were problems updating the state: {exc.detail}"}, status=201)
        return json_response(thread_json(thread))

    @app.get("/threads/<thread_id>")
    async def get_thread(thread_id: str) -> Response:
        return json_response(thread_json(await thread_for(svc, thread_id)))

    @app.patch("/threads/<thread_id>")
    async def patch_thread(thread_id: str) -> Response:
        thread = get_thread_or_404(svc.tables, thread_id)
        body = await body_object(default={})
        metadata = field(body, "metadata", dict, {})
        if svc.auth.enabled:
            value = {"thread_id": uid(thread.thread_id), "metadata": metadata}
            if not (await svc.auth.authorize("threads", "update", value)).allows(thread.metadata):
                raise NotFound(f"Thread with ID {thread.thread_id} not found")
            metadata = value["metadata"] if isinstance(value.get("metadata"), dict) else metadata

        def change(t: Thread) -> None:
            t.metadata.update(metadata)
            t.updated_at = ids.now_iso()

        updated = await svc.store.write(svc.tables.update_thread_op(thread.thread_id, change))
        if updated is None:  # deleted meanwhile
            raise NotFound(f"Thread with ID {thread.thread_id} not found")
        return json_response(thread_json(updated))

    @app.delete("/threads/<thread_id>")
    async def delete_thread(thread_id: str) -> Response:
        thread = await thread_for(svc, thread_id, "delete")
        await svc.threads.delete(thread.thread_id)
        return empty_response(204)

    @app.post("/threads/search")
    async def search_threads() -> Response:
        body = await body_object(default={})
        limit, offset = limit_offset(body)
        threads = _filtered_threads(svc, body, await _search_scope(svc, body, limit, offset))
        sort_by = field(body, "sort_by", str, "created_at", choices=SORT_KEYS)
        sort_order = field(body, "sort_order", str, "desc", choices=("asc", "desc"))
        key = "updated_at" if sort_by == "state_updated_at" else sort_by
        threads.sort(key=lambda t: (getattr(t, key), t.thread_id), reverse=sort_order == "desc")
        return paginated(threads, limit, offset, thread_json, select=field(body, "select", list, None))

    @app.post("/threads/count")
    async def count_threads() -> Response:
        body = await body_object(default={})
        return json_response(len(_filtered_threads(svc, body, await _search_scope(svc, body, 0, 0))))

    @app.post("/threads/prune")
    async def prune_threads() -> Response:
        body = await body_object()
        thread_ids = field(body, "thread_ids", list, None)
        if thread_ids is None:
            raise Invalid('"thread_ids" is a required property')
        strategy = field(body, "strategy", str, "delete", choices=("delete", "keep_latest"))
        wanted = [require_uuid(t, "thread_id") for t in thread_ids]
        allowed = await authorize(svc, "threads", "delete", {"thread_ids": [uid(t) for t in wanted]})
        if not allowed.empty and not all(thread_allows(svc, allowed, t) for t in wanted):
            raise NotFound("At least one thread not found or not authorized")
        pruned = 0
        for thread_id in wanted:
            thread = svc.tables.get_thread(thread_id)
            if thread is None or thread.temporary:
                continue
            if svc.auth.enabled and not (await svc.auth.authorize("threads", "delete", {"thread_id": uid(thread_id)})).allows(thread.metadata):
                continue  # as the reference: another's thread is skipped
            if strategy == "delete":
                await svc.threads.delete(thread_id)
            else:
                await svc.threads.prune_history(thread_id)
            pruned += 1
        return json_response({"pruned_count": pruned})

    @app.get("/threads/<thread_id>/stream")
    async def stream_thread(thread_id: str) -> Response:
        thread_id = require_uuid(thread_id, "thread_id")
        denied = await stream_check(svc, thread_id)
        if denied is not None:
            return denied
        thread = get_thread_or_404(svc.tables, thread_id)
        modes = query_list("stream_mode", "stream_modes") or ["run_modes"]
        for mode in modes:
            if mode not in THREAD_STREAM_MODES:
                raise Invalid(f"Invalid stream mode: {mode}")
        after = last_event_id()
        if after is None:
            after = svc.log.committed_id(thread.thread_id)  # live from now, as the reference
        return sse_response(svc.classic.thread_events(thread.thread_id, after, modes))
