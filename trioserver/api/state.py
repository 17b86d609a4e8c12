"""Thread state: read (now, at a checkpoint, history), update, copy."""

from __future__ import annotations

import uuid
from typing import Any

from quart import Quart, Response, request

from ..auth import AuthDenied
from ..errors import Conflict, Invalid
from ..services import Services
from .access import authorize, thread_for, uid
from .common import body_object, field, get_thread_or_404, json_response, query_bool, query_int, require_uuid, thread_json


def _checkpoint(body: dict[str, Any]) -> dict[str, Any] | None:
    """The `checkpoint` object of a body (or its older `checkpoint_id` spelling)."""
    checkpoint = field(body, "checkpoint", dict, None)
    checkpoint_id = field(body, "checkpoint_id", str, None)
    if checkpoint_id:
        checkpoint = {**(checkpoint or {}), "checkpoint_id": checkpoint_id}
    return checkpoint


def register(app: Quart, svc: Services) -> None:
    @app.get("/threads/<thread_id>/state")
    async def get_state(thread_id: str) -> Response:
        thread = await thread_for(svc, thread_id)
        return json_response(await svc.threads.state(thread, subgraphs=query_bool("subgraphs")))

    @app.get("/threads/<thread_id>/state/<checkpoint_id>")
    async def get_state_at(thread_id: str, checkpoint_id: str) -> Response:
        thread = await thread_for(svc, thread_id)
        checkpoint = {"checkpoint_id": require_uuid(checkpoint_id, "checkpoint_id")}
        return json_response(await svc.threads.state(thread, checkpoint, subgraphs=query_bool("subgraphs")))

    @app.post("/threads/<thread_id>/state/checkpoint")
    async def get_state_at_checkpoint(thread_id: str) -> Response:
        thread = await thread_for(svc, thread_id)
        body = await body_object()
        checkpoint = _checkpoint(body)
        subgraphs = bool(field(body, "subgraphs", bool, False))
        return json_response(await svc.threads.state(thread, checkpoint, subgraphs=subgraphs))

    @app.post("/threads/<thread_id>/state")
    async def update_state(thread_id: str) -> Response:
        if svc.auth.enabled:  # as the reference: `update`, then `read`; a thread the update filter hides is forbidden
            writable = await svc.auth.authorize("threads", "update", {"thread_id": uid(require_uuid(thread_id, "thread_id"))})
            thread = await thread_for(svc, thread_id)
            if not writable.allows(thread.metadata):
                raise AuthDenied(403, "Forbidden")
        else:
            thread = get_thread_or_404(svc.tables, thread_id)
        body = await body_object()
        values = body.get("values")
        if values is not None and not isinstance(values, (dict, list)):
            raise Invalid('"values" must be an object, an array or null')
        as_node = field(body, "as_node", str, None)
        result = await svc.threads.update_state(thread, values, as_node=as_node, checkpoint=_checkpoint(body))
        return json_response(result)

    @app.get("/threads/<thread_id>/history")
    async def history_get(thread_id: str) -> Response:
        thread = await thread_for(svc, thread_id)
        limit = query_int("limit", 1)
        before = request.args.get("before")
        before_ref = {"checkpoint_id": before} if before else None
        return json_response(await svc.threads.history(thread, limit=limit, before=before_ref, metadata=None))

    @app.post("/threads/<thread_id>/history")
    async def history_post(thread_id: str) -> Response:
        thread = await thread_for(svc, thread_id)
        body = await body_object(default={})
        limit = field(body, "limit", int, 1)
        if not 1 <= limit <= 1000:
            raise Invalid(f'{limit} is out of range 1..1000\n\nOn instance["limit"]')
        before = field(body, "before", dict, None)
        if before is not None and "configurable" in before:
            before = before["configurable"]
        metadata = field(body, "metadata", dict, None)
        checkpoint = field(body, "checkpoint", dict, None)
        states = await svc.threads.history(thread, limit=limit, before=before, metadata=metadata, checkpoint=checkpoint)
        return json_response(states)

    @app.post("/threads/<thread_id>/copy")
    async def copy_thread(thread_id: str) -> Response:
        thread_id = require_uuid(thread_id, "thread_id")
        new_id = str(uuid.uuid4())  # as the reference, a copy's id is a random UUID
        # As the reference: `read` of the source (a hidden one is a conflict), `create` of the copy (no metadata: it keeps the source's).
        readable = await authorize(svc, "threads", "read", {"thread_id": uid(thread_id)})
        await authorize(svc, "threads", "create", {"thread_id": uid(new_id)})
        thread = svc.tables.get_thread(thread_id)
        if thread is None or thread.temporary or not readable.allows(thread.metadata):
            raise Conflict("Conflict")
        return json_response(thread_json(await svc.threads.copy(thread, new_id)))
