"""Assistants: the default one of each graph, the ones clients create, and their versions.

One resolver (`Assistants.resolve`) turns what a client names — a graph id or an
assistant UUID — into an assistant, for runs, crons and the assistant endpoints alike.
Every change is made inside the write transaction, from what is stored there, so two
concurrent PATCHes make two versions, never the same one twice.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

from .. import ids
from ..auth.context import current_principal
from ..errors import BadRequest, Conflict, Invalid, NotFound
from ..storage.env import Store, Txn, combine
from ..storage.records import Assistant, AssistantVersion
from ..storage.tables import Tables
from .bridge import AsyncioBridge
from .graphs import INTROSPECT, Graphs
from .runconfig import state_config


async def with_assistant_graph(bridge: AsyncioBridge, graphs: Graphs, assistant: Assistant, use: Callable[[Any], Any]) -> Any:
    """`use(graph)` on the graph loop, with the assistant's graph open (built with its
    config, for introspection: schemas, drawing, subgraphs); returns what `use` returns."""
    config = state_config("", None, assistant)
    principal = current_principal()
    return await bridge.call(lambda: graphs.use(assistant.graph_id, config, use, access=INTROSPECT, principal=principal), label=f"graph of assistant {assistant.assistant_id}")


class Assistants:
    def __init__(self, *, store: Store, tables: Tables, graph_ids: Callable[[], list[str]], crons: Any) -> None:
        self.store = store
        self.tables = tables
        self.graph_ids = graph_ids
        self.crons = crons

    # -- resolving -----------------------------------------------------------------

    def find(self, assistant_id: str) -> Assistant | None:
        """The assistant named by a graph id or a UUID, or None."""
        if assistant_id in self.graph_ids():
            assistant_id = ids.graph_assistant_id(assistant_id)
        parsed = ids.parse_uuid(assistant_id)
        return self.tables.get_assistant(str(parsed)) if parsed is not None else None

    def get(self, assistant_id: str) -> Assistant:
        """`find`, for the assistant endpoints: 422 for an id that is neither, 404 when absent."""
        if assistant_id not in self.graph_ids() and ids.parse_uuid(assistant_id) is None:
            raise Invalid("Invalid assistant ID: must be a UUID")
        assistant = self.find(assistant_id)
        if assistant is None:
            raise NotFound(f"Assistant {assistant_id} not found")
        return assistant

    def resolve_for_run(self, assistant_id: Any) -> Assistant:
        """The assistant a run (or a cron's run) names, with the reference's errors."""
        if assistant_id is None:
            raise Invalid('"assistant_id" is a required property')
        if not isinstance(assistant_id, str) or not assistant_id:
            raise Invalid(f'{orjson.dumps(assistant_id).decode()} is not of type "string"\n\nOn instance["assistant_id"]')
        graphs = self.graph_ids()
        if assistant_id not in graphs and ids.parse_uuid(assistant_id) is None:
            keys = ", ".join(graphs)
            raise Invalid(
                f"Invalid assistant: '{assistant_id}'. Must be either:\n- A valid assistant UUID, or\n- One of the registered graphs: {keys}"
            )
        assistant = self.find(assistant_id)
        if assistant is None or assistant.graph_id not in graphs:
            raise NotFound("Thread or assistant not found.")
        return assistant

    # -- changing ------------------------------------------------------------------

    async def create(self, assistant: Assistant, *, if_exists: str) -> Assistant:
        """Store a new assistant (version 1); with `if_exists="do_nothing"` an existing
        one with the same id is returned instead of a 409."""

        def op(txn: Txn) -> Assistant:
            existing = self.tables.get_assistant(assistant.assistant_id, txn)
            if existing is not None:
                if if_exists == "do_nothing":
                    return existing
                raise Conflict(f"Assistant {assistant.assistant_id} already exists")
            return self.tables.put_assistant_op(assistant)(txn)

        return await self.store.write(op)

    async def patch(self, assistant_id: str, change: Callable[[Assistant], None]) -> Assistant:
        """Apply `change` to the stored assistant and store it as a new version (one more
        than the newest stored), all in one transaction."""

        def op(txn: Txn) -> Assistant:
            assistant = self.tables.get_assistant(assistant_id, txn)
            if assistant is None:
                raise NotFound(f"Assistant {assistant_id} not found")
            latest = max((v.version for v in self.tables.assistant_versions(assistant_id, txn)), default=assistant.version)
            change(assistant)
            assistant.version = latest + 1
            assistant.updated_at = ids.now_iso()
            return self.tables.put_assistant_op(assistant)(txn)

        return await self.store.write(op)

    async def set_latest(self, assistant_id: str, version: int | None) -> Assistant:
        """Make a stored version the assistant's current one (no new version)."""

        def op(txn: Txn) -> Assistant:
            assistant = self.tables.get_assistant(assistant_id, txn)
            if assistant is None:
                raise NotFound(f"Assistant {assistant_id} not found")
            chosen = next((v for v in self.tables.assistant_versions(assistant_id, txn) if v.version == version), None)
            if chosen is None:
                raise NotFound(f"Version {version} not found for assistant {assistant_id}")
            assistant.version = chosen.version
            assistant.config, assistant.context, assistant.metadata = chosen.config, chosen.context, chosen.metadata
            assistant.name, assistant.graph_id, assistant.description = chosen.name, chosen.graph_id, chosen.description
            assistant.updated_at = ids.now_iso()
            return self.tables.put_assistant_op(assistant, new_version=False)(txn)

        return await self.store.write(op)

    async def delete(self, assistant_id: str) -> None:
        """The assistant, its versions and its crons (as the reference cascades), in one commit."""
        deleted, _ = await self.store.write(combine(self.tables.delete_assistant_op(assistant_id), self.crons.delete_matching_op(assistant_id=assistant_id)))
        if not deleted:
            raise NotFound(f"Assistant {assistant_id} not found")
        self.crons.notify()

    def versions(self, assistant_id: str, metadata: dict[str, Any] | None = None) -> list[AssistantVersion]:
        """The stored versions, newest first; with `metadata`, those whose own metadata (as
        it was at that version) has every one of its keys and values."""
        versions = sorted(self.tables.assistant_versions(assistant_id), key=lambda v: v.version, reverse=True)
        return [v for v in versions if all(k in v.metadata and v.metadata[k] == want for k, want in (metadata or {}).items())]

    async def ensure_defaults(self, graphs: dict[str, Any]) -> None:
        """Each graph gets an assistant with the reference's deterministic id, named after
        the graph (or the graph's own name), with `metadata.created_by = "system"` and the
        graph's config from `LANGGRAPH_CONFIG` (its context mirrors its configurable).

        At every start the name, description and config follow langgraph.json again: a
        change there makes a new version (the reference syncs the name and description
        only, and keeps the config the assistant was first created with)."""
        for graph_id, spec in graphs.items():
            now = ids.now_iso()  # one each: searches list them newest first, like the reference
            name = getattr(spec.target, "name", None)
            config = dict(spec.config or {})
            assistant = Assistant(
                assistant_id=ids.graph_assistant_id(graph_id),
                graph_id=graph_id,
                name=name if name and name != "LangGraph" else graph_id,
                created_at=now,
                updated_at=now,
                config=config,
                context=dict(config.get("configurable") or {}),
                metadata={"created_by": "system"},
                description=spec.description,
            )
            stored = await self.create(assistant, if_exists="do_nothing")
            if (stored.name, stored.description, stored.config) != (assistant.name, assistant.description, assistant.config):
                await self.patch(stored.assistant_id, _follow(assistant))


def _follow(configured: Assistant) -> Callable[[Assistant], None]:
    """The change that makes a system assistant match its graph's langgraph.json entry."""

    def change(assistant: Assistant) -> None:
        assistant.name, assistant.description = configured.name, configured.description
        assistant.config, assistant.context = configured.config, configured.context

    return change


def mirrored(config: dict[str, Any] | None, context: dict[str, Any] | None) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """An assistant's config and context kept in step, as the reference keeps them: a
    configurable is also the context; a context alone is also the configurable."""
    configurable = (config or {}).get("configurable")
    if configurable and context:
        raise BadRequest(
            "Cannot specify both configurable and context. Prefer setting context alone. Context was introduced in "
            "LangGraph 0.6.0 and is the long term planned replacement for configurable."
        )
    if configurable:
        return config, dict(configurable)
    if context:
        return {**(config or {}), "configurable": dict(context)}, context
    return config, context
