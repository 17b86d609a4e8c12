"""`trioserver import --from-postgres URL`: an Aegra or langgraph-checkpoint-postgres database
into a data directory, through trioserver's own storage classes (see `datadir`).

From a plain checkpointer database (no Aegra tables) threads are rebuilt from their
checkpoints alone: no metadata beyond the checkpoints', status from pending interrupts.
From Aegra, threads, assistants with versions, runs and crons come along. Store items
come from `store` in both cases. Each thread is one LMDB transaction; re-runs rewrite the
same keys.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from typing import Any

import psycopg
from langgraph.checkpoint.postgres import PostgresSaver
from psycopg.rows import dict_row

from .. import jsonenc
from .datadir import Assistant, AssistantVersion, Cron, DataDir, DataDirWriter, Run, StoreItem, Thread
from .progress import Progress

AEGRA_TABLES = ("thread", "assistant", "assistant_versions", "runs", "crons")
INTERRUPT = "__interrupt__"


class SourceNotReady(Exception):
    """The database holds nothing this importer reads."""


def _iso(value: dt.datetime | None) -> str | None:
    if value is None:
        return None
    return (value if value.tzinfo else value.replace(tzinfo=dt.UTC)).isoformat()


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat()


class PostgresSource:
    """The database being imported: Aegra's tables when present, the stock LangGraph ones always."""

    def __init__(self, url: str, owner: str | None) -> None:
        self.conn = psycopg.connect(url, autocommit=True, prepare_threshold=0, row_factory=dict_row)
        self.saver = PostgresSaver(self.conn)
        self.owner = owner
        self.aegra = all(self._exists(t) for t in AEGRA_TABLES)
        self.has_store = self._exists("store")
        if not self._exists("checkpoints") or not self._exists("checkpoint_writes"):
            self.close()
            raise SourceNotReady("this database has no LangGraph checkpoint tables (checkpoints, checkpoint_writes): nothing to import")

    def close(self) -> None:
        self.conn.close()

    def _exists(self, table: str) -> bool:
        row = self.conn.execute("SELECT to_regclass(%s) AS t", (table,)).fetchone()
        return row is not None and row["t"] is not None

    def _owned(self, column: str = "user_id") -> tuple[str, tuple]:
        return (f" WHERE {column} = %s", (self.owner,)) if self.owner else ("", ())

    def thread_rows(self) -> list[dict[str, Any]]:
        if self.aegra:
            where, args = self._owned()
            return self.conn.execute(f"SELECT * FROM thread{where} ORDER BY created_at", args).fetchall()
        rows = self.conn.execute("SELECT DISTINCT thread_id FROM checkpoints ORDER BY thread_id").fetchall()
        return [{"thread_id": r["thread_id"], "status": None, "metadata_json": None, "created_at": None, "updated_at": None} for r in rows]

    def checkpoints(self, thread_id: str) -> list[Any]:
        """Oldest first, every namespace."""
        tuples = list(self.saver.list({"configurable": {"thread_id": thread_id}}))
        tuples.sort(key=lambda t: (t.config["configurable"]["checkpoint_id"], t.config["configurable"].get("checkpoint_ns", "")))
        return tuples

    def writes(self, thread_id: str) -> list[tuple[str, str, str, str, int, str, Any]]:
        rows = self.conn.execute(
            "SELECT checkpoint_ns, checkpoint_id, task_id, task_path, idx, channel, type, blob FROM checkpoint_writes WHERE thread_id = %s",
            (thread_id,),
        ).fetchall()
        loads = self.saver.serde.loads_typed
        return [
            (r["checkpoint_ns"], r["checkpoint_id"], r["task_id"], r["task_path"] or "", r["idx"], r["channel"], loads((r["type"], r["blob"])))
            for r in rows
        ]

    def runs(self, thread_id: str) -> list[dict[str, Any]]:
        if not self.aegra:
            return []
        return self.conn.execute("SELECT * FROM runs WHERE thread_id = %s ORDER BY created_at", (thread_id,)).fetchall()

    def assistants(self) -> list[tuple[dict[str, Any], list[dict[str, Any]]]]:
        if not self.aegra:
            return []
        where, args = (" WHERE user_id IN (%s, 'system')", (self.owner,)) if self.owner else ("", ())
        out = []
        for row in self.conn.execute(f"SELECT * FROM assistant{where} ORDER BY created_at", args).fetchall():
            versions = self.conn.execute(
                "SELECT * FROM assistant_versions WHERE assistant_id = %s ORDER BY version", (row["assistant_id"],)
            ).fetchall()
            out.append((row, versions))
        return out

    def crons(self) -> list[dict[str, Any]]:
        if not self.aegra:
            return []
        where, args = self._owned()
        return self.conn.execute(f"SELECT * FROM crons{where} ORDER BY created_at", args).fetchall()

    def store_items(self) -> list[StoreItem]:
        if not self.has_store:
            return []
        rows = self.conn.execute("SELECT prefix, key, value, created_at, updated_at FROM store ORDER BY prefix, key").fetchall()
        return [StoreItem(tuple(r["prefix"].split(".")), r["key"], r["value"], r["created_at"], r["updated_at"]) for r in rows]


# -- records ---------------------------------------------------------------------------------


def _latest_root(tuples: list[Any]) -> Any | None:
    roots = [t for t in tuples if not t.config["configurable"].get("checkpoint_ns")]
    return roots[-1] if roots else None


def thread_values(latest: Any | None) -> Any:
    """The state values a thread shows (what `threads.get` returns without running the graph):
    the latest root checkpoint's channels, without LangGraph's internal ones."""
    if latest is None:
        return None
    channels = latest.checkpoint["channel_values"]
    if "__root__" in channels:
        return jsonenc.to_plain(channels["__root__"])
    return jsonenc.to_plain({k: v for k, v in channels.items() if not k.startswith(("__", "branch:"))})


def thread_interrupts(latest: Any | None) -> dict[str, list[dict[str, Any]]]:
    """Task id -> its pending interrupts, from the latest root checkpoint's writes."""
    out: dict[str, list[dict[str, Any]]] = {}
    if latest is None:
        return out
    for task_id, channel, value in latest.pending_writes or []:
        if channel == INTERRUPT:
            for interrupt in value if isinstance(value, (list, tuple)) else [value]:
                out.setdefault(task_id, []).append(jsonenc.to_plain({"id": getattr(interrupt, "id", None), "value": getattr(interrupt, "value", None)}))
    return out


def make_thread(row: dict[str, Any], tuples: list[Any]) -> Thread:
    latest = _latest_root(tuples)
    metadata = dict(row["metadata_json"] or {})
    if not row["metadata_json"] and latest is not None:  # plain checkpointer: what the checkpoints say
        for key in ("graph_id", "assistant_id"):
            if latest.metadata.get(key):
                metadata[key] = latest.metadata[key]
    interrupts = thread_interrupts(latest)
    first_ts = tuples[0].checkpoint.get("ts") if tuples else None
    last_ts = latest.checkpoint.get("ts") if latest is not None else None
    status = row["status"] or ("interrupted" if interrupts else "idle")
    return Thread(
        thread_id=row["thread_id"],
        created_at=_iso(row["created_at"]) or first_ts or _now(),
        updated_at=_iso(row["updated_at"]) or last_ts or _now(),
        metadata=metadata,
        status="idle" if status == "busy" else status,
        values=thread_values(latest),
        interrupts=interrupts,
        graph_id=metadata.get("graph_id"),
    )


def make_run(row: dict[str, Any], graph_of: dict[str, str], thread: Thread) -> Run:
    status = row["status"]
    return Run(
        run_id=row["run_id"],
        thread_id=row["thread_id"],
        assistant_id=row["assistant_id"] or "",
        graph_id=graph_of.get(row["assistant_id"] or "", thread.graph_id or ""),
        created_at=_iso(row["created_at"]) or _now(),
        updated_at=_iso(row["updated_at"]) or _now(),
        status="interrupted" if status in ("pending", "running") else status,
        kwargs={"input": row["input"], "config": row["config"] or {}, "context": row["context"] or {}},
    )


def make_assistant(row: dict[str, Any], versions: list[dict[str, Any]]) -> tuple[Assistant, list[AssistantVersion]]:
    assistant = Assistant(
        assistant_id=row["assistant_id"], graph_id=row["graph_id"], name=row["name"], created_at=_iso(row["created_at"]) or _now(),
        updated_at=_iso(row["updated_at"]) or _now(), version=row["version"], config=row["config"] or {},
        context=row["context"] or {}, metadata=row["metadata"] or {}, description=row["description"],
    )
    return assistant, [
        AssistantVersion(
            assistant_id=v["assistant_id"], graph_id=v["graph_id"], name=v["name"] or assistant.name, version=v["version"],
            created_at=_iso(v["created_at"]) or assistant.created_at, config=v["config"] or {}, context=v["context"] or {},
            metadata=v["metadata"] or {}, description=v["description"],
        )
        for v in versions
    ]


def make_cron(row: dict[str, Any]) -> Cron:
    payload = dict(row["payload"] or {})
    timezone = payload.pop("timezone", None)
    return Cron(
        cron_id=row["cron_id"], assistant_id=row["assistant_id"], thread_id=row["thread_id"], schedule=row["schedule"],
        payload=payload, created_at=_iso(row["created_at"]) or _now(), updated_at=_iso(row["updated_at"]) or _now(),
        next_run_date=_iso(row["next_run_date"]), end_time=_iso(row["end_time"]), timezone=timezone,
        user_id=row["user_id"], metadata=row["metadata"] or {}, on_run_completed=row["on_run_completed"], enabled=row["enabled"],
    )


# -- the command -----------------------------------------------------------------------------


def _line(counts: dict[str, int]) -> str:
    return ", ".join(f"{n:,} {name}" for name, n in counts.items())


def run_import(url: str, data_dir: str, *, owner: str | None = None, verify: bool = True, out: Callable[[str], None] = print) -> int:
    started = time.monotonic()
    src = PostgresSource(url, owner)
    moved = {"threads": 0, "checkpoints": 0, "writes": 0, "runs": 0, "assistants": 0, "crons": 0, "store items": 0}
    try:
        out(f"importing from {'an Aegra' if src.aegra else 'a langgraph-checkpoint-postgres'} database into {data_dir}")
        rows = src.thread_rows()
        with DataDirWriter(data_dir) as dst:
            graph_of = {}
            for row, versions in src.assistants():
                assistant, kept = make_assistant(row, versions)
                dst.put_assistant(assistant, kept)
                graph_of[assistant.assistant_id] = assistant.graph_id
                moved["assistants"] += 1
            progress = Progress({"threads": len(rows)})
            for row in rows:
                tuples = src.checkpoints(row["thread_id"])
                thread = make_thread(row, tuples)
                checkpoints = [
                    (t.checkpoint, t.metadata, t.config, t.parent_config["configurable"]["checkpoint_id"] if t.parent_config else None)
                    for t in tuples
                ]
                writes = src.writes(thread.thread_id)
                runs = [make_run(r, graph_of, thread) for r in src.runs(thread.thread_id)]
                dst.put_thread(thread, checkpoints, writes, runs)
                moved["threads"] += 1
                moved["checkpoints"] += len(tuples)
                moved["writes"] += len(writes)
                moved["runs"] += len(runs)
                progress.advance(threads=1)
            progress.finish()
            for row in src.crons():
                dst.put_cron(make_cron(row))
                moved["crons"] += 1
            items = src.store_items()
            if items:
                dst.put_store_items(items)
            moved["store items"] = len(items)
            held = dst.counts()
        out(f"moved {_line(moved)} in {time.monotonic() - started:.1f} s")
        out("not moved: event streams (Postgres keeps none); runs keep id, status, input, config and timestamps")
        status = 0
        if verify:
            status = _verify(src, data_dir, [r["thread_id"] for r in rows], out)
        out(f"data directory now holds: {_line(held)}")
        return status
    finally:
        src.close()


def _verify(src: PostgresSource, data_dir: str, thread_ids: list[str], out: Callable[[str], None]) -> int:
    from .verify import verify

    started = time.monotonic()
    with DataDir(data_dir) as written:
        differences, newer = verify(src.saver, written.saver, thread_ids)
    if newer:
        out(f"verification: {newer:,} checkpoint(s) are newer in the data directory (threads that went on there since an earlier import)")
    if not differences:
        out(f"verified: {len(thread_ids):,} threads identical on both sides ({time.monotonic() - started:.1f} s)")
        return 0
    out(f"verification: {len(differences)} thread(s) differ:")
    for thread_id, problems in differences.items():
        for problem in problems[:20]:
            out(f"  thread {thread_id}: {problem}")
    return 1
