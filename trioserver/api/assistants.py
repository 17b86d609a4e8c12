"""Assistants: one default per graph, plus user-created ones, versioned."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from quart import Quart, Response, request

from .. import ids
from ..auth import ALL, Filter
from ..errors import Conflict, Invalid, NotFound
from ..runtime.assistants import mirrored, with_assistant_graph
from ..runtime.schemas import graph_schemas
from ..services import Services
from ..storage.records import Assistant
from .access import assistant_for, authorize, only_allowed, uid
from .common import assistant_json, body_object, empty_response, field, json_response, limit_offset, paginated, require_uuid, version_json


def register(app: Quart, svc: Services) -> None:
    async def with_graph(assistant: Assistant, use: Callable[[Any], Any]) -> Any:
        return await with_assistant_graph(svc.bridge, svc.graphs, assistant, use)

    @app.post("/assistants")
    async def create_assistant() -> Response:
        body = await body_object()
        graph_id = field(body, "graph_id", str, None)
        if graph_id is None:
            raise Invalid("graph_id is required")
        if graph_id not in svc.graphs:
            raise NotFound(f"Graph '{graph_id}' not found. Expected one of: {sorted(svc.graphs)}")
        assistant_id = field(body, "assistant_id", str, None)
        assistant_id = require_uuid(assistant_id, "assistant_id") if assistant_id else ids.new_id()
        if_exists = field(body, "if_exists", str, "raise", choices=("raise", "do_nothing"))
        now = ids.now_iso()
        config, context = mirrored(field(body, "config", dict, None) or {}, field(body, "context", dict, None))
        assistant = Assistant(
            assistant_id=assistant_id,
            graph_id=graph_id,
            name=field(body, "name", str, "Untitled"),
            created_at=now,
            updated_at=now,
            config=config or {},
            context=context or {},
            metadata=field(body, "metadata", dict, {}),
            description=field(body, "description", str, None),
        )
        if svc.auth.enabled:
            await _authorize_create(assistant)
        return json_response(assistant_json(await svc.assistants.create(assistant, if_exists=if_exists)))

    async def _authorize_create(assistant: Assistant) -> None:
        """`assistants:create`: the handler may change what is created (an owner in the
        metadata, say); an existing assistant its filter hides "already exists"."""
        value: dict[str, Any] = {
            "assistant_id": uid(assistant.assistant_id), "graph_id": assistant.graph_id, "config": assistant.config,
            "context": assistant.context, "metadata": assistant.metadata, "name": assistant.name,
        }  # fmt: skip
        allowed = await svc.auth.authorize("assistants", "create", value)
        for name in ("config", "context", "metadata"):
            if isinstance(value.get(name), dict):
                setattr(assistant, name, value[name])
        if isinstance(value.get("name"), str):
            assistant.name = value["name"]
        existing = svc.tables.get_assistant(assistant.assistant_id)
        if existing is not None and not allowed.allows(existing.metadata):
            raise Conflict(f"Assistant {assistant.assistant_id} already exists")

    @app.get("/assistants/<assistant_id>")
    async def get_assistant(assistant_id: str) -> Response:
        return json_response(assistant_json(await assistant_for(svc, assistant_id)))

    @app.patch("/assistants/<assistant_id>")
    async def patch_assistant(assistant_id: str) -> Response:
        current = svc.assistants.get(assistant_id)
        body = await body_object(default={})
        graph_id = field(body, "graph_id", str, None)
        if graph_id is not None and graph_id not in svc.graphs:
            raise NotFound(f"Graph {graph_id} not found")
        config, context = mirrored(field(body, "config", dict, None), field(body, "context", dict, None))
        metadata = field(body, "metadata", dict, {})
        name = field(body, "name", str, None)
        description = field(body, "description", str, None)
        if svc.auth.enabled:
            value: dict[str, Any] = {"assistant_id": uid(current.assistant_id), "graph_id": graph_id, "config": config, "context": context, "metadata": metadata, "name": name}
            await assistant_for(svc, assistant_id, "update", value)
            metadata = value["metadata"] if isinstance(value.get("metadata"), dict) else metadata

        def change(assistant: Assistant) -> None:
            if graph_id is not None:
                assistant.graph_id = graph_id
            if config:  # as the reference: an empty config keeps the current one
                assistant.config = config
            if context is not None:
                assistant.context = context
            assistant.metadata = {**assistant.metadata, **metadata}
            if name is not None:
                assistant.name = name
            if description is not None:
                assistant.description = description

        return json_response(assistant_json(await svc.assistants.patch(current.assistant_id, change)))

    @app.delete("/assistants/<assistant_id>")
    async def delete_assistant(assistant_id: str) -> Response:
        if assistant_id not in svc.graphs:
            require_uuid(assistant_id, "assistant_id")
        assistant = svc.assistants.find(assistant_id)
        if assistant is None:
            raise NotFound(f"Assistant with ID {assistant_id} not found")
        allowed = await authorize(svc, "assistants", "delete", {"assistant_id": uid(assistant.assistant_id)})
        if not allowed.allows(assistant.metadata):
            raise NotFound(f"Assistant with ID {assistant_id} not found")
        await svc.assistants.delete(assistant.assistant_id)
        return empty_response(204)

    @app.post("/assistants/search")
    async def search_assistants() -> Response:
        body = await body_object(default={})
        graph_id = field(body, "graph_id", str, None)
        metadata = field(body, "metadata", dict, None)
        name = field(body, "name", str, None)
        limit, offset = limit_offset(body)
        sort_by = field(body, "sort_by", str, "created_at", choices=("assistant_id", "graph_id", "name", "created_at", "updated_at"))
        sort_order = field(body, "sort_order", str, "desc", choices=("asc", "desc"))
        allowed, metadata = await _search_scope(body, graph_id, metadata, limit, offset)
        found = only_allowed(svc.tables.all_assistants(), allowed)
        if graph_id:
            found = [a for a in found if a.graph_id == graph_id]
        if metadata:
            found = [a for a in found if all(a.metadata.get(k) == v for k, v in metadata.items())]
        if name:
            found = [a for a in found if name.lower() in a.name.lower()]
        found.sort(key=lambda a: (getattr(a, sort_by), a.assistant_id), reverse=sort_order == "desc")
        return paginated(found, limit, offset, assistant_json)

    @app.post("/assistants/count")
    async def count_assistants() -> Response:
        body = await body_object(default={})
        graph_id = field(body, "graph_id", str, None)
        allowed, _ = await _search_scope(body, graph_id, field(body, "metadata", dict, None), 0, 0)
        found = [a for a in only_allowed(svc.tables.all_assistants(), allowed) if not graph_id or a.graph_id == graph_id]
        return json_response(len(found))

    async def _search_scope(body: dict[str, Any], graph_id: str | None, metadata: dict[str, Any] | None, limit: int, offset: int) -> tuple[Filter, dict[str, Any] | None]:
        """`assistants:search`: its filter, and the metadata query as the handler left it."""
        if not svc.auth.enabled:
            return ALL, metadata
        value: dict[str, Any] = {"graph_id": graph_id, "metadata": metadata if metadata is not None else {}, "limit": limit, "offset": offset}
        allowed = await svc.auth.authorize("assistants", "search", value)
        return allowed, value.get("metadata") or None

    @app.post("/assistants/<assistant_id>/versions")
    async def assistant_versions(assistant_id: str) -> Response:
        assistant = svc.assistants.get(assistant_id)
        body = await body_object(default={})
        limit, offset = limit_offset(body)
        allowed = await authorize(svc, "assistants", "read", {"assistant_id": uid(assistant.assistant_id)})  # applied to each version
        versions = only_allowed(svc.assistants.versions(assistant.assistant_id, field(body, "metadata", dict, None)), allowed)[offset : offset + limit]
        if not versions:  # as the reference: nothing (left) to show is a 404
            raise NotFound(f"Assistant {assistant.assistant_id} not found")
        return json_response([version_json(v) for v in versions])

    @app.post("/assistants/<assistant_id>/latest")
    async def set_latest_version(assistant_id: str) -> Response:
        body = await body_object()
        version = field(body, "version", int, None)
        assistant = await assistant_for(svc, assistant_id, "update", {"assistant_id": uid(svc.assistants.get(assistant_id).assistant_id), "version": version})
        return json_response(assistant_json(await svc.assistants.set_latest(assistant.assistant_id, version)))

    @app.get("/assistants/<assistant_id>/graph")
    async def assistant_graph(assistant_id: str) -> Response:
        xray = _xray(request.args.get("xray"))
        drawn = await with_graph(await assistant_for(svc, assistant_id), lambda graph: graph.get_graph(xray=xray).to_json())
        for node in drawn.get("nodes", []):
            if isinstance(node.get("data"), dict):
                node["data"].pop("id", None)  # as the reference: a node's Python class path is not shown
        return json_response(drawn)

    @app.get("/assistants/<assistant_id>/subgraphs")
    @app.get("/assistants/<assistant_id>/subgraphs/<path:namespace>")
    async def assistant_subgraphs(assistant_id: str, namespace: str | None = None) -> Response:
        assistant = await assistant_for(svc, assistant_id)
        recurse = (request.args.get("recurse") or "").lower() in ("1", "true", "yes")
        found = await with_graph(assistant, lambda graph: {ns: graph_schemas(subgraph) for ns, subgraph in graph.get_subgraphs(namespace=namespace, recurse=recurse)})
        return json_response(found)

    @app.get("/assistants/<assistant_id>/schemas")
    async def assistant_schemas(assistant_id: str) -> Response:
        assistant = await assistant_for(svc, assistant_id)
        return json_response({"graph_id": assistant.graph_id, **await with_graph(assistant, graph_schemas)})


def _xray(value: str | None) -> bool | int:
    """`?xray=`: true/false, or a positive depth (as the reference reads it)."""
    if not value or value in ("false", "False"):
        return False
    if value in ("true", "True"):
        return True
    try:
        depth = int(value)
    except ValueError:
        raise Invalid("Invalid xray value") from None
    if depth <= 0:
        raise Invalid("Invalid xray value")
    return depth
