"""Creating runs: what a run request means, checked, and turned into a stored, queued run.

The HTTP handlers, the cron scheduler and the v2 protocol all create runs here, with the
same rules and the same errors. Nothing is stored for a request that is refused, and a
run that is stored is also started: creation and start are one shielded step, so a
client that disconnects mid-request cannot leave a run that nothing runs.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import attrs
import orjson
import trio

from .. import ids
from ..auth import ALL, Authorizer, Filter, current_principal
from ..errors import BadRequest, Invalid, NotFound
from ..storage.env import Op
from ..storage.records import Assistant, Run, Thread
from ..storage.tables import Tables
from ..validate import field
from .assistants import Assistants
from .chunks import STREAM_MODES
from .queue import RunQueue
from .runconfig import request_config, stored_run_config, thread_config_after
from .webhooks import valid_webhook

MULTITASK = ("reject", "rollback", "interrupt", "enqueue")
RUN_KWARGS = (
    "input", "command", "config", "context", "interrupt_before", "interrupt_after", "webhook",
    "feedback_keys", "checkpoint_id", "checkpoint", "durability", "checkpoint_during", "after_seconds",
)


def parse_stream_mode(value: Any) -> list[str]:
    if value is None or value == []:
        return ["values"]
    modes = value if isinstance(value, list) else [value]
    for mode in modes:
        if not isinstance(mode, str) or mode not in STREAM_MODES:
            shown = orjson.dumps(value).decode()
            raise Invalid(
                f"{shown} is not valid under any of the schemas listed in the 'anyOf' keyword\n\n"
                f'On instance["stream_mode"]: expected one or a list of {", ".join(sorted(STREAM_MODES))}'
            )
    return list(dict.fromkeys(modes))


def check_node_list(body: dict[str, Any], name: str) -> None:
    value = body.get(name)
    if value is not None and value != "*" and not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
        raise Invalid(f"{name}: expected '*' or a list of node names")


@attrs.define
class RunRequest:
    """A run request body, checked."""

    assistant_id: Any
    stream_mode: list[str]
    multitask_strategy: str
    if_not_exists: str
    on_completion: str
    on_disconnect: str
    stream_subgraphs: bool
    metadata: dict[str, Any]
    kwargs: dict[str, Any]

    @classmethod
    def parse(cls, body: dict[str, Any]) -> RunRequest:
        stream_mode = parse_stream_mode(body.get("stream_mode"))
        multitask = field(body, "multitask_strategy", str, "enqueue", choices=MULTITASK)
        if_not_exists = field(body, "if_not_exists", str, "reject", choices=("create", "reject"))
        on_completion = field(body, "on_completion", str, "delete", choices=("delete", "keep"))
        on_disconnect = field(body, "on_disconnect", str, "continue", choices=("cancel", "continue"))
        for name in ("metadata", "config", "context", "command", "checkpoint"):
            field(body, name, dict)
        check_node_list(body, "interrupt_before")
        check_node_list(body, "interrupt_after")
        field(body, "after_seconds", (int, float))
        webhook = field(body, "webhook", str, None)
        if webhook is not None and not valid_webhook(webhook):
            raise Invalid(f"Invalid webhook URL {webhook!r}: expected an http(s) URL with a valid host and port")
        subgraphs = bool(field(body, "stream_subgraphs", bool, False))
        resumable = bool(field(body, "stream_resumable", bool, False))  # shown as asked: every stream is resumable here
        checkpoint_during = field(body, "checkpoint_during", bool, True)
        config = body.get("config") or {}
        if (config.get("configurable") or {}) and body.get("context"):
            raise BadRequest("Cannot specify both configurable and context. Prefer setting context alone.")
        kwargs = {name: body.get(name) for name in RUN_KWARGS}
        kwargs["stream_mode"] = stream_mode
        kwargs["subgraphs"] = subgraphs
        kwargs["resumable"] = resumable
        kwargs["checkpoint_during"] = checkpoint_during
        # As the reference: without a durability, not checkpointing during the run means "exit"
        # (and checkpointing means LangGraph's default, "async", which the run shows).
        kwargs["durability"] = field(body, "durability", str, None, choices=("sync", "async", "exit")) or (None if checkpoint_during else "exit")
        kwargs["on_disconnect"] = on_disconnect
        return cls(
            assistant_id=body.get("assistant_id"),
            stream_mode=stream_mode,
            multitask_strategy=multitask,
            if_not_exists=if_not_exists,
            on_completion=on_completion,
            on_disconnect=on_disconnect,
            stream_subgraphs=subgraphs,
            metadata=body.get("metadata") or {},
            kwargs=kwargs,
        )


class Runs:
    """Creates runs for every caller (HTTP, crons, protocols)."""

    def __init__(self, *, tables: Tables, assistants: Assistants, queue: RunQueue, auth: Authorizer | None = None) -> None:
        self.tables = tables
        self.assistants = assistants
        self.queue = queue
        self.auth = auth or Authorizer()

    async def create(self, thread_id: str | None, request: RunRequest, *, auth: dict[str, Any] | None = None) -> Run:
        """Resolve, build and submit a run; `thread_id` None makes a stateless run (on a
        thread of its own, deleted when it ends, unless `on_completion="keep"`).

        With custom auth, the caller's `threads:create_run` handler runs first (it may
        stamp the run's metadata), then `assistants:read` for an assistant that is not a
        graph's own; a thread or assistant their filters hide is "not found". `auth`
        (what the run keeps of its caller) defaults to the current principal's."""
        assistant = self.assistants.resolve_for_run(request.assistant_id)
        command = request.kwargs.get("command")
        temporary = thread_id is None and request.on_completion == "delete"
        if thread_id is None and command and command.get("resume") is not None:
            raise BadRequest("You must provide a thread_id when resuming.")
        extra_ops: list[Op] = []
        now = ids.now_iso()
        run_id = ids.new_id()
        if auth is None and (principal := current_principal()) is not None:
            auth = principal.run_auth()
        allowed = await _authorize_run(self.auth, thread_id, run_id, temporary, assistant, request)
        config, context = request_config(request.kwargs.get("config"), request.kwargs.get("context"))
        if request.kwargs.get("checkpoint_id"):
            config["configurable"]["checkpoint_id"] = request.kwargs["checkpoint_id"]
        config["configurable"].update(request.kwargs.get("checkpoint") or {})
        thread: Thread | None = None
        if thread_id is None:
            thread_id = ids.new_id()
        else:
            parsed = ids.parse_uuid(thread_id)
            if parsed is None:
                raise BadRequest("badly formed hexadecimal UUID string")
            thread_id = str(parsed)
            thread = self.tables.get_thread(thread_id)
            if thread is None or thread.temporary:
                if request.if_not_exists != "create":
                    raise NotFound("Thread or assistant not found.")
                thread = None
            elif not allowed.allows(thread.metadata):
                raise NotFound("Thread or assistant not found.")
        binding = {"graph_id": assistant.graph_id, "assistant_id": assistant.assistant_id}
        if thread is None:  # a new thread: a stateless run's own, or `if_not_exists="create"`
            thread_config = thread_config_after(assistant, None, config, new=True)
            thread_metadata = {**binding, **(config.get("metadata") or {}), **request.metadata}
            new_thread = Thread(thread_id, now, now, metadata=thread_metadata, config=thread_config, temporary=temporary, graph_id=assistant.graph_id)
            extra_ops.append(self.tables.put_thread_op(new_thread))
        elif self.queue.has_work(thread_id):  # as the reference: a busy thread keeps its config and binding
            thread_config, thread_metadata = thread.config, thread.metadata
        else:  # the thread is bound to this run's assistant and keeps its config (see runconfig)
            thread_config = thread_config_after(assistant, thread.config, config, new=False)
            thread_metadata = {**thread.metadata, **binding}
            extra_ops.append(self.tables.update_thread_op(thread_id, _bind(thread_config, binding)))
        # As the reference: the run's metadata is the assistant's, the thread's, the request config's, the request's.
        metadata = {**assistant.metadata, **thread_metadata, **(config.get("metadata") or {}), **request.metadata, "assistant_id": assistant.assistant_id}
        kwargs = {**request.kwargs, "temporary": temporary}
        kwargs["config"] = stored_run_config(
            assistant, thread_config, config, run_id=run_id, thread_id=thread_id, metadata=metadata, auth=auth,
            after_seconds=request.kwargs.get("after_seconds") or 0, created_at=now,
        )  # fmt: skip
        kwargs["context"] = {**(assistant.context or {}), **context}
        if auth:
            kwargs["auth"] = auth
        run = Run(
            run_id=run_id,
            thread_id=thread_id,
            assistant_id=assistant.assistant_id,
            graph_id=assistant.graph_id,
            created_at=now,
            updated_at=now,
            metadata=metadata,
            kwargs=kwargs,
            multitask_strategy=request.multitask_strategy,
            stream_mode=request.stream_mode,
            stream_subgraphs=request.stream_subgraphs,
            temporary=temporary,
        )
        with trio.CancelScope(shield=True):  # stored means started: never one without the other
            await self.queue.submit(run, extra_ops=extra_ops)
        return run


def _bind(config: dict[str, Any], binding: dict[str, str]) -> Callable[[Thread], None]:
    """The change a run's creation makes to its (idle) thread: the config it keeps and
    the graph and assistant it is bound to, as the reference records them."""

    def bind(thread: Thread) -> None:
        thread.config = config
        thread.metadata.update(binding)

    return bind


async def _authorize_run(auth: Authorizer, thread_id: str | None, run_id: str, temporary: bool, assistant: Assistant, request: RunRequest) -> Filter:
    """The `create_run` event and the assistant check of one run. The handler may change
    the run's metadata (`request.metadata` is updated with what it left); returns the
    filter the run's existing thread must pass."""
    if not auth.enabled:
        return ALL
    parsed = ids.parse_uuid(thread_id) if thread_id is not None else None
    value: dict[str, Any] = {
        "thread_id": None if temporary else parsed,
        "assistant_id": uuid.UUID(assistant.assistant_id),
        "run_id": uuid.UUID(run_id),
        "status": "pending",
        "metadata": request.metadata,
        "prevent_insert_if_inflight": request.multitask_strategy == "reject",
        "multitask_strategy": request.multitask_strategy,
        "if_not_exists": request.if_not_exists,
        "after_seconds": request.kwargs.get("after_seconds") or 0,
        "kwargs": request.kwargs,
    }
    allowed = await auth.authorize("threads", "create_run", value)
    metadata = value.get("metadata")
    request.metadata = metadata if isinstance(metadata, dict) else {}
    if assistant.metadata.get("created_by") != "system":
        readable = await auth.authorize("assistants", "read", {"assistant_id": uuid.UUID(assistant.assistant_id)})
        if not readable.allows(assistant.metadata):
            raise NotFound("Thread or assistant not found.")
    return allowed
