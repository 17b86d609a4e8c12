"""Creating runs: what a run request means, checked, and turned into a stored, queued run.

The HTTP handlers, the cron scheduler and the v2 protocol all create runs here, with the
same rules and the same errors. Nothing is stored for a request that is refused, and a
run that is stored is also started: creation and start are one shielded step, so a
client that disconnects mid-request cannot leave a run that nothing runs.
"""

from __future__ import annotations

from typing import Any

import attrs
import orjson
import trio

from .. import ids
from ..errors import BadRequest, Invalid, NotFound
from ..storage.records import Run, Thread
from ..storage.tables import Tables
from ..validate import field
from .assistants import Assistants
from .chunks import STREAM_MODES
from .queue import RunQueue
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
        field(body, "stream_resumable", bool, False)  # every stream is resumable here
        config = body.get("config") or {}
        if (config.get("configurable") or {}) and body.get("context"):
            raise BadRequest("Cannot specify both configurable and context. Prefer setting context alone.")
        kwargs = {name: body.get(name) for name in RUN_KWARGS}
        kwargs["stream_mode"] = stream_mode
        kwargs["subgraphs"] = subgraphs
        kwargs["resumable"] = True
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

    def __init__(self, *, tables: Tables, assistants: Assistants, queue: RunQueue) -> None:
        self.tables = tables
        self.assistants = assistants
        self.queue = queue

    async def create(self, thread_id: str | None, request: RunRequest, *, auth: dict[str, Any] | None = None) -> Run:
        """Resolve, build and submit a run; `thread_id` None makes a stateless run (on a
        thread of its own, deleted when it ends, unless `on_completion="keep"`)."""
        assistant = self.assistants.resolve_for_run(request.assistant_id)
        command = request.kwargs.get("command")
        temporary = thread_id is None and request.on_completion == "delete"
        if thread_id is None and command and command.get("resume") is not None:
            raise BadRequest("You must provide a thread_id when resuming.")
        extra_ops = []
        now = ids.now_iso()
        thread_metadata: dict[str, Any] = {}
        if thread_id is None:
            thread_id = ids.new_id()
            extra_ops.append(self.tables.put_thread_op(Thread(thread_id, now, now, temporary=temporary, graph_id=assistant.graph_id)))
        else:
            parsed = ids.parse_uuid(thread_id)
            if parsed is None:
                raise BadRequest("badly formed hexadecimal UUID string")
            thread_id = str(parsed)
            thread = self.tables.get_thread(thread_id)
            if thread is None or thread.temporary:
                if request.if_not_exists != "create":
                    raise NotFound("Thread or assistant not found.")
                thread_metadata = {"graph_id": assistant.graph_id, "assistant_id": assistant.assistant_id}
                extra_ops.append(self.tables.put_thread_op(Thread(thread_id, now, now, metadata=thread_metadata, graph_id=assistant.graph_id)))
            else:
                thread_metadata = thread.metadata
        # As the reference: the run's metadata is the assistant's, the thread's, then the request's.
        metadata = {**assistant.metadata, **thread_metadata, **request.metadata}
        kwargs = {**request.kwargs, "temporary": temporary}
        if auth:
            kwargs["auth"] = auth
        run = Run(
            run_id=ids.new_id(),
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
