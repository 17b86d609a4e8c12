"""A LangGraph checkpointer stored in the server's LMDB environment.

Layout: four named databases, every key a NUL-joined path so that one thread, one
namespace, or one checkpoint is a contiguous key range. Checkpoint ids are uuid6
strings, which sort by creation time, so "latest" is one reverse seek and listing is a
reverse range scan.

    checkpoints        thread \0 ns \0 checkpoint_id                -> record
    checkpoint_blobs   thread \0 ns \0 channel \0 version           -> serialized value
    checkpoint_writes  thread \0 ns \0 checkpoint_id \0 task \0 idx -> pending write
    checkpoint_runs    run_id \0 thread \0 ns \0 checkpoint_id      -> b""  (index)

A record is length-prefixed parts: parent id, run id, then the serde's (type, bytes)
for the checkpoint without its channel values, and for the metadata. The run id is
kept raw so deletes can maintain the run index without decoding anything.

Channel values are stored as blobs keyed by channel version, as `InMemorySaver` and
`PostgresSaver` do, instead of inside every checkpoint: a value is written only in the
step that changed it, so a long conversation costs O(messages), not O(steps x messages).
LangGraph relies on this too: `put` stores a blob only for channels in `new_versions`,
and `DeltaChannel` snapshots depend on blobs being found by version.
"""

from __future__ import annotations

import random
import struct
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from typing import Any, TypeVar

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    EXCLUDED_METADATA_KEYS,
    WRITES_IDX_MAP,
    BaseCheckpointSaver,
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
    SerializerProtocol,
    get_checkpoint_id,
    get_checkpoint_metadata,
    writes_sort_key,
)

from .env import Cursor, Store, Txn

__all__ = ["LmdbSaver"]

T = TypeVar("T")

SEP = b"\x00"
# Rows decoded per read transaction in `list`: keeps each transaction short.
PAGE = 64
_EMPTY = ("empty", b"")


def _key(*parts: str) -> bytes:
    """Join key parts with NUL; a NUL inside a part would make keys ambiguous."""
    for p in parts:
        if "\x00" in p:
            raise ValueError(f"NUL character not allowed in checkpoint keys: {p!r}")
    return SEP.join(p.encode() for p in parts)


def _split(key: bytes) -> list[str]:
    return [p.decode() for p in key.split(SEP)]


def _pack(*parts: bytes | str) -> bytes:
    """Length-prefixed concatenation, so a record holds several serde outputs."""
    out = bytearray()
    for p in parts:
        b = p.encode() if isinstance(p, str) else p
        out += struct.pack(">I", len(b))
        out += b
    return bytes(out)


def _unpack(data: bytes) -> list[bytes]:
    parts, pos = [], 0
    while pos < len(data):
        (n,) = struct.unpack_from(">I", data, pos)
        pos += 4
        parts.append(data[pos : pos + n])
        pos += n
    return parts


def _range(cursor: Cursor, prefix: bytes) -> Iterator[bytes]:
    """Keys starting with `prefix`, ascending."""
    if cursor.set_range(prefix):
        for key in cursor.iternext(keys=True, values=False):
            if not key.startswith(prefix):
                break
            yield key


def _items(cursor: Cursor, prefix: bytes) -> list[tuple[bytes, bytes]]:
    """(key, value) pairs whose key starts with `prefix`, ascending."""
    out = []
    if cursor.set_range(prefix):
        for key, value in cursor:
            if not key.startswith(prefix):
                break
            out.append((key, value))
    return out


def _range_desc(cursor: Cursor, prefix: bytes, before: bytes | None = None) -> Iterator[bytes]:
    """Keys starting with `prefix`, descending, optionally only those < `before`."""
    upper = before if before is not None else prefix + b"\xff"
    positioned = cursor.set_range(upper)
    if positioned:
        positioned = cursor.prev()
    else:  # upper is past the last key
        positioned = cursor.last()
    if not positioned:
        return
    for key in cursor.iterprev(keys=True, values=False):
        if not key.startswith(prefix):
            break
        yield key


def _must(value: bytes | None) -> bytes:
    """A value read under a key just seen in the same transaction: it is there."""
    assert value is not None
    return value


def _delete_range(cursor: Cursor, prefix: bytes) -> None:
    """Delete every key starting with `prefix`."""
    if cursor.set_range(prefix):
        while cursor.key().startswith(prefix):
            if not cursor.delete():  # delete() moves to the next key
                break


class LmdbSaver(BaseCheckpointSaver[str]):
    """LangGraph checkpointer on a shared LMDB environment.

    It lives in the caller's `Store` (four named databases of its environment) and
    writes only through the store's writer: the async methods join its group commits
    (`Store.awrite`), the sync ones wait for them (`Store.write_blocking`), and the
    deletes, copies and prunes are also offered as ops (`*_op`) that other writes can
    join in one transaction. Reads are inline: an LMDB read takes microseconds, less
    than a thread hop, and no transaction is held across an `await` or a `yield`.

    Writes made by a run the server has abandoned (cancelled, but its graph ignored the
    cancellation) are refused (`fence`), so a runaway graph cannot change a thread
    behind the runs that come after it.
    """

    def __init__(self, store: Store, *, serde: SerializerProtocol | None = None) -> None:
        super().__init__(serde=serde)
        self.store = store
        self._checkpoints = store.db("checkpoints")
        self._blobs = store.db("checkpoint_blobs")
        self._writes = store.db("checkpoint_writes")
        self._runs = store.db("checkpoint_runs")
        self._owns_store = False
        self._fenced: set[str] = set()

    @classmethod
    def open(cls, path: str, *, map_size: int = 64 << 20, serde: SerializerProtocol | None = None) -> LmdbSaver:
        """Open (or create) a private store at `path`, for tests and tools."""
        saver = cls(Store(path, map_size=map_size), serde=serde)
        saver._owns_store = True
        return saver

    def close(self) -> None:
        """Close the store if `open` created it; a shared one is left alone."""
        if self._owns_store:
            self.store.close()

    def fence(self, run_id: str) -> None:
        """Refuse every later write of `run_id` (an abandoned run's graph)."""
        self._fenced.add(run_id)

    def _check_fence(self, run_id: Any) -> None:
        if run_id and str(run_id) in self._fenced:
            raise RuntimeError(f"run {run_id} was abandoned by the server; its checkpoint writes are refused")

    # -- decoding ------------------------------------------------------------------

    def _read_raw(
        self, txn: Txn, key: bytes, record: bytes
    ) -> tuple[dict[str, Any], dict[str, tuple[str, bytes]], list[tuple[bytes, bytes]]]:
        """Read what a tuple needs. The checkpoint itself is small and decoded here (its
        channel versions name the blobs); blobs and writes, which can be large, stay raw
        and are decoded by `_tuple` after the transaction has ended."""
        thread_id, ns, _ = _split(key)
        c_type, c_bytes = _unpack(record)[2:4]
        checkpoint = self.serde.loads_typed((c_type.decode(), c_bytes))
        blobs = {}
        for ch, ver in checkpoint["channel_versions"].items():
            raw = txn.get(_key(thread_id, ns, ch, str(ver)), db=self._blobs)
            if raw is not None:
                b_type, b_bytes = _unpack(raw)
                if b_type != b"empty":
                    blobs[ch] = (b_type.decode(), b_bytes)
        writes = _items(txn.cursor(db=self._writes), key + SEP)
        return checkpoint, blobs, writes

    def _tuple(
        self,
        key: bytes,
        record: bytes,
        checkpoint: dict[str, Any],
        blobs: dict[str, tuple[str, bytes]],
        writes: list[tuple[bytes, bytes]],
        metadata: CheckpointMetadata | None = None,
    ) -> CheckpointTuple:
        """Build a CheckpointTuple from what `_read_raw` returned."""
        thread_id, ns, checkpoint_id = _split(key)
        parent_id, _run_id, _, _, m_type, m_bytes = _unpack(record)
        checkpoint["channel_values"] = {ch: self.serde.loads_typed(blob) for ch, blob in blobs.items()}
        if metadata is None:
            metadata = self.serde.loads_typed((m_type.decode(), m_bytes))
        pending = []
        for wkey, wval in writes:
            task_id, idx = _split(wkey)[-2:]
            task_path, channel, v_type, v_bytes = _unpack(wval)
            value = self.serde.loads_typed((v_type.decode(), v_bytes))
            pending.append((writes_sort_key(task_path.decode(), task_id, int(idx)), (task_id, channel.decode(), value)))
        pending.sort(key=lambda p: p[0])

        def conf(cid: str) -> RunnableConfig:
            return {"configurable": {"thread_id": thread_id, "checkpoint_ns": ns, "checkpoint_id": cid}}

        return CheckpointTuple(
            config=conf(checkpoint_id),
            checkpoint=checkpoint,  # type: ignore[arg-type]  # decoded from what `put` stored
            metadata=metadata,
            parent_config=conf(parent_id.decode()) if parent_id else None,
            pending_writes=[w for _, w in pending],
        )

    # -- reads ---------------------------------------------------------------------

    def get_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        """The checkpoint named by `config`, or the thread/namespace's latest one."""
        conf = config["configurable"]
        thread_id, ns = conf["thread_id"], conf.get("checkpoint_ns", "")
        checkpoint_id = get_checkpoint_id(config)
        with self.store.reading() as txn:
            found: bytes | None
            if checkpoint_id:
                found = _key(thread_id, ns, checkpoint_id)
            else:
                found = next(_range_desc(txn.cursor(db=self._checkpoints), _key(thread_id, ns) + SEP), None)
            if found is None:
                return None
            key = found
            record = txn.get(key, db=self._checkpoints)
            if record is None:
                return None
            raw = self._read_raw(txn, key, record)
        return self._tuple(key, record, *raw)

    def list(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> Iterator[CheckpointTuple]:
        """Checkpoints newest first (by checkpoint id, across namespaces and threads).

        Matching keys are collected first, then decoded a page at a time, each page in
        its own read transaction: the generator never holds a transaction while the
        consumer has it suspended (it may be an async consumer, or on another thread).
        """
        if limit is not None and limit <= 0:
            return
        conf = (config or {}).get("configurable", {})
        thread_id = conf.get("thread_id")
        ns = conf.get("checkpoint_ns")
        only_id = conf.get("checkpoint_id")
        before_id = get_checkpoint_id(before) if before else None

        if thread_id is not None and ns is not None:
            prefix = _key(thread_id, ns) + SEP
            single_range = True
        else:
            prefix = _key(thread_id) + SEP if thread_id is not None else b""
            single_range = False

        keys: list[bytes] = []
        with self.store.reading() as txn:
            cursor = txn.cursor(db=self._checkpoints)
            if single_range and only_id:
                if (not before_id or only_id < before_id) and txn.get(
                    prefix + only_id.encode(), db=self._checkpoints
                ) is not None:
                    keys.append(prefix + only_id.encode())
            elif single_range:
                upper = prefix + before_id.encode() if before_id else None
                for key in _range_desc(cursor, prefix, upper):
                    keys.append(key)
                    if not filter and limit is not None and len(keys) >= limit:
                        break
            else:
                for key in _range(cursor, prefix):
                    _, key_ns, cid = _split(key)
                    if (
                        (ns is not None and key_ns != ns)
                        or (only_id and cid != only_id)
                        or (before_id and cid >= before_id)
                    ):
                        continue
                    keys.append(key)
                keys.sort(key=lambda k: (_split(k)[2], k), reverse=True)

        remaining = limit
        for start in range(0, len(keys), PAGE):
            page = []
            with self.store.reading() as txn:
                for key in keys[start : start + PAGE]:
                    record = txn.get(key, db=self._checkpoints)
                    if record is None:  # deleted since the keys were collected
                        continue
                    metadata = None
                    if filter:
                        m_type, m_bytes = _unpack(record)[4:6]
                        metadata = self.serde.loads_typed((m_type.decode(), m_bytes))
                        if not all(metadata.get(k) == v for k, v in filter.items()):
                            continue
                    page.append((key, record, self._read_raw(txn, key, record), metadata))
                    if remaining is not None and len(page) >= remaining:
                        break
            for key, record, raw, metadata in page:
                yield self._tuple(key, record, *raw, metadata)
            if remaining is not None:
                remaining -= len(page)
                if remaining <= 0:
                    return

    # -- writes --------------------------------------------------------------------

    def _put_op(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> tuple[Callable[[Txn], None], RunnableConfig]:
        """The write op storing a checkpoint (and a blob per changed channel), and its config."""
        conf = config["configurable"]
        thread_id, ns = conf["thread_id"], conf.get("checkpoint_ns", "")
        parent_id = conf.get("checkpoint_id") or ""
        values = checkpoint["channel_values"]
        rest = {k: v for k, v in checkpoint.items() if k != "channel_values"}
        metadata = checkpoint_metadata(config, metadata)
        run_id = str(metadata.get("run_id") or "")
        self._check_fence(run_id)
        key = _key(thread_id, ns, checkpoint["id"])
        record = _pack(parent_id, run_id, *self.serde.dumps_typed(rest), *self.serde.dumps_typed(metadata))
        blobs = [
            (
                _key(thread_id, ns, ch, str(ver)),
                _pack(*(self.serde.dumps_typed(values[ch]) if ch in values else _EMPTY)),
            )
            for ch, ver in new_versions.items()
        ]

        def op(txn: Txn) -> None:
            for bkey, blob in blobs:
                txn.put(bkey, blob, db=self._blobs)
            txn.put(key, record, db=self._checkpoints)
            if run_id:
                txn.put(_key(run_id, thread_id, ns, checkpoint["id"]), b"", db=self._runs)

        return op, {"configurable": {"thread_id": thread_id, "checkpoint_ns": ns, "checkpoint_id": checkpoint["id"]}}

    def put(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        """Store a checkpoint, and a blob for each channel whose version changed."""
        op, stored = self._put_op(config, checkpoint, metadata, new_versions)
        self.store.write_blocking(op)
        return stored

    def _put_writes_op(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> Callable[[Txn], None]:
        """The write op storing a task's writes against a checkpoint.

        A write's slot is (task_id, idx); special channels (error, interrupt, resume,
        scheduled) have fixed negative slots and replace what is there, while a regular
        slot that is already filled is kept, so replaying a task is idempotent.
        """
        conf = config["configurable"]
        self._check_fence(conf.get("run_id"))
        base = _key(conf["thread_id"], conf.get("checkpoint_ns", ""), conf["checkpoint_id"], task_id)
        rows = [
            (
                base + SEP + str(WRITES_IDX_MAP.get(channel, idx)).encode(),
                _pack(task_path, channel, *self.serde.dumps_typed(value)),
                channel in WRITES_IDX_MAP,
            )
            for idx, (channel, value) in enumerate(writes)
        ]

        def op(txn: Txn) -> None:
            for wkey, wval, overwrite in rows:
                txn.put(wkey, wval, db=self._writes, overwrite=overwrite)

        return op

    def put_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        self.store.write_blocking(self._put_writes_op(config, writes, task_id, task_path))

    # -- deletion, copy, prune -----------------------------------------------------

    def _delete_checkpoint(self, txn: Txn, key: bytes) -> None:
        """Delete one checkpoint, its writes and its run-index entry (blobs: see _gc_blobs)."""
        record = txn.pop(key, db=self._checkpoints)
        if record is None:
            return
        run_id = _unpack(record)[1].decode()
        if run_id:
            txn.delete(run_id.encode() + SEP + key, db=self._runs)
        _delete_range(txn.cursor(db=self._writes), key + SEP)

    def _gc_blobs(self, txn: Txn, thread_id: str, ns: str) -> None:
        """Delete the blobs of a namespace that no remaining checkpoint refers to."""
        prefix = _key(thread_id, ns) + SEP
        used = set()
        cursor = txn.cursor(db=self._checkpoints)
        for key in _range(cursor, prefix):
            c_type, c_bytes = _unpack(_must(txn.get(key, db=self._checkpoints)))[2:4]
            for ch, ver in self.serde.loads_typed((c_type.decode(), c_bytes))["channel_versions"].items():
                used.add(_key(thread_id, ns, ch, str(ver)))
        blob_cursor = txn.cursor(db=self._blobs)
        for key in list(_range(blob_cursor, prefix)):
            if key not in used:
                txn.delete(key, db=self._blobs)

    def delete_thread_op(self, thread_id: str) -> Callable[[Txn], None]:
        """The op deleting every checkpoint, write and blob of the thread, in all namespaces."""
        prefix = _key(thread_id) + SEP

        def op(txn: Txn) -> None:
            cursor = txn.cursor(db=self._checkpoints)
            for key in list(_range(cursor, prefix)):
                self._delete_checkpoint(txn, key)
            _delete_range(txn.cursor(db=self._writes), prefix)
            _delete_range(txn.cursor(db=self._blobs), prefix)

        return op

    def delete_thread(self, thread_id: str) -> None:
        self.store.write_blocking(self.delete_thread_op(thread_id))

    def delete_for_runs_op(self, run_ids: Sequence[str]) -> Callable[[Txn], None]:
        """Delete the checkpoints (and their writes) created by the given runs.

        Found through the run index, not by scanning all metadata. Blobs no longer
        referenced in the touched namespaces are dropped. As the base class warns, this
        can break `DeltaChannel` reconstruction for later checkpoints of the thread.
        """
        def op(txn: Txn) -> None:
            touched = set()
            cursor = txn.cursor(db=self._runs)
            for run_id in run_ids:
                prefix = _key(run_id) + SEP
                for ikey in list(_range(cursor, prefix)):
                    thread_id, ns, cid = _split(ikey[len(prefix) :])
                    self._delete_checkpoint(txn, _key(thread_id, ns, cid))
                    txn.delete(ikey, db=self._runs)
                    touched.add((thread_id, ns))
            for thread_id, ns in touched:
                self._gc_blobs(txn, thread_id, ns)

        return op

    def delete_for_runs(self, run_ids: Sequence[str]) -> None:
        self.store.write_blocking(self.delete_for_runs_op(run_ids))

    def copy_thread_op(self, source_thread_id: str, target_thread_id: str, *, rename: bool = False) -> Callable[[Txn], None]:
        """Copy the whole thread (every namespace, checkpoint, write and blob), so
        the copy has the complete parent chain, as `DeltaChannel` requires. Metadata is
        copied as it is (LangGraph's checkpointer contract), or with `rename` names the
        copy as its thread, as the reference's `POST /threads/{id}/copy` does."""
        src, dst = _key(source_thread_id) + SEP, _key(target_thread_id) + SEP

        def op(txn: Txn) -> None:
            for db in (self._checkpoints, self._writes, self._blobs):
                for k, v in _items(txn.cursor(db=db), src):
                    if db is self._checkpoints:
                        if rename:
                            v = self._renamed(v, target_thread_id)
                        if run_id := _unpack(v)[1]:
                            txn.put(run_id + SEP + dst + k[len(src) :], b"", db=self._runs)
                    txn.put(dst + k[len(src) :], v, db=db)

        return op

    def _renamed(self, record: bytes, thread_id: str) -> bytes:
        """A checkpoint record whose metadata names `thread_id` as its thread (when it
        names one), as a copy's checkpoints do in the reference."""
        parent_id, run_id, c_type, c_bytes, m_type, m_bytes = _unpack(record)
        metadata = self.serde.loads_typed((m_type.decode(), m_bytes))
        if "thread_id" not in metadata:
            return record
        metadata["thread_id"] = thread_id
        return _pack(parent_id, run_id, c_type, c_bytes, *self.serde.dumps_typed(metadata))

    def copy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        self.store.write_blocking(self.copy_thread_op(source_thread_id, target_thread_id))

    def prune_op(self, thread_ids: Sequence[str], *, strategy: str = "keep_latest") -> Callable[[Txn], None]:
        """Delete old checkpoints: all of them ("delete"), or all but the latest of each
        namespace ("keep_latest").

        `keep_latest` is `DeltaChannel`-aware: a delta channel that the latest
        checkpoint does not hold a value for is rebuilt by walking its ancestors back to
        the nearest stored snapshot, so those ancestors and their writes are kept too.
        """
        if strategy not in ("keep_latest", "delete"):
            raise ValueError(f"unknown prune strategy {strategy!r}")
        if strategy == "delete":
            deletes = [self.delete_thread_op(t) for t in thread_ids]

            def delete_all(txn: Txn) -> None:
                for delete in deletes:
                    delete(txn)

            return delete_all

        def keep_latest(txn: Txn) -> None:
            for thread_id in thread_ids:
                self._keep_latest(txn, thread_id)

        return keep_latest

    def prune(self, thread_ids: Sequence[str], *, strategy: str = "keep_latest") -> None:
        self.store.write_blocking(self.prune_op(thread_ids, strategy=strategy))

    def _keep_latest(self, txn: Txn, thread_id: str) -> None:
        by_ns: dict[str, list[bytes]] = {}
        for key in _range(txn.cursor(db=self._checkpoints), _key(thread_id) + SEP):
            by_ns.setdefault(_split(key)[1], []).append(key)
        for ns, keys in by_ns.items():
            keep = self._delta_ancestors(txn, thread_id, ns, max(keys))
            for key in keys:
                if key not in keep:
                    self._delete_checkpoint(txn, key)
            self._gc_blobs(txn, thread_id, ns)

    def _delta_ancestors(self, txn: Txn, thread_id: str, ns: str, latest: bytes) -> set[bytes]:
        """`latest` plus the ancestors its delta channels still need (see `prune`).

        Delta channels are the ones in `counters_since_delta_snapshot`; one needs its
        ancestors if `latest` has no stored value for it. The walk mirrors
        `get_delta_channel_history`: it stops, per channel, at the nearest ancestor
        holding a non-empty blob for that channel.
        """

        def load(key: bytes) -> tuple[str, dict, dict]:
            parent, _, c_type, c_bytes, m_type, m_bytes = _unpack(_must(txn.get(key, db=self._checkpoints)))
            ckpt = self.serde.loads_typed((c_type.decode(), c_bytes))
            meta = self.serde.loads_typed((m_type.decode(), m_bytes))
            return parent.decode(), ckpt["channel_versions"], meta

        def has_value(versions: dict, ch: str) -> bool:
            if ch not in versions:
                return False
            raw = txn.get(_key(thread_id, ns, ch, str(versions[ch])), db=self._blobs)
            return raw is not None and _unpack(raw)[0] != b"empty"

        keep = {latest}
        parent, versions, meta = load(latest)
        counters = meta.get("counters_since_delta_snapshot") or {}
        remaining = {ch for ch, c in counters.items() if tuple(c) != (0, 0) and not has_value(versions, ch)}
        while parent and remaining:
            key = _key(thread_id, ns, parent)
            if txn.get(key, db=self._checkpoints) is None:
                break
            keep.add(key)
            parent, versions, _ = load(key)
            remaining = {ch for ch in remaining if not has_value(versions, ch)}
        return keep

    # -- versions ------------------------------------------------------------------

    def get_next_version(self, current: str | None, channel: None = None) -> str:
        """Zero-padded counter plus a random fraction, as InMemorySaver/PostgresSaver do.

        Blobs are keyed by (channel, version), so two forks of one checkpoint must not
        produce the same version for different values: the random part prevents that,
        and the padding keeps versions comparable as strings.
        """
        if current is None:
            current_v = 0
        elif isinstance(current, int):
            current_v = current
        else:
            current_v = int(current.split(".")[0])
        return f"{current_v + 1:032}.{random.random():016}"

    # -- async twins: direct calls, see the class docstring --------------------------

    async def aget_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        return self.get_tuple(config)

    async def alist(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> AsyncIterator[CheckpointTuple]:
        for item in self.list(config, filter=filter, before=before, limit=limit):
            yield item

    async def aput(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        op, stored = self._put_op(config, checkpoint, metadata, new_versions)
        await self.store.awrite(op)
        return stored

    async def aput_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        await self.store.awrite(self._put_writes_op(config, writes, task_id, task_path))

    async def adelete_thread(self, thread_id: str) -> None:
        await self.store.awrite(self.delete_thread_op(thread_id))

    async def adelete_for_runs(self, run_ids: Sequence[str]) -> None:
        await self.store.awrite(self.delete_for_runs_op(run_ids))

    async def acopy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        await self.store.awrite(self.copy_thread_op(source_thread_id, target_thread_id))

    async def aprune(self, thread_ids: Sequence[str], *, strategy: str = "keep_latest") -> None:
        await self.store.awrite(self.prune_op(thread_ids, strategy=strategy))


def _plain(value: Any) -> bool:
    """JSON-shaped data (what a checkpoint's metadata can hold and the API can show)."""
    if value is None or isinstance(value, (str, int, float, bool)):
        return True
    if isinstance(value, list):
        return all(_plain(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain(v) for k, v in value.items())
    return False


# Per-request keys the reference keeps out of checkpoint metadata when they are not plain.
_TRANSIENT = frozenset({"langgraph_auth_user", "langgraph_auth_permissions"})


def checkpoint_metadata(config: RunnableConfig, metadata: CheckpointMetadata) -> CheckpointMetadata:
    """What a checkpoint's metadata records, as the reference's checkpointer records it:
    LangGraph's own rule (the config's plain metadata and configurable values), plus
    the configurable's JSON objects (such as a top-level `context` of the assistant's
    config, which LangChain moves there) and the thread the config's metadata names
    (which LangGraph's rule leaves out)."""
    out: dict[str, Any] = dict(get_checkpoint_metadata(config, metadata))
    configurable = config.get("configurable") or {}
    for key, value in configurable.items():
        if key in out or key.startswith("__") or key in EXCLUDED_METADATA_KEYS or key in _TRANSIENT:
            continue
        if isinstance(value, (dict, list)) and _plain(value):
            out[key] = value
    thread_id = (config.get("metadata") or {}).get("thread_id")  # a graph's call names it; a plain `put` (an import) does not
    if thread_id:
        out.setdefault("thread_id", thread_id)
    return out  # type: ignore[return-value]  # a TypedDict that holds more keys than it names


def thread_storage(saver: LmdbSaver, thread_id: str) -> dict[str, Any]:
    """What a thread's checkpoints occupy, every namespace included, in the shape of the
    reference's `GET /threads/{id}/storage`: stored checkpoint records; channel values
    (blobs), per channel (`versions` = blobs of that channel; a value's bytes as the
    serializer wrote them); pending writes (their values' bytes)."""
    prefix = _key(thread_id) + SEP
    by_channel: dict[str, dict[str, int]] = {}
    checkpoints = [0, 0]
    writes = [0, 0]
    with saver.store.reading() as txn:
        for _, record in _items(txn.cursor(db=saver._checkpoints), prefix):
            checkpoints[0] += 1
            checkpoints[1] += len(record)
        for key, blob in _items(txn.cursor(db=saver._blobs), prefix):
            channel = _split(key)[2]
            entry = by_channel.setdefault(channel, {"versions": 0, "bytes": 0})
            entry["versions"] += 1
            entry["bytes"] += len(_unpack(blob)[1])
        for _, write in _items(txn.cursor(db=saver._writes), prefix):
            writes[0] += 1
            writes[1] += len(_unpack(write)[3])
    channel_bytes = sum(entry["bytes"] for entry in by_channel.values())
    return {
        "total_bytes": checkpoints[1] + channel_bytes + writes[1],
        "checkpoints": {"count": checkpoints[0], "bytes": checkpoints[1]},
        "channel_values": {"count": sum(entry["versions"] for entry in by_channel.values()), "bytes": channel_bytes, "by_channel": by_channel},
        "pending_writes": {"count": writes[0], "bytes": writes[1]},
    }
