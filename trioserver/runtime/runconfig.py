"""A run's config and context, from the run, its assistant and the server: what the
graph sees in `config["configurable"]`, `config["metadata"]` and its runtime context.

As the reference builds them: the assistant's config under the run's own, the server's
reserved keys on top (a client cannot set those), metadata merged from the assistant,
the run's config and the run, then the server's own.
"""

from __future__ import annotations

from typing import Any

import langgraph.version

from .. import __version__, ids
from ..auth.users import AuthUser
from ..storage.records import Assistant, Run

# Keys the server sets in `configurable`; what a client sends for them is dropped.
RESERVED_CONFIGURABLE = frozenset(
    {
        "langgraph_auth_user",
        "langgraph_auth_user_id",
        "langgraph_auth_permissions",
        "langgraph_request_id",
        "__request_start_time_ms__",
        "__after_seconds__",
        "run_id",
        "thread_id",
        "graph_id",
        "assistant_id",
    }
)


def run_config(run: Run, assistant: Assistant | None, *, api_url: str = "") -> dict[str, Any]:
    """The config the graph runs with."""
    kwargs = run.kwargs
    user_config = kwargs.get("config") or {}
    base = (assistant.config if assistant else {}) or {}
    auth = kwargs.get("auth") or {}
    client_configurable = {k: v for k, v in (user_config.get("configurable") or {}).items() if k not in RESERVED_CONFIGURABLE}
    base_configurable = base.get("configurable") or {}
    configurable = {
        **base_configurable,
        **client_configurable,
        # As the reference: a user object with attribute and item access (JSON in the run's kwargs).
        "langgraph_auth_user": AuthUser(auth["user"]) if auth.get("user") else None,
        "langgraph_auth_user_id": auth.get("identity", ""),
        "langgraph_auth_permissions": auth.get("permissions", []),
        "langgraph_request_id": run.run_id,
        "__request_start_time_ms__": int(ids.parse_iso(run.created_at) * 1000),
        "__after_seconds__": kwargs.get("after_seconds") or 0,
        "run_id": run.run_id,
        "thread_id": run.thread_id,
        "graph_id": run.graph_id,
        "assistant_id": run.assistant_id,
        # The client's user_id stands (stored with the run: see `stored_run_config`); else the
        # assistant's; else the caller's identity.
        "user_id": client_configurable.get("user_id") or base_configurable.get("user_id") or auth.get("identity", ""),
    }
    if kwargs.get("checkpoint_id"):
        configurable["checkpoint_id"] = kwargs["checkpoint_id"]
    if kwargs.get("checkpoint"):
        configurable.update(kwargs["checkpoint"])
    metadata = {
        **(base.get("metadata") or {}),
        **(assistant.metadata if assistant else {}),
        **(user_config.get("metadata") or {}),
        **(run.metadata or {}),
        "graph_id": run.graph_id,
        "assistant_id": run.assistant_id,
        "run_attempt": run.attempt,
        "langgraph_version": langgraph.version.__version__,
        "langgraph_api_version": __version__,
        "langgraph_plan": "developer",
        "langgraph_host": "self-hosted",
        "langgraph_api_url": api_url,
        "run_id": run.run_id,
        "thread_id": run.thread_id,
    }
    config: dict[str, Any] = {
        **{k: v for k, v in user_config.items() if k not in ("configurable", "metadata")},
        "configurable": configurable,
        "metadata": metadata,
        "run_id": ids.parse_uuid(run.run_id),
    }
    if "recursion_limit" in base and "recursion_limit" not in config:
        config["recursion_limit"] = base["recursion_limit"]
    return config


def run_context(run: Run, assistant: Assistant | None) -> dict[str, Any]:
    """The runtime context: the run's over the assistant's, as the reference merges them."""
    return {**((assistant.context if assistant else None) or {}), **(run.kwargs.get("context") or {})}


def state_config(thread_id: str, thread_config: dict[str, Any] | None = None, assistant: Assistant | None = None) -> dict[str, Any]:
    """The config a graph factory is built with for a state read or update of a thread:
    the assistant's config with the thread's configurable on top."""
    base = (assistant.config if assistant else {}) or {}
    return {
        **{k: v for k, v in base.items() if k != "configurable"},
        "configurable": {**(base.get("configurable") or {}), **((thread_config or {}).get("configurable") or {}), "thread_id": thread_id},
    }


# -- when a run is created: what it stores, and what its thread keeps --------------------


def configurable_of(config: dict[str, Any] | None) -> dict[str, Any]:
    return dict((config or {}).get("configurable") or {})


def request_config(config: dict[str, Any] | None, context: dict[str, Any] | None) -> tuple[dict[str, Any], dict[str, Any]]:
    """A run request's config and context, as the reference reads them: a context stands
    in for the configurable (the graph sees its keys there too); without one, the
    configurable is also the context."""
    config = dict(config or {})
    if context:
        config["configurable"] = {**context, "__context_provided__": True}
        return config, dict(context)
    config["configurable"] = configurable_of(config)
    return config, dict(config["configurable"])


def thread_config_after(assistant: Assistant, thread_config: dict[str, Any] | None, config: dict[str, Any], *, new: bool) -> dict[str, Any]:
    """The config a thread keeps when a run is created on it (state reads and updates
    build factory graphs with it later): the assistant's config under the thread's and
    the run's top-level keys, and only the assistant's and the thread's configurable,
    never the run's."""
    base = assistant.config or {}
    if new:
        return {**base, **config, "configurable": configurable_of(base)}
    return {**base, **(thread_config or {}), **config, "configurable": {**configurable_of(base), **configurable_of(thread_config)}}


def stored_run_config(
    assistant: Assistant,
    thread_config: dict[str, Any] | None,
    config: dict[str, Any],
    *,
    run_id: str,
    thread_id: str,
    metadata: dict[str, Any],
    auth: dict[str, Any] | None,
    after_seconds: float,
    created_at: str,
) -> dict[str, Any]:
    """The run's `kwargs.config`, merged when it is created as the reference merges it:
    the assistant's config, the request's over it, a configurable from the assistant,
    the thread and the request (with the server's keys), and the run's metadata.
    `run_config` derives what the graph sees from it (and sets the server's keys again)."""
    auth = auth or {}
    base = assistant.config or {}
    requested = {k: v for k, v in configurable_of(config).items() if k not in RESERVED_CONFIGURABLE}
    user_id = requested.get("user_id") or configurable_of(thread_config).get("user_id") or configurable_of(base).get("user_id") or auth.get("identity", "")
    configurable = {
        **configurable_of(base),
        **configurable_of(thread_config),
        **requested,
        "langgraph_auth_user": auth.get("user"),
        "langgraph_auth_user_id": auth.get("identity", ""),
        "langgraph_auth_permissions": auth.get("permissions", []),
        "langgraph_request_id": run_id,
        "__request_start_time_ms__": int(ids.parse_iso(created_at) * 1000),
        "__after_seconds__": after_seconds or 0,
        "run_id": run_id,
        "thread_id": thread_id,
        "graph_id": assistant.graph_id,
        "assistant_id": assistant.assistant_id,
        "user_id": user_id,
    }
    return {**base, **config, "configurable": configurable, "metadata": metadata}
