"""Assistants: one default per graph, plus user-created ones, versioned."""

from __future__ import annotations

from typing import Any

from quart import Quart, Response, request

from .. import ids
from ..errors import Invalid, NotFound
from ..runtime.runconfig import state_config
from ..services import Services
from ..storage.records import Assistant, converter
from .common import assistant_json, body_object, empty_response, field, json_response, limit_offset, paginated, require_uuid


def register(app: Quart, svc: Services) -> None:
    async def built_graph(assistant: Assistant) -> Any:
        """The assistant's graph, built on the graph loop with the assistant's config."""
        config = state_config("", None, assistant)
        return await svc.bridge.call(lambda: svc.graphs.build(assistant.graph_id, config), label=f"graph of assistant {assistant.assistant_id}")

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
        return json_response(assistant_json(await svc.assistants.create(assistant, if_exists=if_exists)))

    @app.get("/assistants/<assistant_id>")
    async def get_assistant(assistant_id: str) -> Response:
        return json_response(assistant_json(svc.assistants.get(assistant_id)))

    @app.patch("/assistants/<assistant_id>")
    async def patch_assistant(assistant_id: str) -> Response:
        current = svc.assistants.get(assistant_id)
        body = await body_object(default={})
        graph_id = field(body, "graph_id", str, None)
        if graph_id is not None and graph_id not in svc.graphs:
            raise NotFound(f"Graph {graph_id} not found")
        config = field(body, "config", dict, None)
        context = field(body, "context", dict, None)
        metadata = field(body, "metadata", dict, {})
        name = field(body, "name", str, None)
        description = field(body, "description", str, None)

        def change(assistant: Assistant) -> None:
            if graph_id is not None:
                assistant.graph_id = graph_id
            if config is not None:
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
    async def count_assistants() -> Response:
        body = await body_object(default={})
        graph_id = field(body, "graph_id", str, None)
        found = [a for a in svc.tables.all_assistants() if not graph_id or a.graph_id == graph_id]
        return json_response(len(found))

    @app.post("/assistants/<assistant_id>/versions")
    async def assistant_versions(assistant_id: str) -> Response:
        assistant = svc.assistants.get(assistant_id)
        body = await body_object(default={})
        limit = field(body, "limit", int, 10)
        offset = field(body, "offset", int, 0)
        versions = svc.assistants.versions(assistant.assistant_id)
        return json_response([converter.unstructure(v) for v in versions[offset : offset + limit]])

    @app.post("/assistants/<assistant_id>/latest")
    async def set_latest_version(assistant_id: str) -> Response:
        assistant = svc.assistants.get(assistant_id)
        body = await body_object()
        version = field(body, "version", int, None)
        return json_response(assistant_json(await svc.assistants.set_latest(assistant.assistant_id, version)))

    @app.get("/assistants/<assistant_id>/graph")
    async def assistant_graph(assistant_id: str) -> Response:
        graph = await built_graph(svc.assistants.get(assistant_id))
        xray_arg = (request.args.get("xray") or "false").lower()
        xray: bool | int = int(xray_arg) if xray_arg.isdigit() else xray_arg in ("true", "1", "yes")
        return json_response(graph.get_graph(xray=xray).to_json())

    @app.get("/assistants/<assistant_id>/subgraphs")
    @app.get("/assistants/<assistant_id>/subgraphs/<path:namespace>")
    async def assistant_subgraphs(assistant_id: str, namespace: str | None = None) -> Response:
        assistant = svc.assistants.get(assistant_id)
        graph = await built_graph(assistant)
        recurse = (request.args.get("recurse") or "").lower() in ("1", "true", "yes")
        found = {ns: _schemas(assistant.graph_id, subgraph) for ns, subgraph in graph.get_subgraphs(namespace=namespace, recurse=recurse)}
        return json_response(found)

    @app.get("/assistants/<assistant_id>/schemas")
    async def assistant_schemas(assistant_id: str) -> Response:
        assistant = svc.assistants.get(assistant_id)
        return json_response(_schemas(assistant.graph_id, await built_graph(assistant)))


def _schemas(graph_id: str, graph: Any) -> dict[str, Any]:
    """A graph's JSON schemas; None for one that cannot be rendered (pydantic cannot, for
    example, render a `typing.TypedDict` on Python 3.11)."""

    def schema(fn: Any) -> Any:
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
