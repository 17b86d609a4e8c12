"""Commands of the event streaming protocol (v2): one command in, one response envelope
out, over HTTP (`POST /threads/{t}/commands`) and WebSocket alike.

Runs started here are ordinary runs (`Runs.create`), marked to be driven through the
protocol stream; the classic API lists, joins and cancels them like any other. Choices
where the reference servers leave things open (see README): no cancel command (clients
cancel through the classic endpoint), `input.respond` refuses interrupt ids the thread is
not waiting on (strict resume), `agent.getTree` and `state.get` work over HTTP too.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import orjson
import trio

from .. import ids
from ..errors import ServerError
from ..runtime.protocol_events import V2_MODE, split_name
from ..runtime.runs import MULTITASK, RunRequest
from ..storage.records import Run, Thread
from .v2 import ROOT_STATUS, BadFilter, Filter, is_count, parse_filter

if TYPE_CHECKING:
    from ..services import Services

SETTLE_WAIT = 5.0  # seconds a resume waits for the running run to record its interrupt

# What a run started through v2 is recorded with (nominal: the protocol stream decides).
V2_STREAM_MODES = ["values", "updates", "messages", "custom", "tasks", "checkpoints"]


class CommandError(Exception):
    def __init__(self, code: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.extra = extra


def success(command_id: Any, result: dict[str, Any], applied_through: int) -> dict[str, Any]:
    return {"type": "success", "id": command_id, "result": result, "meta": {"applied_through_seq": applied_through}}


def failure(command_id: Any, code: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"type": "error", "id": command_id, "error": code, "message": message, **extra}


ENVELOPE_ERROR = "Protocol commands must include an integer id and string method."


def check_envelope(command: Any) -> dict[str, Any] | None:
    """None when `command` is a command; else the error answer (an HTTP 400 body)."""
    if isinstance(command, dict) and is_count(command.get("id")) and isinstance(command.get("method"), str):
        return None
    command_id = command.get("id") if isinstance(command, dict) and isinstance(command.get("id"), int) else None
    return failure(command_id, "invalid_argument", ENVELOPE_ERROR)


# A WebSocket session's subscription commands (HTTP has none: its filters are the streams').
Subscriber = Callable[[str, dict[str, Any], Filter, int | None], Awaitable[dict[str, Any]]]


class Commands:
    def __init__(self, svc: Services) -> None:
        self.svc = svc

    def applied_through(self, thread_id: str) -> int:
        """The thread's last seq: a command's answer carries it as it was before the
        command took effect. Clients resume their streams after it (`since`), so a run a
        command starts shows in full, its start included."""
        return self.svc.log.committed_id(thread_id).to_seq()

    async def handle(self, thread_id: str, command: dict[str, Any], *, subscribe: Subscriber | None = None, unsubscribe: Callable[[str], bool] | None = None) -> dict[str, Any]:
        """The response envelope for one (well-formed) command."""
        method, command_id = command["method"], command["id"]
        raw_params = command.get("params")
        params: dict[str, Any] = raw_params if isinstance(raw_params, dict) else {}
        before = self.applied_through(thread_id)
        try:
            if method == "run.start":
                result = await self.run_start(thread_id, params)
            elif method == "input.respond":
                result = await self.input_respond(thread_id, params)
            elif method in ("subscription.subscribe", "subscription.reconnect"):
                result = await self.subscription(thread_id, method, params, subscribe)
            elif method == "subscription.unsubscribe":
                sub_id = params.get("subscription_id")
                if unsubscribe is not None and not (isinstance(sub_id, str) and unsubscribe(sub_id)):
                    raise CommandError("no_such_subscription", f"No subscription {sub_id!r} on this connection.")
                result = {}
            elif method == "agent.getTree":
                result = {"tree": self.agent_tree(thread_id)}
            elif method == "state.get":
                result = await self.state_get(thread_id, params)
            else:
                raise CommandError("unknown_command", f"Unknown command: {method}")
        except CommandError as exc:
            return failure(command_id, exc.code, exc.message, **exc.extra)
        except ServerError as exc:
            return {**failure(command_id, "unknown_error", f"{exc.status}: {exc.detail}"), "meta": {"applied_through_seq": before}}
        return success(command_id, result, before)

    # -- runs ----------------------------------------------------------------------------

    async def run_start(self, thread_id: str, params: dict[str, Any]) -> dict[str, Any]:
        assistant_id = params.get("assistant_id")
        if not isinstance(assistant_id, str) or not assistant_id:
            raise CommandError("invalid_argument", "run.start requires an assistant_id.")
        given = params.get("config")
        config: dict[str, Any] = given if isinstance(given, dict) else {}
        configurable = dict(config.get("configurable") or {})
        given_checkpoint = configurable.pop("checkpoint_id", None)
        checkpoint_id = ids.parse_uuid(given_checkpoint) if given_checkpoint is not None else None
        if given_checkpoint is not None and checkpoint_id is None:
            raise CommandError("invalid_argument", f"Invalid config.configurable.checkpoint_id: {given_checkpoint!r}.")
        strategy = params.get("multitask_strategy") or params.get("multitaskStrategy")
        body: dict[str, Any] = {
            "assistant_id": assistant_id,
            "config": {**config, "configurable": configurable},
            "metadata": params.get("metadata") if isinstance(params.get("metadata"), dict) else None,
            "multitask_strategy": strategy if strategy in MULTITASK else "enqueue",
            "if_not_exists": "create",
            "stream_subgraphs": True,
            "stream_mode": V2_STREAM_MODES,
        }
        graph_input = params.get("input")
        thread = await self._settled_thread(thread_id) if graph_input is not None else None
        if thread is not None and thread.interrupts:
            body["command"] = {"resume": graph_input}  # a run.start on an interrupted thread resumes it
        else:
            body["input"] = graph_input
        if checkpoint_id is not None:
            body["checkpoint_id"] = str(checkpoint_id)
        run = await self._create(thread_id, body)
        return {"run_id": run.run_id}

    async def input_respond(self, thread_id: str, params: dict[str, Any]) -> dict[str, Any]:
        answers = params.get("responses")
        if answers is None and "interrupt_id" in params:
            answers = [params]
        if not isinstance(answers, list) or not answers or not all(isinstance(a, dict) and isinstance(a.get("interrupt_id"), str) for a in answers):
            raise CommandError("invalid_argument", "input.respond requires an interrupt_id (or a non-empty responses list).")
        thread = await self._settled_thread(thread_id)
        pending = _pending_interrupts(thread)
        if not pending:
            raise CommandError("no_such_run", "No interrupted run is bound to this thread.")
        for answer in answers:
            if answer["interrupt_id"] not in pending:
                raise CommandError("no_such_interrupt", f"Unknown or already-consumed interrupt: {answer['interrupt_id']}")
        assert thread is not None
        command: dict[str, Any] = {"resume": {a["interrupt_id"]: a.get("response") for a in answers}}
        for key in ("update", "goto"):
            if params.get(key) is not None:
                command[key] = params[key]
        body: dict[str, Any] = {
            "assistant_id": thread.metadata.get("assistant_id") or thread.graph_id,
            "command": command,
            "config": params.get("config") if isinstance(params.get("config"), dict) else None,
            "metadata": params.get("metadata") if isinstance(params.get("metadata"), dict) else None,
            "multitask_strategy": "enqueue",
            "stream_subgraphs": True,
            "stream_mode": V2_STREAM_MODES,
        }
        await self._create(thread_id, body)
        return {}

    async def _settled_thread(self, thread_id: str) -> Thread | None:
        """The thread, once a run that is running on it has ended (up to a few seconds):
        a client answers an interrupt as soon as it sees it, which is before the run that
        raised it has recorded it on the thread."""
        thread = self.svc.tables.get_thread(thread_id)
        with trio.move_on_after(SETTLE_WAIT):
            while thread is not None and not thread.interrupts and self.svc.queue.has_work(thread_id):
                running = self.svc.queue.run_ids(thread_id)[:1]
                if not running:
                    break
                await self.svc.queue.wait_finished(running[0])
                thread = self.svc.tables.get_thread(thread_id)
        return thread

    async def _create(self, thread_id: str, body: dict[str, Any]) -> Run:
        request = RunRequest.parse(body)
        request.kwargs["protocol"] = "v2"
        return await self.svc.runs.create(thread_id, request)

    # -- subscriptions (WebSocket only; over HTTP they are accepted and do nothing) ---------

    async def subscription(self, thread_id: str, method: str, params: dict[str, Any], subscribe: Subscriber | None) -> dict[str, Any]:
        try:
            wanted = parse_filter(params)
        except BadFilter:
            raise CommandError("invalid_argument", f"{method} received an unsupported channel.") from None
        since: int | None = None
        if method == "subscription.reconnect":
            if not is_count(params.get("since")):
                raise CommandError("invalid_argument", "subscription.reconnect requires an integer since >= 0.")
            since = int(params["since"])
            first = self.svc.log.first_id(thread_id)
            oldest = first.to_seq() if first is not None else None
            if oldest is not None and since > 0 and since + 1 < oldest:
                raise CommandError("resume_gap", "Events after since were pruned.", since=since, min_available_seq=oldest)
        given = params.get("subscription_id")
        sub_id = given if isinstance(given, str) else str(uuid.uuid4())
        if subscribe is None:
            return {"subscription_id": sub_id, "replayed_events": 0}
        return await subscribe(sub_id, params, wanted, since)

    # -- reading -------------------------------------------------------------------------

    def agent_tree(self, thread_id: str) -> dict[str, Any]:
        """The graph and subgraphs of the thread's latest run, with their statuses, from
        the lifecycle records in the log."""
        runs = self.svc.tables.thread_runs(thread_id)
        if not runs:
            raise CommandError("no_such_run", "No run has been started on this thread.")
        run = runs[-1]
        root: dict[str, Any] = {"namespace": [], "status": _tree_status(run.status), "graph_name": run.graph_id, "children": {}}
        after = run.start_position
        while True:
            batch = self.svc.log.read_after(thread_id, after)
            if not batch:
                break
            after = batch[-1][0]
            for _, event in batch:
                if event.run_id != run.run_id or event.mode != V2_MODE or not event.event.startswith("lifecycle|"):
                    continue
                _, namespace = split_name(event.event)
                data = orjson.loads(event.data).get("data") or {}
                node: dict[str, Any] = root
                for depth in range(1, len(namespace) + 1):
                    key = namespace[:depth]
                    node = node["children"].setdefault(key, {"namespace": list(key), "status": "started", "graph_name": key[-1].split(":", 1)[0], "children": {}})
                if data.get("graph_name") and data.get("event") == "started":
                    node["graph_name"] = data["graph_name"]
                node["status"] = data.get("event") or node["status"]
        return _tree_json(root)

    async def state_get(self, thread_id: str, params: dict[str, Any]) -> dict[str, Any]:
        thread = self.svc.tables.get_thread(thread_id)
        if thread is None or thread.temporary:
            raise CommandError("no_such_run", "No active run is bound to this thread.")
        state = await self.svc.threads.state(thread)
        values = state.get("values") or {}
        keys = params.get("keys")
        if isinstance(keys, list) and isinstance(values, dict):
            values = {k: v for k, v in values.items() if k in keys}
        checkpoint = state.get("checkpoint") or {}
        ref = {"id": checkpoint.get("checkpoint_id")} if checkpoint else None
        if ref is not None and checkpoint.get("checkpoint_ns"):
            ref["ns"] = checkpoint["checkpoint_ns"]
        return {"values": values, "checkpoint": ref}


def _pending_interrupts(thread: Thread | None) -> set[str]:
    if thread is None:
        return set()
    return {i["id"] for found in (thread.interrupts or {}).values() for i in found if isinstance(i, dict) and i.get("id")}


def _tree_status(run_status: str) -> str:
    """A run's status as the tree shows its root: the lifecycle phases, `started` while it waits."""
    return "started" if run_status == "pending" else ROOT_STATUS.get(run_status, "running")


def _tree_json(node: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in node.items() if k != "children"}
    children = [_tree_json(child) for _, child in sorted(node["children"].items())]
    if children:
        out["children"] = children
    return out
