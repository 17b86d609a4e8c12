"""Agent-to-Agent (A2A) shapes, rendered from runs and thread state, as the reference
renders them: a context is a thread, a task is one run on it (`<thread id>:<run id>`),
a task's history is the thread's messages.

Everything is built in A2A v1.0 spelling (`ROLE_USER`, `TASK_STATE_COMPLETED`, results
wrapped as `{"task": ...}`); `legacy()` turns it into the v0.3 spelling that the v0.3
method names (`message/send`, `tasks/get`, ...) are answered in.
"""

from __future__ import annotations

import uuid
from typing import Any

from .. import ids
from ..storage.records import Run, Thread

TASK_STATES = {
    "pending": "TASK_STATE_SUBMITTED",
    "running": "TASK_STATE_WORKING",
    "success": "TASK_STATE_COMPLETED",
    "interrupted": "TASK_STATE_CANCELED",  # cancelled by a client (an interrupt() leaves the run a success)
    "error": "TASK_STATE_FAILED",
    "timeout": "TASK_STATE_FAILED",
}
TERMINAL = frozenset({"TASK_STATE_COMPLETED", "TASK_STATE_CANCELED", "TASK_STATE_FAILED"})
LEGACY_STATES = {
    "TASK_STATE_SUBMITTED": "submitted",
    "TASK_STATE_WORKING": "working",
    "TASK_STATE_COMPLETED": "completed",
    "TASK_STATE_FAILED": "failed",
    "TASK_STATE_CANCELED": "canceled",
    "TASK_STATE_INPUT_REQUIRED": "input-required",
}
LEGACY_ROLES = {"ROLE_USER": "user", "ROLE_AGENT": "agent"}
ARTIFACT_NAME = "Assistant Response"


def task_id(context_id: str, run_id: str) -> str:
    return f"{context_id}:{run_id}"


def parse_task_id(value: str) -> tuple[str, str] | None:
    """(context id, run id) of a task id, or None."""
    context_id, sep, run_id = value.partition(":")
    if not sep or ids.parse_uuid(context_id) is None or ids.parse_uuid(run_id) is None:
        return None
    return str(ids.parse_uuid(context_id)), str(ids.parse_uuid(run_id))


def task_state(run: Run, thread: Thread | None) -> str:
    state = TASK_STATES.get(run.status, "TASK_STATE_SUBMITTED")
    if run.status == "success" and thread is not None and thread.status == "interrupted":
        return "TASK_STATE_INPUT_REQUIRED"  # the graph waits at an interrupt() for this task's answer
    return state


def run_task_id(run: Run) -> str:
    """The task a run belongs to: its own, or the one it continued (kept in its metadata)."""
    a2a = run.metadata.get("a2a") if isinstance(run.metadata.get("a2a"), dict) else {}
    stored = a2a.get("task_id") if a2a else None
    return stored if isinstance(stored, str) and stored else task_id(run.thread_id, run.run_id)


def task_ids_by_start(runs: list[Run]) -> dict[str, str]:
    """`task_start_id` (stamped on the message that started a task) -> that task's id."""
    out = {}
    for run in runs:
        a2a = run.metadata.get("a2a")
        if isinstance(a2a, dict) and isinstance(a2a.get("task_start_id"), str):
            out[a2a["task_start_id"]] = run_task_id(run)
    return out


# -- messages -------------------------------------------------------------------------------


def text_of(content: Any) -> str:
    """A LangChain message's content as plain text (text blocks joined)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(b if isinstance(b, str) else str(b.get("text", "")) for b in content if isinstance(b, (str, dict)))
    return "" if content is None else str(content)


def is_human(message: dict[str, Any]) -> bool:
    return message.get("type") in ("human", "HumanMessage") or message.get("role") in ("user", "human")


def is_ai(message: dict[str, Any]) -> bool:
    return message.get("type") in ("ai", "AIMessage", "AIMessageChunk") or message.get("role") in ("assistant", "ai")


def history(values: Any, context_id: str, by_start: dict[str, str], *, only_task: str | None = None) -> list[dict[str, Any]]:
    """The thread's messages as A2A messages, each with the task it belongs to: a message
    a task started with names it (`additional_kwargs.a2a`); the agent's answers belong
    to the task of the user message before them."""
    messages = values.get("messages") if isinstance(values, dict) else None
    out = []
    current: str | None = None
    for message in messages or []:
        if not isinstance(message, dict):
            continue
        if is_human(message):
            a2a = (message.get("additional_kwargs") or {}).get("a2a") or {}
            current = a2a.get("task_id") or by_start.get(str(a2a.get("task_start_id"))) or current
            role = "ROLE_USER"
        elif is_ai(message) and text_of(message.get("content")):
            role = "ROLE_AGENT"
        else:
            continue  # tool calls and results are the agent's business
        if only_task is not None and current != only_task:
            continue
        out.append(message_json(role, [{"kind": "text", "text": text_of(message.get("content"))}], str(message.get("id") or uuid.uuid4()), current, context_id))
    return out


def message_json(role: str, parts: list[dict[str, Any]], message_id: str, task: str | None, context_id: str | None) -> dict[str, Any]:
    out: dict[str, Any] = {"kind": "message", "role": role, "parts": parts, "messageId": message_id}
    if task is not None:
        out["taskId"] = task
    if context_id is not None:
        out["contextId"] = context_id
    return out


def last_answer(values: Any) -> str | None:
    """The text of the last AI message, if the values have messages."""
    messages = values.get("messages") if isinstance(values, dict) else None
    for message in reversed(messages or []):
        if isinstance(message, dict) and is_ai(message) and text_of(message.get("content")):
            return text_of(message.get("content"))
    return None


def artifact(values: Any, assistant_id: str) -> dict[str, Any]:
    """The task's result: the agent's last answer, or (a graph without messages) its values."""
    text = last_answer(values)
    return {
        "artifactId": str(uuid.uuid4()),
        "name": ARTIFACT_NAME,
        "description": f"Response from assistant {assistant_id}",
        "parts": [{"kind": "text", "text": text if text is not None else repr(values)}],
    }


def status(state: str, timestamp: str | None = None, message: dict[str, Any] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"state": state, "timestamp": timestamp or ids.now_iso()}
    if message is not None:
        out["message"] = message
    return out


def legacy(value: Any) -> Any:
    """v1.0 spelling -> v0.3 spelling: lower-case roles and states, a result's `{"task": t}` unwrapped."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if key == "role" and isinstance(item, str):
                out[key] = LEGACY_ROLES.get(item, item)
            elif key == "state" and isinstance(item, str):
                out[key] = LEGACY_STATES.get(item, item)
            elif key == "result" and isinstance(item, dict) and list(item) == ["task"]:
                out[key] = legacy(item["task"])
            else:
                out[key] = legacy(item)
        return out
    if isinstance(value, list):
        return [legacy(v) for v in value]
    return value
