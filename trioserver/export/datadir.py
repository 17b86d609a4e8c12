"""The export package's only contact with trioserver's storage: a data directory, read or written.

Everything `trioserver export` and `trioserver import` know about the LMDB layout is
here, so that a change to `trioserver/storage` is one file to follow. The rest of the
package sees plain records (`Thread`, `Run`, `Assistant`, ... from `storage.records`)
and the plain `Checkpoint` / `Write` / `StoreItem` values below.

Reading opens the environment read-only and refuses while another process has it open.
Writing (import) goes through the storage classes' own write ops, one LMDB transaction
per thread.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import os
import struct
from collections.abc import Callable, Iterator
from typing import Any, cast

import attrs
import lmdb

from ..runtime import crons as _crons
from ..runtime.crons import Cron, Crons
from ..storage import checkpointer as _cp
from ..storage import kvstore as _kv
from ..storage.checkpointer import LmdbSaver
from ..storage.env import Store
from ..storage.kvstore import LmdbStore
from ..storage.records import Assistant, AssistantVersion, Run, Thread, decode, encode
from ..storage.tables import Tables

__all__ = [
    "Checkpoint", "Write", "StoreItem", "DataDirBusy", "DataDirMissing",
    "holder_pid", "DataDir", "DataDirWriter", "Assistant", "AssistantVersion", "Run", "Thread", "Cron",
]


@attrs.frozen
class Write:
    """One pending write of a checkpoint, as both checkpointers key it: (task, idx)."""

    task_id: str
    task_path: str
    idx: int
    channel: str
    type: str  # the serializer's (type, bytes): copied as they are, never decoded
    blob: bytes


@attrs.frozen
class Checkpoint:
    """One stored checkpoint with what it refers to: its channel blobs and pending writes.

    `checkpoint` is LangGraph's checkpoint dict without `channel_values`; `blobs` maps each
    channel of its `channel_versions` that holds a value to the serializer's (type, bytes).
    """

    thread_id: str
    ns: str
    checkpoint_id: str
    parent_id: str | None
    checkpoint: dict[str, Any]
    metadata: dict[str, Any]
    blobs: dict[str, tuple[str, bytes]]
    writes: list[Write]


@attrs.frozen
class StoreItem:
    namespace: tuple[str, ...]
    key: str
    value: dict[str, Any]
    created_at: dt.datetime
    updated_at: dt.datetime


class DataDirBusy(Exception):
    """Another process (a running server) has the data directory open."""


class DataDirMissing(Exception):
    """There is no trioserver data directory at the path."""


# -- who has the environment open ---------------------------------------------------------

# struct flock on Linux/x86-64 and aarch64: short l_type, short l_whence, off_t l_start,
# off_t l_len, pid_t l_pid, then padding.
_FLOCK = struct.Struct("hhqqi4x")


def holder_pid(path: str | os.PathLike[str]) -> int | None:
    """The pid of a process that has the LMDB environment at `path` open, or None.

    LMDB holds a shared fcntl lock on the first byte of `lock.mdb` for as long as a
    process has the environment open (it is how LMDB tells whether it is alone when it
    opens one). Asking whether an exclusive lock could be taken there (F_GETLK) names a
    holder without taking anything, and without any change to the server."""
    lock_file = os.path.join(os.fspath(path), "lock.mdb")
    try:
        fd = os.open(lock_file, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        probe = _FLOCK.pack(fcntl.F_WRLCK, os.SEEK_SET, 0, 1, 0)
        kind, _, _, _, pid = _FLOCK.unpack(fcntl.fcntl(fd, fcntl.F_GETLK, probe))
        return None if kind == fcntl.F_UNLCK else pid
    finally:
        os.close(fd)


def _refuse_if_open(path: str) -> None:
    pid = holder_pid(path)
    if pid is not None:
        raise DataDirBusy(
            f"{path} is in use by process {pid} (a running trioserver?). Stop the server first: "
            "the data directory must not change while it is being copied."
        )


# -- reading --------------------------------------------------------------------------------


class _ReadOnlyStore:
    """What the storage classes' readers need of a `Store` (`db`, `read`, `reading`, `env`),
    over an environment opened read-only: a `Store` always opens it for writing."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.env = lmdb.open(path, readonly=True, lock=True, max_dbs=64, subdir=True)
        self._dbs: dict[str, Any] = {}

    def has_db(self, name: str) -> bool:
        with self.env.begin() as txn:  # named databases are keys of the main one
            return txn.get(name.encode()) is not None

    def db(self, name: str) -> Any:
        if name not in self._dbs:
            self._dbs[name] = self.env.open_db(name.encode(), create=False)
        return self._dbs[name]

    def read(self, fn: Callable[[Any], Any]) -> Any:
        with self.reading() as txn:
            return fn(txn)

    @contextlib.contextmanager
    def reading(self) -> Iterator[Any]:
        with self.env.begin(buffers=False) as txn:
            yield txn

    def close(self) -> None:
        self.env.close()


class DataDir:
    """A trioserver data directory opened read-only, with the server stopped.

    Plain iterators over everything a deployment holds. `saver` is the LangGraph
    checkpointer over it, for comparing decoded checkpoints (verification)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        if not os.path.isfile(os.path.join(self.path, "data.mdb")):
            raise DataDirMissing(f"no trioserver data directory at {self.path} (no data.mdb)")
        _refuse_if_open(self.path)
        self.store = _ReadOnlyStore(self.path)
        self.tables = Tables(self.store)  # type: ignore[arg-type]
        self.saver = LmdbSaver(self.store)  # type: ignore[arg-type]
        self.serde = self.saver.serde

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> DataDir:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def still_alone(self) -> bool:
        """Whether no other process has opened the directory since (checked at the end)."""
        return holder_pid(self.path) is None

    # -- resources -------------------------------------------------------------------------

    def threads(self) -> list[Thread]:
        return self.tables.all_threads()

    def runs(self, thread_id: str) -> list[Run]:
        """The thread's runs, oldest first."""
        return self.tables.thread_runs(thread_id)

    def assistants(self) -> list[tuple[Assistant, list[AssistantVersion]]]:
        """Every assistant with its versions, oldest version first."""
        return [(a, self.tables.assistant_versions(a.assistant_id)) for a in self.tables.all_assistants()]

    def crons(self) -> list[Cron]:
        if not self.store.has_db("crons"):
            return []
        db = self.store.db("crons")
        return self.store.read(lambda txn: [decode(v, Cron) for _, v in txn.cursor(db)])

    def store_items(self) -> list[StoreItem]:
        if not self.store.has_db(_kv.DB_NAME.decode()):
            return []
        kv = LmdbStore(self.store)  # type: ignore[arg-type]
        return [
            StoreItem(tuple(i.namespace), i.key, i.value, i.created_at, i.updated_at)
            for i in kv.search((), limit=1 << 62)
        ]

    # -- checkpoints -----------------------------------------------------------------------

    def checkpoints(self, thread_id: str) -> list[Checkpoint]:
        """Every checkpoint of the thread, in all namespaces, oldest first (checkpoint ids
        are time-ordered), each with its blobs and pending writes, undecoded."""
        saver = self.saver
        prefix = _cp._key(thread_id) + _cp.SEP
        out: list[Checkpoint] = []
        with self.store.reading() as txn:
            for key, record in _cp._items(txn.cursor(db=saver._checkpoints), prefix):
                _, ns, checkpoint_id = _cp._split(key)
                parent, _run_id, c_type, c_bytes, m_type, m_bytes = _cp._unpack(record)
                checkpoint = self.serde.loads_typed((c_type.decode(), c_bytes))
                metadata = self.serde.loads_typed((m_type.decode(), m_bytes))
                blobs: dict[str, tuple[str, bytes]] = {}
                for channel, version in checkpoint["channel_versions"].items():
                    raw = txn.get(_cp._key(thread_id, ns, channel, str(version)), db=saver._blobs)
                    if raw is not None:
                        b_type, b_bytes = _cp._unpack(raw)
                        if b_type != b"empty":
                            blobs[channel] = (b_type.decode(), b_bytes)
                writes = []
                for wkey, wval in _cp._items(txn.cursor(db=saver._writes), key + _cp.SEP):
                    task_id, idx = _cp._split(wkey)[-2:]
                    task_path, channel, v_type, v_bytes = _cp._unpack(wval)
                    writes.append(Write(task_id, task_path.decode(), int(idx), channel.decode(), v_type.decode(), v_bytes))
                out.append(Checkpoint(thread_id, ns, checkpoint_id, parent.decode() or None, checkpoint, metadata, blobs, writes))
        out.sort(key=lambda c: (c.checkpoint_id, c.ns))
        return out


# -- writing (import) -----------------------------------------------------------------------


class DataDirWriter:
    """A data directory being filled by `trioserver import`, with the server stopped.

    Each `put_*` is one LMDB transaction, made of the storage classes' own write ops."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        _refuse_if_open(self.path)
        self.store = Store(self.path)
        self.tables = Tables(self.store)
        self.saver = LmdbSaver(self.store)
        self.kv = LmdbStore(self.store)
        self.crons = Crons(self.store)

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> DataDirWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _commit(self, ops: list[Callable[[Any], Any]]) -> None:
        def all_ops(txn: Any) -> None:
            for op in ops:
                op(txn)

        self.store.write_blocking(all_ops)  # no writer task runs here: commits in place

    def put_thread(self, thread: Thread, checkpoints: list[tuple[dict, dict, dict, str | None]], writes: list[tuple[str, str, str, str, int, str, Any]], runs: list[Run]) -> None:
        """The thread, its checkpoints and their pending writes, and its runs, in one commit.

        `checkpoints`: (checkpoint with decoded channel_values, metadata, config, parent id)
        oldest first; `writes`: (ns, checkpoint_id, task_id, task_path, idx, channel, value)."""
        ops: list[Callable[[Any], Any]] = [self.tables.put_thread_op(thread)]
        for checkpoint, metadata, _config, parent_id in checkpoints:
            ns = _config["configurable"].get("checkpoint_ns", "")
            parent_conf = {"thread_id": thread.thread_id, "checkpoint_ns": ns}
            if parent_id:
                parent_conf["checkpoint_id"] = parent_id
            values = checkpoint["channel_values"]
            versions = {ch: v for ch, v in checkpoint["channel_versions"].items() if ch in values}
            op, _ = self.saver._put_op(cast(Any, {"configurable": parent_conf}), cast(Any, checkpoint), cast(Any, metadata), versions)
            ops.append(op)
        # A task's regular writes in one call, in idx order (positions give the idx back);
        # each special write (interrupt, resume, error, ...) on its own, at its fixed idx.
        groups: dict[tuple[str, str, str, str, bool], list[tuple[int, str, Any]]] = {}
        for ns, checkpoint_id, task_id, task_path, idx, channel, value in writes:
            groups.setdefault((ns, checkpoint_id, task_id, task_path, idx < 0), []).append((idx, channel, value))
        for (ns, checkpoint_id, task_id, task_path, special), rows in groups.items():
            config: Any = {"configurable": {"thread_id": thread.thread_id, "checkpoint_ns": ns, "checkpoint_id": checkpoint_id}}
            rows.sort(key=lambda r: r[0])
            batches = [[r] for r in rows] if special else [rows]
            for batch in batches:
                ops.append(self.saver._put_writes_op(config, [(ch, v) for _, ch, v in batch], task_id, task_path))
        ops.extend(self.tables.put_run_op(run) for run in runs)
        self._commit(ops)

    def put_assistant(self, assistant: Assistant, versions: list[AssistantVersion]) -> None:
        """The assistant and each of its versions (the record of version N is the assistant
        as it was at N), then its current state."""
        ops: list[Callable[[Any], Any]] = []
        for v in versions:
            at_version = Assistant(
                assistant_id=v.assistant_id, graph_id=v.graph_id, name=v.name, created_at=assistant.created_at,
                updated_at=v.created_at, version=v.version, config=v.config, context=v.context,
                metadata=v.metadata, description=v.description,
            )
            ops.append(self.tables.put_assistant_op(at_version, new_version=True))
        ops.append(self.tables.put_assistant_op(assistant, new_version=not versions))
        self._commit(ops)

    def put_cron(self, cron: Cron) -> None:
        db, key, record = self.crons.db, _crons._key(cron.cron_id), encode(cron)
        self._commit([lambda txn: txn.put(key, record, db=db)])

    def put_store_items(self, items: list[StoreItem]) -> None:
        """Items with their own timestamps (a put through `LmdbStore` would stamp them now)."""
        kv = self.kv
        rows = []
        for item in items:
            identity = _kv._identity(tuple(item.namespace), item.key)
            record = _kv._Record.encode(_micros(item.created_at), _micros(item.updated_at), identity, _kv._dumps(dict(item.value)))
            rows.append((kv._lmdb_key(identity), record))

        def op(txn: lmdb.Transaction) -> None:
            for lkey, record in rows:
                txn.put(lkey, record, db=kv._db)

        self._commit([op])

    def counts(self) -> dict[str, int]:
        """Threads and checkpoints now in the directory (for the import's summary)."""
        saver = self.saver
        with self.store.env.begin() as txn:
            return {
                "threads": txn.stat(self.tables.threads_db)["entries"],
                "checkpoints": txn.stat(saver._checkpoints)["entries"],
            }


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def _micros(when: dt.datetime) -> int:
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return (when - _EPOCH) // dt.timedelta(microseconds=1)
