"""Assistants: one default per graph, plus user-created ones, versioned."""

from __future__ import annotations

from quart import Quart, request

from .. import ids
from ..errors import Conflict, Invalid, NotFound
from ..storage.records import Assistant
from .common import assistant_json, body_object, field, json_response, limit_offset, paginated, require_uuid, services


def get_assistant_or_404(assistant_id: str) -> Assistant:
    svc = services()
    if assistant_id in svc.graphs:
        assistant_id = ids.graph_assistant_id(assistant_id)
    assistant_id = require_uuid(assistant_id, "assistant_id")
    assistant = svc.tables.get_assistant(assistant_id)
    if assistant is None:
        raise NotFound(f"Assistant {assistant_id} not found")
    return assistant


def register(app: Quart) -> None:
    @app.post("/assistants")
    async def create_assistant():
        svc = services()
        body = await body_object()
        graph_id = field(body, "graph_id", str, None)
        if graph_id is None:
            raise Invalid("graph_id is required")
        if graph_id not in svc.graphs:
            raise NotFound(f"Graph '{graph_id}' not found. Expected one of: {sorted(svc.graphs)}")
        assistant_id = field(body, "assistant_id", str, None)
        assistant_id = require_uuid(assistant_id, "assistant_id") if assistant_id else ids.new_id()
        if_exists = field(body, "if_exists", str, "raise", choices=("raise", "do_nothing"))
        existing = svc.tables.get_assistant(assistant_id)
        if existing is not None:
            if if_exists == "do_nothing":
                return json_response(assistant_json(existing))
            raise Conflict(f"Assistant {assistant_id} already exists")
        now = ids.now_iso()
        config = field(body, "config", dict, {})
        assistant = Assistant(
            assistant_id=assistant_id,
            graph_id=graph_id,
            name=field(body, "name", str, "Untitled"),
            created_at=now,
            updated_at=now,
            config=config,
            # As the reference: without a context, the configurable is the context.
            context=field(body, "context", dict, None) or dict(config.get("configurable") or {}),
            metadata=field(body, "metadata", dict, {}),
            description=field(body, "description", str, None),
        )
        await svc.store.write(svc.tables.put_assistant_op(assistant))
        return json_response(assistant_json(assistant))

    @app.get("/assistants/<assistant_id>")
    async def get_assistant(assistant_id: str):
        return json_response(assistant_json(get_assistant_or_404(assistant_id)))

    @app.patch("/assistants/<assistant_id>")
    async def patch_assistant(assistant_id: str):
        svc = services()
        assistant = get_assistant_or_404(assistant_id)
        body = await body_object(default={})
        graph_id = field(body, "graph_id", str, assistant.graph_id)
        if graph_id not in svc.graphs:
            raise NotFound(f"Graph {graph_id} not found")
        latest = max((v.version for v in svc.tables.assistant_versions(assistant.assistant_id)), default=assistant.version)
        assistant.graph_id = graph_id
        assistant.config = field(body, "config", dict, assistant.config)
        assistant.context = field(body, "context", dict, assistant.context)
        assistant.metadata = {**assistant.metadata, **field(body, "metadata", dict, {})}
        assistant.name = field(body, "name", str, assistant.name)
        assistant.description = field(body, "description", str, assistant.description)
        assistant.version = latest + 1
        assistant.updated_at = ids.now_iso()
        await svc.store.write(svc.tables.put_assistant_op(assistant))
        return json_response(assistant_json(assistant))

    @app.delete("/assistants/<assistant_id>")
    async def delete_assistant(assistant_id: str):
        svc = services()
        assistant = get_assistant_or_404(assistant_id)
        await svc.store.write(svc.tables.delete_assistant_op(assistant.assistant_id))
        await svc.store.write(svc.crons.delete_matching_op(assistant_id=assistant.assistant_id))  # as the reference
        svc.crons.notify()
        return json_response(None, status=204)

    @app.post("/assistants/search")
    async def search_assistants():
        svc = services()
        body = await body_object(default={})
        graph_id = field(body, "graph_id", str, None)
        metadata = field(body, "metadata", dict, None)
        name = field(body, "name", str, None)
        limit, offset = limit_offset(body)
        sort_by = field(body, "sort_by", str, "created_at", choices=("assistant_id", "graph_id", "name", "created_at", "updated_at"))
        sort_order = field(body, "sort_order", str, "desc", choices=("asc", "desc"))
        found = svc.tables.all_assistants()
        if graph_id:
            found = [a for a in found if a.graph_id == graph_id]
        if metadata:
            found = [a for a in found if all(a.metadata.get(k) == v for k, v in metadata.items())]
        if name:
            found = [a for a in found if name.lower() in a.name.lower()]
        found.sort(key=lambda a: (getattr(a, sort_by), a.assistant_id), reverse=sort_order == "desc")
        return paginated(found, limit, offset, assistant_json)

    @app.post("/assistants/count")
    async def count_assistants():
        svc = services()
        body = await body_object(default={})
        graph_id = field(body, "graph_id", str, None)
        found = [a for a in svc.tables.all_assistants() if not graph_id or a.graph_id == graph_id]
        return json_response(len(found))

    @app.post("/assistants/<assistant_id>/versions")
    async def assistant_versions(assistant_id: str):
        svc = services()
        assistant = get_assistant_or_404(assistant_id)
        body = await body_object(default={})
        limit = field(body, "limit", int, 10)
        offset = field(body, "offset", int, 0)
        versions = sorted(svc.tables.assistant_versions(assistant.assistant_id), key=lambda v: v.version, reverse=True)
        from ..storage.records import converter

        return json_response([converter.unstructure(v) for v in versions[offset : offset + limit]])

    @app.post("/assistants/<assistant_id>/latest")
    async def set_latest_version(assistant_id: str):
        svc = services()
        assistant = get_assistant_or_404(assistant_id)
        body = await body_object()
        version = field(body, "version", int, None)
        chosen = next((v for v in svc.tables.assistant_versions(assistant.assistant_id) if v.version == version), None)
        if chosen is None:
            raise NotFound(f"Assistant {assistant.assistant_id} has no version {version}")
        assistant.version = chosen.version
        assistant.config, assistant.context, assistant.metadata = chosen.config, chosen.context, chosen.metadata
        assistant.name, assistant.graph_id, assistant.description = chosen.name, chosen.graph_id, chosen.description
        assistant.updated_at = ids.now_iso()
        await svc.store.write(svc.tables.put_assistant_op(assistant, new_version=False))
        return json_response(assistant_json(assistant))

    @app.get("/assistants/<assistant_id>/graph")
    async def assistant_graph(assistant_id: str):
        svc = services()
        assistant = get_assistant_or_404(assistant_id)
        spec = svc.graphs[assistant.graph_id]
        graph = await spec.build({"configurable": {}})
        xray_arg = (request.args.get("xray") or "false").lower()
        xray: bool | int = int(xray_arg) if xray_arg.isdigit() else xray_arg in ("true", "1", "yes")
        drawable = graph.get_graph(xray=xray)
        return json_response(drawable.to_json())

    @app.get("/assistants/<assistant_id>/subgraphs")
    @app.get("/assistants/<assistant_id>/subgraphs/<path:namespace>")
    async def assistant_subgraphs(assistant_id: str, namespace: str | None = None):
        svc = services()
        assistant = get_assistant_or_404(assistant_id)
        graph = await svc.graphs[assistant.graph_id].build({"configurable": {}})
        recurse = (request.args.get("recurse") or "").lower() in ("1", "true", "yes")
        found = {}
        for ns, subgraph in graph.get_subgraphs(namespace=namespace, recurse=recurse):
            found[ns] = _schemas(assistant.graph_id, subgraph)
        return json_response(found)

    @app.get("/assistants/<assistant_id>/schemas")
    async def assistant_schemas(assistant_id: str):
        svc = services()
        assistant = get_assistant_or_404(assistant_id)
        graph = await svc.graphs[assistant.graph_id].build({"configurable": {}})
        return json_response(_schemas(assistant.graph_id, graph))


def _schemas(graph_id: str, graph) -> dict:
    """A graph's JSON schemas; None for one that cannot be rendered (pydantic cannot, for
    example, render a `typing.TypedDict` on Python 3.11)."""

    def schema(fn):
        try:
            return fn()
        except Exception:  # noqa: BLE001
            return None

    return {
        "graph_id": graph_id,
        "input_schema": schema(graph.get_input_jsonschema),
        "output_schema": schema(graph.get_output_jsonschema),
        "state_schema": schema(graph.get_input_jsonschema),
        "config_schema": schema(lambda: graph.config_schema().model_json_schema()),
        "context_schema": schema(graph.get_context_jsonschema),
    }
