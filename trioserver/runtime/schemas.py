"""A graph's JSON schemas, as `GET /assistants/{id}/schemas` and `/subgraphs` show them.

Studio-like UIs build their input forms from these, so they follow the reference's rules:
the graph's own input and output schemas; a state schema with one optional field per
channel a client can read; only the `configurable` part of the config schema; and
`null` for any schema the graph cannot render (pydantic cannot render a
`typing.TypedDict` on Python 3.11, for one).
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable
from typing import Any

import pydantic

log = logging.getLogger(__name__)

# Configurable keys the server fills in itself: not for a client's form.
SERVER_CONFIGURABLE = ("__pregel_checkpointer", "__pregel_store", "checkpoint_id", "checkpoint_ns", "thread_id")


def graph_schemas(graph: Any) -> dict[str, Any]:
    """The five schemas of a (built) graph; each None when the graph cannot render it."""
    return {
        "input_schema": _rendered(graph, "input", graph.get_input_jsonschema),
        "output_schema": _rendered(graph, "output", graph.get_output_jsonschema),
        "state_schema": _rendered(graph, "state", lambda: state_schema(graph)),
        "config_schema": _rendered(graph, "config", lambda: configurable_schema(graph)),
        "context_schema": _rendered(graph, "context", graph.get_context_jsonschema),
    }


def state_schema(graph: Any) -> dict[str, Any]:
    """One field per channel a client reads (`stream_channels_list`), typed by what the
    channel accepts, every one optional with a null default (a state may hold any subset);
    named `<graph name>_state`."""
    fields: dict[str, Any] = {}
    for name in graph.stream_channels_list:
        kind = graph.channels[name].UpdateType
        try:
            pydantic.TypeAdapter(kind).json_schema()
        except Exception:  # noqa: BLE001 - a type pydantic cannot render: any value
            kind = Any
        fields[name] = (kind, None)
    return pydantic.create_model(graph.get_name("State"), **fields).model_json_schema()


def configurable_schema(graph: Any) -> dict[str, Any]:
    """The `configurable` part of the graph's config schema, without the keys the server
    sets; `{}` for a graph that declares no config type."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # config_schema is deprecated, but it is what declares `configurable`
        model = graph.config_schema()
    fields = getattr(model, "model_fields", None) or {}
    if "configurable" not in fields:
        return {}
    annotation: Any = fields["configurable"].annotation
    schema = pydantic.TypeAdapter(annotation).json_schema()
    for key in SERVER_CONFIGURABLE:
        schema.get("properties", {}).pop(key, None)
    config_type = getattr(graph, "config_type", None)
    if config_type is not None and hasattr(config_type, "__name__"):
        schema["title"] = config_type.__name__
    return schema


def _rendered(graph: Any, what: str, render: Callable[[], Any]) -> Any:
    try:
        return render()
    except Exception as exc:  # noqa: BLE001 - the schema is shown as null, as the reference does
        log.debug("graph %s: no %s schema: %s", getattr(graph, "name", "?"), what, exc)
        return None
