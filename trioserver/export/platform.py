"""Writing a deployment into LangGraph Platform (self-hosted `langgraph-api`) through its HTTP API.

Untested against a licensed server: it is written to the Agent Server API that trioserver
itself implements, and exercised against trioserver. The Platform's Postgres schema is
private, so only what the API can take moves:

- assistants with their versions (created at version 1, then one PATCH per later version);
- threads with their metadata and their latest state (values, written as the node that
  produced them, so `next` follows); not their history, checkpoint ids, timestamps or
  status, and not a pending `interrupt()` (the API cannot create one);
- crons (new ids: the API assigns them; the old id is kept in metadata, which also makes
  re-runs skip them);
- store items, with their namespaces.
Runs and event logs do not move.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import httpx

from .. import jsonenc
from ..ids import graph_assistant_id
from .datadir import Assistant, AssistantVersion, Checkpoint, Cron, Run, StoreItem, Thread

ORIGIN_KEY = "trioserver_cron_id"


class PlatformTarget:
    name = "platform"

    def __init__(self, url: str, *, api_key: str | None = None) -> None:
        headers = {"x-api-key": api_key} if api_key else {}
        self.http = httpx.Client(base_url=url.rstrip("/"), headers=headers, timeout=60)
        self.moved_state = 0
        self.skipped_runs = 0

    def close(self) -> None:
        self.http.close()

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        response = self.http.request(method, path, json=body)
        response.raise_for_status()
        return response.json() if response.content else None

    def check_ready(self) -> None:
        self.http.get("/ok").raise_for_status()

    def served_graphs(self) -> set[str]:
        found = self._call("POST", "/assistants/search", {"metadata": {"created_by": "system"}, "limit": 1000})
        return {a["graph_id"] for a in found if a["assistant_id"] == graph_assistant_id(a["graph_id"])}

    def assistant_ids(self) -> None:
        return None  # runs do not move, crons name assistants the API checks itself

    def put_assistant(self, assistant: Assistant, versions: list[AssistantVersion]) -> str:
        if assistant.assistant_id == graph_assistant_id(assistant.graph_id):
            return "kept"
        history = versions or [AssistantVersion(
            assistant_id=assistant.assistant_id, graph_id=assistant.graph_id, name=assistant.name, version=assistant.version,
            created_at=assistant.updated_at, config=assistant.config, context=assistant.context, metadata=assistant.metadata,
            description=assistant.description,
        )]
        first, later = history[0], history[1:]
        try:
            existing = self._call("POST", "/assistants", {
                "assistant_id": assistant.assistant_id, "graph_id": first.graph_id, "name": first.name,
                "description": first.description, "metadata": first.metadata, **_config_body(first),
                "if_exists": "do_nothing",
            })
            for v in later:
                if existing.get("version", 1) >= v.version:
                    continue  # already there (a re-run)
                existing = self._call("PATCH", f"/assistants/{assistant.assistant_id}", {
                    "graph_id": v.graph_id, "name": v.name, "description": v.description, "metadata": v.metadata, **_config_body(v),
                })
        except httpx.HTTPStatusError as exc:
            return f"the target refused it: {exc.response.status_code} {exc.response.text[:200]}"
        return "moved"

    def put_thread(self, thread: Thread, status: str, checkpoints: list[Checkpoint], runs: list[tuple[Run, str]], serde: Any) -> None:
        self.skipped_runs += len(runs)
        self._call("POST", "/threads", {"thread_id": thread.thread_id, "metadata": thread.metadata, "if_exists": "do_nothing"})
        roots = [c for c in checkpoints if not c.ns]
        if not roots:
            return
        current = self._call("GET", f"/threads/{thread.thread_id}/state")
        if current.get("checkpoint_id"):
            return  # state already written (a re-run), or the thread went on there
        latest = roots[-1]
        parent = next((c for c in roots if c.checkpoint_id == latest.parent_id), None)
        body: dict[str, Any] = {"values": latest_values(latest, serde)}
        node = last_node(latest, parent)
        if node:
            body["as_node"] = node
        self._call("POST", f"/threads/{thread.thread_id}/state", body)
        self.moved_state += 1

    def has_thread(self, thread_id: str) -> bool:
        return self.http.get(f"/threads/{thread_id}").status_code == 200

    def put_cron(self, cron: Cron) -> None:
        found = self._call("POST", "/runs/crons/search", {"metadata": {ORIGIN_KEY: cron.cron_id}, "limit": 1})
        if found:
            return
        payload = {k: v for k, v in cron.payload.items() if k not in ("assistant_id", "thread_id")}
        body = {**payload, "assistant_id": cron.assistant_id, "schedule": cron.schedule,
                "metadata": {**(cron.metadata or {}), ORIGIN_KEY: cron.cron_id}}
        for key in ("end_time", "timezone", "on_run_completed"):
            if getattr(cron, key) is not None:
                body[key] = getattr(cron, key)
        body["enabled"] = cron.enabled
        path = f"/threads/{cron.thread_id}/runs/crons" if cron.thread_id else "/runs/crons"
        self._call("POST", path, body)

    def put_store_items(self, items: Iterable[StoreItem]) -> None:
        for item in items:
            self._call("PUT", "/store/items", {"namespace": list(item.namespace), "key": item.key, "value": item.value})

    def checkpointer(self) -> None:
        return None

    def notes(self) -> list[str]:
        return [
            f"platform: {self.moved_state} thread state(s) written as their latest values; history, checkpoint ids, "
            "timestamps, statuses and pending interrupt() tasks do not move through the API",
            f"not moved: {self.skipped_runs} run record(s) and every event log (the API creates neither)",
        ]

    def counts(self) -> dict[str, int]:
        return {}


def _config_body(v: AssistantVersion) -> dict[str, Any]:
    """`context` alone when it mirrors `config.configurable` (servers refuse both, then mirror it)."""
    configurable = (v.config or {}).get("configurable") or {}
    if v.context and v.context == configurable:
        rest = {k: val for k, val in (v.config or {}).items() if k != "configurable"}
        return {"config": rest, "context": v.context} if rest else {"context": v.context}
    return {"config": v.config or {}, "context": v.context or {}} if v.context else {"config": v.config or {}}


def latest_values(checkpoint: Checkpoint, serde: Any) -> Any:
    """The state values of a checkpoint, decoded from its blobs, as JSON."""
    values = {ch: serde.loads_typed(blob) for ch, blob in checkpoint.blobs.items()}
    if "__root__" in values:
        return jsonenc.to_plain(values["__root__"])
    return jsonenc.to_plain({k: v for k, v in values.items() if not k.startswith(("__", "branch:"))})


def last_node(latest: Checkpoint, parent: Checkpoint | None) -> str | None:
    """The node that produced `latest`: the one whose `versions_seen` changed (it ran in
    that step). None when it was not exactly one node (the server then picks)."""
    seen = latest.checkpoint.get("versions_seen") or {}
    before = (parent.checkpoint.get("versions_seen") or {}) if parent else {}
    ran = [node for node, versions in seen.items() if before.get(node) != versions and not node.startswith("__")]
    return ran[0] if len(ran) == 1 else None
