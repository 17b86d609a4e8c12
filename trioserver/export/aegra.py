"""Writing a deployment into an Aegra database (Postgres): the stock LangGraph tables plus Aegra's own.

Checkpoints go where Aegra's checkpointer (the stock `PostgresSaver`) reads them: the
checkpoint row is written by `PostgresSaver.put` itself; channel blobs and pending writes
are copied as the serializer's (type, bytes), byte for byte, with the saver's own
upserts, so nothing is decoded and re-encoded on the way (values of classes the exporter
cannot import move unchanged). Aegra's resource rows (`thread`, `runs`, `assistant`,
`assistant_versions`, `crons`) are written with SQL because its API cannot keep ids,
timestamps, statuses or finished runs. Store items go through `PostgresStore`.

Every write is an upsert keyed as the target keys it, so running the export again
changes nothing. A thread (its row, checkpoints, writes and runs) is one transaction.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any, cast

import psycopg
from langgraph.checkpoint.postgres import PostgresSaver
from langgraph.store.base import PutOp
from langgraph.store.postgres import PostgresStore
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from ..ids import graph_assistant_id
from .datadir import Assistant, AssistantVersion, Checkpoint, Cron, Run, StoreItem, Thread

_DeltaSnapshot: type | None
try:  # a DeltaChannel snapshot is kept as a blob with an inline marker (as PostgresSaver.put does)
    from langgraph.checkpoint.serde.types import _DeltaSnapshot
except ImportError:  # pragma: no cover - older langgraph
    _DeltaSnapshot = None

AEGRA_TABLES = ("thread", "assistant", "assistant_versions", "runs", "crons")

# First bytes of a msgpack document holding one scalar (int, float, str, bool, nil):
# PostgresSaver keeps such values inline in the checkpoint row, not as blobs.
_SCALAR_LEADS = frozenset(
    [*range(0x00, 0x80), *range(0xA0, 0xC0), 0xC0, 0xC2, 0xC3, *range(0xCA, 0xD4), 0xD9, 0xDA, 0xDB, *range(0xE0, 0x100)]
)


class TargetNotReady(Exception):
    """The database lacks the tables the target's server creates at its first start."""


def _ts(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def _json(value: Any) -> Jsonb | None:
    return None if value is None else Jsonb(value)


class AegraTarget:
    """An Aegra database: `aegra-api` must have started on it once (it creates its tables)."""

    name = "aegra"

    def __init__(self, url: str, *, owner: str = "anonymous", owner_given: bool = False) -> None:
        self.url = url
        self.owner = owner
        self.owner_given = owner_given
        self.conn = psycopg.connect(url, autocommit=True, prepare_threshold=0, row_factory=dict_row)
        self.saver = PostgresSaver(self.conn)
        self.kv = PostgresStore(self.conn)
        self._assistant_ids: set[str] | None = None

    def close(self) -> None:
        self.conn.close()

    # -- readiness -------------------------------------------------------------------------

    def _exists(self, table: str) -> bool:
        return self._one("SELECT to_regclass(%s) AS t", (table,))["t"] is not None

    def _one(self, sql: str, args: tuple = ()) -> dict[str, Any]:
        row = self.conn.execute(sql, args).fetchone()
        assert row is not None, sql  # aggregate queries always answer one row
        return row

    def check_ready(self) -> None:
        """Refuse a database Aegra has not set up, or one whose checkpointer schema is not the
        one this exporter writes (blobs and writes are copied in that schema's columns)."""
        missing = [t for t in AEGRA_TABLES if not self._exists(t)]
        if missing or not self._exists("checkpoint_migrations") or not self._exists("store_migrations"):
            raise TargetNotReady(
                "this database has no Aegra tables yet (missing: "
                + ", ".join(missing or ["checkpoint_migrations/store_migrations"])
                + "). Start Aegra once with this DATABASE_URL (it creates its tables at start-up), stop or keep it, and run the export again."
            )
        row = self._one("SELECT max(v) AS v FROM checkpoint_migrations")
        expected = len(self.saver.MIGRATIONS) - 1
        if row["v"] != expected:
            raise TargetNotReady(
                f"the checkpoint tables are at migration {row['v']}, this exporter writes migration {expected} "
                "(langgraph-checkpoint-postgres versions differ): install the version Aegra uses, or let Aegra migrate first"
            )

    def served_graphs(self) -> set[str]:
        """Graphs the target serves: Aegra creates each one's default assistant, owned by
        `system`, at every start. (A graph removed from its config keeps its row: run the
        export after Aegra has started with the config it will serve.)"""
        rows = self.conn.execute("SELECT assistant_id, graph_id FROM assistant WHERE user_id = 'system'").fetchall()
        return {r["graph_id"] for r in rows if r["assistant_id"] == graph_assistant_id(r["graph_id"])}

    # -- assistants ------------------------------------------------------------------------

    def assistant_ids(self) -> set[str]:
        if self._assistant_ids is None:
            self._assistant_ids = {r["assistant_id"] for r in self.conn.execute("SELECT assistant_id FROM assistant").fetchall()}
        return self._assistant_ids

    def put_assistant(self, assistant: Assistant, versions: list[AssistantVersion]) -> str:
        """Upsert the assistant and its versions in one transaction: "moved", "kept" (the
        target's own default assistant stays), or why it cannot move.

        A graph's default assistant is the target's own (it creates it for every graph it
        serves); it is written only when missing, so that runs of a graph the target does
        not serve yet keep their assistant."""
        is_default = assistant.assistant_id == graph_assistant_id(assistant.graph_id)
        owner = "system" if is_default else self.owner
        try:
            with self.conn.transaction():
                if is_default:
                    inserted = self.conn.execute(
                        """INSERT INTO assistant (assistant_id, name, description, graph_id, config, context, user_id, version, metadata, created_at, updated_at)
                           VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (assistant_id) DO NOTHING""",
                        self._assistant_row(assistant, owner),
                    ).rowcount
                    changed = False
                    if not inserted:
                        self.assistant_ids().add(assistant.assistant_id)
                        return "kept"
                else:
                    self.conn.execute(
                        """INSERT INTO assistant (assistant_id, name, description, graph_id, config, context, user_id, version, metadata, created_at, updated_at)
                           VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
                           ON CONFLICT (assistant_id) DO UPDATE SET name = EXCLUDED.name, description = EXCLUDED.description,
                             graph_id = EXCLUDED.graph_id, config = EXCLUDED.config, context = EXCLUDED.context,
                             user_id = EXCLUDED.user_id, version = EXCLUDED.version, metadata = EXCLUDED.metadata,
                             created_at = EXCLUDED.created_at, updated_at = EXCLUDED.updated_at""",
                        self._assistant_row(assistant, owner),
                    )
                    changed = True
                if changed or not self._has_versions(assistant.assistant_id):
                    for v in versions:
                        self.conn.execute(
                            """INSERT INTO assistant_versions (assistant_id, version, graph_id, config, context, created_at, metadata, name, description)
                               VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)
                               ON CONFLICT (assistant_id, version) DO UPDATE SET graph_id = EXCLUDED.graph_id, config = EXCLUDED.config,
                                 context = EXCLUDED.context, created_at = EXCLUDED.created_at, metadata = EXCLUDED.metadata,
                                 name = EXCLUDED.name, description = EXCLUDED.description""",
                            (v.assistant_id, v.version, v.graph_id, Jsonb(v.config), Jsonb(v.context), _ts(v.created_at), Jsonb(v.metadata), v.name, v.description),
                        )
        except psycopg.errors.UniqueViolation:
            return (
                "the target already has an assistant of graph "
                f"'{assistant.graph_id}' with the same config for owner '{owner}' (Aegra keeps one per graph, config and owner)"
            )
        self.assistant_ids().add(assistant.assistant_id)
        return "moved"

    def _has_versions(self, assistant_id: str) -> bool:
        return self.conn.execute("SELECT 1 FROM assistant_versions WHERE assistant_id = %s LIMIT 1", (assistant_id,)).fetchone() is not None

    @staticmethod
    def _assistant_row(a: Assistant, owner: str) -> tuple:
        return (
            a.assistant_id, a.name, a.description, a.graph_id, Jsonb(a.config), Jsonb(a.context), owner,
            a.version, Jsonb(a.metadata), _ts(a.created_at), _ts(a.updated_at),
        )

    # -- threads ---------------------------------------------------------------------------

    def thread_metadata(self, thread: Thread) -> dict[str, Any]:
        metadata = dict(thread.metadata)
        if self.owner_given:  # custom auth: handlers usually filter on metadata.owner
            metadata.setdefault("owner", self.owner)
        return metadata

    def put_thread(self, thread: Thread, status: str, checkpoints: list[Checkpoint], runs: list[tuple[Run, str]], serde: Any) -> None:
        """The thread row, every checkpoint with its blobs and writes, and its runs: one transaction.

        The row is only overwritten when the target's copy is not newer, so a re-run after
        the thread went on in the target leaves it alone (its checkpoints are the same rows)."""
        tid = thread.thread_id
        with self.conn.transaction():
            self.conn.execute(
                """INSERT INTO thread (thread_id, status, metadata_json, user_id, created_at, updated_at)
                   VALUES (%s, %s, %s, %s, %s, %s)
                   ON CONFLICT (thread_id) DO UPDATE SET status = EXCLUDED.status, metadata_json = EXCLUDED.metadata_json,
                     user_id = EXCLUDED.user_id, created_at = EXCLUDED.created_at, updated_at = EXCLUDED.updated_at
                   WHERE thread.updated_at <= EXCLUDED.updated_at""",
                (tid, status, Jsonb(self.thread_metadata(thread)), self.owner, _ts(thread.created_at), _ts(thread.updated_at)),
            )
            blob_rows: dict[tuple[str, str, str], tuple] = {}
            write_rows: list[tuple] = []
            for c in checkpoints:
                inline: dict[str, Any] = {}
                for channel, (type_, blob) in c.blobs.items():
                    kept_inline, value = _inline(type_, blob, serde)
                    if kept_inline:
                        inline[channel] = value
                        continue
                    if _DeltaSnapshot is not None and b"_DeltaSnapshot" in blob and isinstance(serde.loads_typed((type_, blob)), _DeltaSnapshot):
                        inline[channel] = True  # PostgresSaver's marker: the snapshot is in the blobs table
                    version = str(c.checkpoint["channel_versions"][channel])
                    blob_rows[(c.ns, channel, version)] = (tid, c.ns, channel, version, type_, blob)
                parent = {"thread_id": tid, "checkpoint_ns": c.ns}
                if c.parent_id:
                    parent["checkpoint_id"] = c.parent_id
                # The row itself is the saver's: given only inline values, `put` writes no blob.
                row: Any = {**c.checkpoint, "channel_values": inline}
                self.saver.put({"configurable": parent}, row, cast(Any, c.metadata), {})
                write_rows.extend(
                    (tid, c.ns, c.checkpoint_id, w.task_id, w.task_path, w.idx, w.channel, w.type, w.blob) for w in c.writes
                )
            with self.conn.cursor() as cur:
                if blob_rows:
                    cur.executemany(self.saver.UPSERT_CHECKPOINT_BLOBS_SQL, list(blob_rows.values()))
                if write_rows:
                    cur.executemany(self.saver.UPSERT_CHECKPOINT_WRITES_SQL, write_rows)
                for run, run_status in runs:
                    kwargs = run.kwargs or {}
                    run_input = kwargs.get("input")
                    cur.execute(
                        """INSERT INTO runs (run_id, thread_id, assistant_id, status, input, config, context, user_id, created_at, updated_at)
                           VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
                           ON CONFLICT (run_id) DO UPDATE SET thread_id = EXCLUDED.thread_id, assistant_id = EXCLUDED.assistant_id,
                             status = EXCLUDED.status, input = EXCLUDED.input, config = EXCLUDED.config, context = EXCLUDED.context,
                             user_id = EXCLUDED.user_id, created_at = EXCLUDED.created_at, updated_at = EXCLUDED.updated_at""",
                        (
                            run.run_id, tid, run.assistant_id, run_status,
                            _json(run_input if isinstance(run_input, dict) else None),
                            _json(kwargs.get("config") or {}), _json(kwargs.get("context") or {}),
                            self.owner, _ts(run.created_at), _ts(run.updated_at),
                        ),
                    )

    # -- crons and store -------------------------------------------------------------------

    def put_cron(self, cron: Cron) -> None:
        payload = dict(cron.payload)
        if cron.timezone:
            payload["timezone"] = cron.timezone  # Aegra reads the schedule's timezone from the payload
        with self.conn.transaction():
            self.conn.execute(
                """INSERT INTO crons (cron_id, assistant_id, thread_id, user_id, schedule, payload, metadata, on_run_completed, enabled, end_time, next_run_date, created_at, updated_at)
                   VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
                   ON CONFLICT (cron_id) DO UPDATE SET assistant_id = EXCLUDED.assistant_id, thread_id = EXCLUDED.thread_id,
                     user_id = EXCLUDED.user_id, schedule = EXCLUDED.schedule, payload = EXCLUDED.payload, metadata = EXCLUDED.metadata,
                     on_run_completed = EXCLUDED.on_run_completed, enabled = EXCLUDED.enabled, end_time = EXCLUDED.end_time,
                     next_run_date = EXCLUDED.next_run_date, created_at = EXCLUDED.created_at, updated_at = EXCLUDED.updated_at""",
                (
                    cron.cron_id, cron.assistant_id, cron.thread_id, self.owner, cron.schedule, Jsonb(payload),
                    Jsonb(cron.metadata), cron.on_run_completed, cron.enabled, _ts(cron.end_time), _ts(cron.next_run_date),
                    _ts(cron.created_at), _ts(cron.updated_at),
                ),
            )

    def has_thread(self, thread_id: str) -> bool:
        return self.conn.execute("SELECT 1 FROM thread WHERE thread_id = %s", (thread_id,)).fetchone() is not None

    def put_store_items(self, items: Iterable[StoreItem]) -> None:
        """Items under their own namespaces (what graphs read), with their own timestamps."""
        items = list(items)
        with self.conn.transaction():
            self.kv.batch([PutOp(tuple(i.namespace), i.key, dict(i.value), index=False) for i in items])
            with self.conn.cursor() as cur:
                cur.executemany(
                    "UPDATE store SET created_at = %s, updated_at = %s WHERE prefix = %s AND key = %s",
                    [(i.created_at, i.updated_at, ".".join(i.namespace), i.key) for i in items],
                )

    # -- figures ---------------------------------------------------------------------------

    def checkpointer(self) -> PostgresSaver:
        return self.saver

    def notes(self) -> list[str]:
        return [
            "not moved (Aegra keeps no such thing): event logs, so streams of runs that ended before the move cannot be "
            "replayed or joined; state and history are unaffected",
            "store items keep their namespaces, which graphs read; Aegra's HTTP store API only shows namespaces under "
            "['users', <owner>, ...], so API clients will not see them there",
        ]

    def counts(self) -> dict[str, int]:
        tables = {
            "threads": "thread", "checkpoints": "checkpoints", "blobs": "checkpoint_blobs", "writes": "checkpoint_writes",
            "runs": "runs", "assistants": "assistant", "assistant versions": "assistant_versions", "crons": "crons", "store items": "store",
        }
        return {name: self._one(f"SELECT count(*) AS n FROM {table}")["n"] for name, table in tables.items()}


def _inline(type_: str, blob: bytes, serde: Any) -> tuple[bool, Any]:
    """Whether PostgresSaver keeps this value inline (None, str, int, float, bool), and the value."""
    if type_ == "null":
        return True, None
    if type_ == "msgpack" and blob and blob[0] in _SCALAR_LEADS:
        return True, serde.loads_typed((type_, blob))
    return False, None
