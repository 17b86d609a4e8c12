"""The component schemas of `/openapi.json`: what the API's resources and request bodies
look like, written for this server (its own words and its own shapes)."""

from __future__ import annotations

from typing import Any

from ..runtime.lifecycle import RUN_STATUSES, THREAD_STATUSES

STREAM_MODES = ["values", "updates", "messages", "messages-tuple", "custom", "debug", "events", "tasks", "checkpoints"]
MULTITASK = ["reject", "rollback", "interrupt", "enqueue"]


def ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


def obj(properties: dict[str, Any], *, required: tuple[str, ...] = (), description: str | None = None, extra: bool = False) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = list(required)
    if description:
        schema["description"] = description
    if extra:
        schema["additionalProperties"] = True
    return schema


def arr(items: dict[str, Any]) -> dict[str, Any]:
    return {"type": "array", "items": items}


def nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [schema, {"type": "null"}]}


STR = {"type": "string"}
INT = {"type": "integer"}
BOOL = {"type": "boolean"}
NUM = {"type": "number"}
UUID = {"type": "string", "format": "uuid"}
TIME = {"type": "string", "format": "date-time"}
THREAD_STATUS = {"type": "string", "enum": list(THREAD_STATUSES)}
ANY: dict[str, Any] = {}
OBJECT = {"type": "object", "additionalProperties": True}
NODES = {"anyOf": [{"type": "string", "enum": ["*"]}, arr(STR)], "description": "Node names, or `*` for every node."}

_PAGE = {"limit": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 10}, "offset": {"type": "integer", "minimum": 0, "default": 0}}

_RUN_BODY = {
    "assistant_id": {"type": "string", "description": "An assistant UUID, or a graph id (its default assistant)."},
    "input": nullable(ANY),
    "command": nullable(obj({"update": ANY, "resume": ANY, "goto": ANY}, description="Resume an interrupt, update state, go to nodes.")),
    "config": ref("Config"),
    "context": OBJECT,
    "metadata": OBJECT,
    "checkpoint_id": STR,
    "checkpoint": ref("CheckpointRef"),
    "stream_mode": {"anyOf": [{"type": "string", "enum": STREAM_MODES}, arr({"type": "string", "enum": STREAM_MODES})], "default": ["values"]},
    "stream_subgraphs": {"type": "boolean", "default": False},
    "stream_resumable": {"type": "boolean", "default": False, "description": "Accepted; every stream of this server can be resumed."},
    "interrupt_before": NODES,
    "interrupt_after": NODES,
    "multitask_strategy": {"type": "string", "enum": MULTITASK, "default": "enqueue"},
    "if_not_exists": {"type": "string", "enum": ["create", "reject"], "default": "reject"},
    "on_disconnect": {"type": "string", "enum": ["cancel", "continue"], "default": "continue"},
    "after_seconds": {"type": "number", "description": "Start the run this many seconds from now."},
    "webhook": {"type": "string", "format": "uri", "description": "POSTed the finished run."},
    "feedback_keys": arr(STR),
    "durability": {"type": "string", "enum": ["sync", "async", "exit"]},
    "checkpoint_during": {"type": "boolean", "default": True},
}

_CRON_BODY = {
    "assistant_id": STR,
    "schedule": {"type": "string", "description": "A cron expression (five fields, or six with seconds)."},
    "timezone": STR,
    "end_time": TIME,
    "input": nullable(ANY),
    "config": ref("Config"),
    "context": OBJECT,
    "metadata": OBJECT,
    "enabled": BOOL,
    "on_run_completed": {"type": "string", "enum": ["delete", "keep"]},
    "webhook": STR,
    "multitask_strategy": {"type": "string", "enum": MULTITASK},
    "interrupt_before": NODES,
    "interrupt_after": NODES,
    "stream_mode": ANY,
}

SCHEMAS: dict[str, Any] = {
    "ErrorResponse": obj({"detail": STR}, required=("detail",), description="What went wrong."),
    "Config": obj({"tags": arr(STR), "recursion_limit": INT, "configurable": OBJECT}, extra=True),
    "CheckpointRef": obj({"thread_id": STR, "checkpoint_ns": STR, "checkpoint_id": STR, "checkpoint_map": OBJECT}),
    # assistants
    "Assistant": obj(
        {
            "assistant_id": UUID, "graph_id": STR, "config": ref("Config"), "context": OBJECT, "metadata": OBJECT,
            "name": STR, "created_at": TIME, "updated_at": TIME, "version": INT, "description": nullable(STR),
        },
        required=("assistant_id", "graph_id", "config", "metadata", "name", "created_at", "updated_at", "version"),
        description="A graph with a configuration. Each graph has a default one (metadata `created_by: system`).",
    ),  # fmt: skip
    "AssistantVersion": obj(
        {
            "assistant_id": UUID, "version": INT, "graph_id": STR, "config": ref("Config"), "context": OBJECT,
            "metadata": OBJECT, "created_at": TIME, "name": STR, "description": nullable(STR),
        },
        required=("assistant_id", "version", "graph_id"),
    ),  # fmt: skip
    "AssistantCreate": obj(
        {
            "graph_id": STR, "assistant_id": UUID, "config": ref("Config"), "context": OBJECT, "metadata": OBJECT,
            "name": STR, "description": STR, "if_exists": {"type": "string", "enum": ["raise", "do_nothing"]},
        },
        required=("graph_id",),
    ),  # fmt: skip
    "AssistantPatch": obj({"graph_id": STR, "config": ref("Config"), "context": OBJECT, "metadata": OBJECT, "name": STR, "description": STR}),
    "AssistantSearch": obj(
        {
            "graph_id": STR, "metadata": OBJECT, "name": STR, **_PAGE,
            "sort_by": {"type": "string", "enum": ["assistant_id", "graph_id", "name", "created_at", "updated_at"]},
            "sort_order": {"type": "string", "enum": ["asc", "desc"]},
        }
    ),  # fmt: skip
    "AssistantCount": obj({"graph_id": STR, "metadata": OBJECT}),
    "AssistantVersionsSearch": obj({"metadata": OBJECT, **_PAGE}),
    "AssistantLatest": obj({"version": INT}, required=("version",)),
    "GraphSchemas": obj(
        {"graph_id": STR, "input_schema": nullable(OBJECT), "output_schema": nullable(OBJECT), "state_schema": nullable(OBJECT), "config_schema": nullable(OBJECT), "context_schema": nullable(OBJECT)},
        description="JSON schemas of a graph; null where the graph cannot render one.",
    ),
    "SubgraphSchemas": {"type": "object", "additionalProperties": ref("GraphSchemas"), "description": "Namespace -> that subgraph's schemas (without `graph_id`)."},
    "DrawnGraph": obj({"nodes": arr(OBJECT), "edges": arr(OBJECT)}),
    # threads
    "Thread": obj(
        {
            "thread_id": UUID, "created_at": TIME, "updated_at": TIME, "state_updated_at": TIME, "metadata": OBJECT,
            "status": THREAD_STATUS, "config": OBJECT,
            "values": nullable(ANY), "error": nullable(ANY), "interrupts": OBJECT,
        },
        required=("thread_id", "created_at", "updated_at", "metadata", "status"),
        description="A conversation: its checkpoints, runs and event log. `error` and `interrupts` appear once a run has ended on it.",
    ),  # fmt: skip
    "ThreadCreate": obj(
        {
            "thread_id": UUID, "metadata": OBJECT, "if_exists": {"type": "string", "enum": ["raise", "do_nothing"]},
            "supersteps": arr(obj({"updates": arr(obj({"values": ANY, "command": ANY, "as_node": STR}, required=("as_node",)))}, required=("updates",))),
        },
        description="`supersteps` seeds the new thread's history, one checkpoint per superstep (metadata must name its `graph_id`).",
    ),  # fmt: skip
    "ThreadPatch": obj({"metadata": OBJECT}),
    "ThreadSearch": obj(
        {
            "ids": arr(UUID), "metadata": OBJECT, "values": OBJECT, "status": THREAD_STATUS,
            **_PAGE, "sort_by": STR, "sort_order": {"type": "string", "enum": ["asc", "desc"]}, "select": arr(STR),
        }
    ),  # fmt: skip
    "ThreadCount": obj({"ids": arr(UUID), "metadata": OBJECT, "values": OBJECT, "status": STR}),
    "ThreadPrune": obj({"thread_ids": arr(UUID), "strategy": {"type": "string", "enum": ["delete", "keep_latest"]}}, required=("thread_ids",)),
    "ThreadPruned": obj({"pruned_count": INT}),
    "ThreadState": obj(
        {
            "values": ANY, "next": arr(STR), "tasks": arr(OBJECT), "metadata": nullable(OBJECT), "created_at": nullable(TIME),
            "checkpoint": nullable(ref("CheckpointRef")), "parent_checkpoint": nullable(ref("CheckpointRef")), "interrupts": arr(OBJECT),
            "checkpoint_id": nullable(STR), "parent_checkpoint_id": nullable(STR),
        },
        required=("values", "next", "tasks"),
    ),  # fmt: skip
    "ThreadStateUpdate": obj({"values": nullable(ANY), "as_node": STR, "checkpoint": ref("CheckpointRef"), "checkpoint_id": STR}),
    "ThreadStateUpdated": obj({"checkpoint": ref("CheckpointRef"), "configurable": OBJECT, "checkpoint_id": STR}),
    "ThreadStateAt": obj({"checkpoint": ref("CheckpointRef"), "checkpoint_id": STR, "subgraphs": BOOL}),
    "HistorySearch": obj({"limit": INT, "before": ANY, "metadata": OBJECT, "checkpoint": ref("CheckpointRef")}),
    "ThreadStorage": obj(
        {
            "thread_id": UUID, "total_bytes": INT,
            "checkpoints": obj({"count": INT, "bytes": INT}),
            "channel_values": obj({"count": INT, "bytes": INT, "by_channel": {"type": "object", "additionalProperties": obj({"versions": INT, "bytes": INT})}}),
            "pending_writes": obj({"count": INT, "bytes": INT}),
        },
        description="Bytes the thread's checkpoints occupy, as stored.",
    ),  # fmt: skip
    # runs
    "Run": obj(
        {
            "run_id": UUID, "thread_id": UUID, "assistant_id": UUID, "metadata": OBJECT,
            "status": {"type": "string", "enum": list(RUN_STATUSES)},
            "kwargs": OBJECT, "multitask_strategy": {"type": "string", "enum": MULTITASK}, "created_at": TIME, "updated_at": TIME,
            "langsmith_session_name": nullable(STR),
        },
        required=("run_id", "thread_id", "assistant_id", "status", "created_at"),
    ),  # fmt: skip
    "RunCreate": obj(_RUN_BODY, required=("assistant_id",)),
    "RunCreateStateless": obj({**_RUN_BODY, "on_completion": {"type": "string", "enum": ["delete", "keep"], "default": "delete"}}, required=("assistant_id",)),
    "RunBatch": arr(ref("RunCreateStateless")),
    "RunsCancel": obj(
        {"thread_id": UUID, "run_ids": arr(UUID), "status": {"type": "string", "enum": ["pending", "running", "all"]}},
        description="Either `status`, or a `thread_id` (with `run_ids`, or all its runs).",
    ),
    "RunResult": {"description": "The run's last values (with `__interrupt__` when it stopped at one), or `{\"__error__\": ...}`.", **OBJECT},
    # crons
    "Cron": obj(
        {
            "cron_id": UUID, "assistant_id": UUID, "thread_id": nullable(UUID), "user_id": STR, "end_time": nullable(TIME),
            "schedule": STR, "timezone": nullable(STR), "payload": OBJECT, "next_run_date": nullable(TIME), "metadata": OBJECT,
            "on_run_completed": nullable(STR), "enabled": BOOL, "created_at": TIME, "updated_at": TIME,
        },
        required=("cron_id", "assistant_id", "schedule"),
    ),  # fmt: skip
    "CronCreate": obj(_CRON_BODY, required=("assistant_id", "schedule")),
    "CronPatch": obj({k: v for k, v in _CRON_BODY.items() if k != "assistant_id"}),
    "CronSearch": obj({"assistant_id": STR, "thread_id": UUID, "enabled": BOOL, "metadata": OBJECT, **_PAGE, "sort_by": STR, "sort_order": STR, "select": arr(STR)}),
    "CronCount": obj({"assistant_id": STR, "thread_id": UUID, "metadata": OBJECT}),
    # store
    "Item": obj({"namespace": arr(STR), "key": STR, "value": OBJECT, "created_at": TIME, "updated_at": TIME}, required=("namespace", "key", "value")),
    "SearchItem": obj({"namespace": arr(STR), "key": STR, "value": OBJECT, "created_at": TIME, "updated_at": TIME, "score": nullable(NUM)}),
    "StorePut": obj({"namespace": arr(STR), "key": STR, "value": OBJECT, "index": {"anyOf": [{"const": False}, arr(STR), {"type": "null"}]}, "ttl": nullable(NUM)}, required=("namespace", "key", "value")),
    "StoreDelete": obj({"namespace": arr(STR), "key": STR}, required=("key",)),
    "StoreSearch": obj({"namespace_prefix": arr(STR), "filter": OBJECT, "query": STR, "limit": INT, "offset": INT, "refresh_ttl": BOOL}),
    "StoreSearchResult": obj({"items": arr(ref("SearchItem"))}),
    "StoreNamespaces": obj({"prefix": arr(STR), "suffix": arr(STR), "max_depth": INT, "limit": INT, "offset": INT}),
    "StoreNamespacesResult": obj({"namespaces": arr(arr(STR))}),
    # server
    "Health": obj({"ok": BOOL, "services": OBJECT}),
    "ServerInfo": obj({"version": STR, "langgraph_py_version": STR, "flags": OBJECT, "host": OBJECT}),
    "MetricsJson": obj({"queue": OBJECT, "api": OBJECT}),
    # protocols
    "JsonRpcRequest": obj({"jsonrpc": {"const": "2.0"}, "id": {"anyOf": [STR, INT, {"type": "null"}]}, "method": STR, "params": OBJECT}, required=("jsonrpc", "method")),
    "JsonRpcResponse": obj({"jsonrpc": {"const": "2.0"}, "id": ANY, "result": ANY, "error": obj({"code": INT, "message": STR, "data": ANY})}, required=("jsonrpc",)),
    "AgentCard": obj(
        {"name": STR, "description": STR, "url": STR, "version": STR, "capabilities": OBJECT, "skills": arr(OBJECT), "defaultInputModes": arr(STR), "defaultOutputModes": arr(STR), "supportedInterfaces": arr(OBJECT)},
        required=("name", "url"),
        description="A2A agent card of one assistant.",
    ),
    "ProtocolCommand": obj({"id": ANY, "method": STR, "params": OBJECT}, required=("method",), description="A command of the v2 event protocol."),
}
