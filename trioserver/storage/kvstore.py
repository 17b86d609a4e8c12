"""LangGraph's long-term memory store (`BaseStore`) in the server's LMDB environment.

Layout: one named database, `store_items`, keyed so that a namespace prefix is one
contiguous key range:

    label \\0 label \\0 ... label \\0\\0 key   ->  record

Labels are non-empty and contain no NUL (LangGraph's own namespace validation
guarantees both), so `\\0\\0` never occurs inside the namespace part, and the items of
namespace prefix ("a", "b") are exactly the keys starting with b"a\\0b\\0": that covers
the items of ("a", "b") itself (b"a\\0b\\0\\0...") and of every deeper namespace
(b"a\\0b\\0c..."), and nothing else (not ("a", "bc")). Byte order of these keys is the
tuple order of the namespaces, so keys sort the way `sorted()` sorts namespaces.

LMDB keys are limited to 511 bytes. A longer namespace + key is stored under its first
bytes followed by a SHA-256 of the whole; the record always carries the exact
namespace and key, which is what reads decode, so the LMDB key is only a locator.

A record is `created_us, updated_us` (big-endian int64, microseconds since the epoch),
the length-prefixed exact namespace + key, then the value as JSON (orjson). Keeping the
timestamps in a fixed header lets a search order and page items by `updated_at`
without decoding values it will not return.
"""

from __future__ import annotations

import asyncio
import hashlib
import heapq
import struct
import time
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from langgraph.store.base import (
    BaseStore,
    GetOp,
    InvalidNamespaceError,
    Item,
    ListNamespacesOp,
    MatchCondition,
    Op,
    PutOp,
    Result,
    SearchItem,
    SearchOp,
    validate_op_namespace,
)

from .env import Store, Txn

__all__ = ["LmdbStore", "DB_NAME"]

DB_NAME = b"store_items"

_LABEL_SEP = b"\x00"
_NS_END = b"\x00\x00"
_HEADER = struct.Struct(">qqI")  # created_us, updated_us, len(identity)
_UPDATED = struct.Struct(">q")  # updated_us, at offset 8
_HASH_LEN = 32
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


# -- encoding ------------------------------------------------------------------------


def _ns_bytes(namespace: tuple[str, ...]) -> bytes:
    return _LABEL_SEP.join(label.encode() for label in namespace)


def _identity(namespace: tuple[str, ...], key: str) -> bytes:
    """The exact, unambiguous byte form of (namespace, key)."""
    return _ns_bytes(namespace) + _NS_END + key.encode()


def _split_identity(identity: bytes) -> tuple[tuple[str, ...], str]:
    ns, _, key = identity.partition(_NS_END)
    namespace = tuple(label.decode() for label in ns.split(_LABEL_SEP)) if ns else ()
    return namespace, key.decode()


def _to_dt(us: int) -> datetime:
    return _EPOCH + timedelta(microseconds=us)


def _now_us() -> int:
    return time.time_ns() // 1000


def _json_default(obj: Any) -> Any:
    """What orjson does not encode itself but a node may reasonably store."""
    model_dump = getattr(obj, "model_dump", None)
    if callable(model_dump) and not isinstance(obj, type):
        return model_dump()
    if isinstance(obj, (set, frozenset)):
        return list(obj)
    raise TypeError(f"Store values must be JSON-serializable; got {type(obj).__name__}")


def _dumps(value: dict[str, Any]) -> bytes:
    return orjson.dumps(value, default=_json_default, option=orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY)


class _Record:
    """A decoded record header; the value is decoded only when needed."""

    __slots__ = ("created_us", "updated_us", "identity", "raw_value")

    def __init__(self, data: bytes) -> None:
        self.created_us, self.updated_us, n = _HEADER.unpack_from(data)
        start = _HEADER.size
        self.identity = data[start : start + n]
        self.raw_value = data[start + n :]

    @staticmethod
    def encode(created_us: int, updated_us: int, identity: bytes, value: bytes) -> bytes:
        return _HEADER.pack(created_us, updated_us, len(identity)) + identity + value

    def value(self) -> dict[str, Any]:
        return orjson.loads(self.raw_value)

    def item(self, value: dict[str, Any] | None = None) -> Item:
        namespace, key = _split_identity(self.identity)
        return Item(
            value=self.value() if value is None else value,
            key=key,
            namespace=namespace,
            created_at=_to_dt(self.created_us),
            updated_at=_to_dt(self.updated_us),
        )

    def search_item(self, value: dict[str, Any] | None = None) -> SearchItem:
        namespace, key = _split_identity(self.identity)
        return SearchItem(
            namespace=namespace,
            key=key,
            value=self.value() if value is None else value,
            created_at=_to_dt(self.created_us),
            updated_at=_to_dt(self.updated_us),
            score=None,
        )


# -- filters (the semantics of InMemoryStore's, see the class docstring) -------------------


def _matches_filter(value: dict[str, Any], filter: dict[str, Any]) -> bool:
    return all(_compare(value.get(k), expected) for k, expected in filter.items())


def _compare(actual: Any, expected: Any) -> bool:
    if isinstance(expected, dict):
        if any(isinstance(k, str) and k.startswith("$") for k in expected):
            return all(_operator(actual, op, operand) for op, operand in expected.items())
        if not isinstance(actual, dict):
            return False
        return all(_compare(actual.get(k), v) for k, v in expected.items())
    if isinstance(expected, (list, tuple)):
        return (
            isinstance(actual, (list, tuple))
            and len(actual) == len(expected)
            and all(_compare(a, e) for a, e in zip(actual, expected))
        )
    return actual == expected


def _operator(actual: Any, op: str, operand: Any) -> bool:
    if op == "$eq":
        return actual == operand
    if op == "$ne":
        return actual != operand
    if op in _NUMERIC:
        try:
            return _NUMERIC[op](float(actual), float(operand))
        except (TypeError, ValueError):  # missing or non-numeric: no match (InMemoryStore raises)
            return False
    raise ValueError(f"Unsupported operator: {op}")


_NUMERIC = {
    "$gt": lambda a, b: a > b,
    "$gte": lambda a, b: a >= b,
    "$lt": lambda a, b: a < b,
    "$lte": lambda a, b: a <= b,
}


def _check_filter(filter: Any) -> None:
    """Raise ValueError for an unknown `$operator` even when no item reaches it.
    Top-level keys are field names (even one starting with "$"), as InMemoryStore."""
    if not isinstance(filter, dict):
        raise ValueError(f"filter must be a dict, got {type(filter).__name__}")
    for expected in filter.values():
        _check_expected(expected)


def _check_expected(expected: Any) -> None:
    if isinstance(expected, dict):
        if any(isinstance(k, str) and k.startswith("$") for k in expected):
            for op in expected:
                if op not in _NUMERIC and op not in ("$eq", "$ne"):
                    raise ValueError(f"Unsupported operator: {op}")
        else:
            for v in expected.values():
                _check_expected(v)
    elif isinstance(expected, (list, tuple)):
        for v in expected:
            _check_expected(v)


def _does_match(condition: MatchCondition, namespace: tuple[str, ...]) -> bool:
    path = tuple(condition.path)
    if len(namespace) < len(path):
        return False
    if condition.match_type == "prefix":
        pairs = zip(namespace, path)
    elif condition.match_type == "suffix":
        pairs = zip(reversed(namespace), reversed(path))
    else:
        raise ValueError(f"Unsupported match type: {condition.match_type}")
    return all(p == "*" or n == p for n, p in pairs)


# -- the store -------------------------------------------------------------------------------


class LmdbStore(BaseStore):
    """A LangGraph `BaseStore` on a shared LMDB environment.

    Semantics follow `langgraph.store.memory.InMemoryStore`, with these differences:

    - `created_at` is the time of the first put (InMemoryStore resets it on every put);
      `updated_at` the time of the last one. Deleting and putting again starts over.
    - `search` without a query returns items newest `updated_at` first (ties in key
      order), as PostgresStore and the reference server's documentation do;
      InMemoryStore returns them in insertion order.
    - `query` (semantic search) needs an embedding index, which this store does not
      have: the query is ignored and items are returned unranked, `score` None, as
      InMemoryStore does when it has no index.
    - Filters: `{"field": value}` (nested dicts compare recursively, lists element-wise)
      and the operators `$eq`, `$ne`, `$gt`, `$gte`, `$lt`, `$lte`, on top-level value
      fields, as InMemoryStore. A comparison on a missing or non-numeric field does not
      match (InMemoryStore raises TypeError). An unknown operator raises ValueError.
    - `ttl` is accepted on `PutOp` and ignored: items do not expire. `supports_ttl` is
      False, so `put(..., ttl=5)` raises NotImplementedError, as BaseStore specifies.
    - Values are stored as JSON: tuples come back as lists, non-string dict keys as
      strings, pydantic models as dicts. Anything else non-JSON raises TypeError.
    - Namespaces with no items left do not exist (`list_namespaces` omits them).
    - A put into the empty namespace raises InvalidNamespaceError even through
      `batch` (BaseStore.put refuses it; InMemoryStore.batch would store it).

    Within one `batch`, reads see the store as it was before the batch's puts, and of
    several puts to one item the last wins, as InMemoryStore. Reads run in a read
    transaction, puts in one write transaction committed before `batch` returns.

    Costs: a get is one B-tree lookup; a search reads the fixed header of every item
    under its namespace prefix (about 1 us per item) and decodes values only for the
    items it returns, or, with a filter, until the page is full; `list_namespaces`
    seeks once per distinct namespace under the fixed part of its prefix.

    Thread-safe: call it from any thread but the trio one (`batch` waits for the
    writer). It lives in the caller's `Store` (one named database) and writes only
    through the store's writer: `abatch` joins its group commits from the graph loop,
    `batch` waits for them. Reads go through the store's read gate, so a map growth
    never happens under them.
    """

    __slots__ = ("store", "_db", "_max_key", "_owns_store")

    def __init__(self, store: Store) -> None:
        self.store = store
        self._db = store.db(DB_NAME.decode())
        self._max_key = store.env.max_key_size()
        self._owns_store = False

    @classmethod
    def open(cls, path: str, *, map_size: int = 64 << 20) -> LmdbStore:
        """Open (or create) a private store at `path`, for tests and tools."""
        store = cls(Store(path, map_size=map_size))
        store._owns_store = True
        return store

    def close(self) -> None:
        """Close the store if `open` created it; a shared one is left alone."""
        if self._owns_store:
            self.store.close()

    # -- BaseStore -------------------------------------------------------------------------

    def batch(self, ops: Iterable[Op]) -> list[Result]:
        """Run `ops`; results in the same order (None for puts)."""
        ops = list(ops)
        reads, puts = self._classify(ops)
        results, encoded = self._prepare(ops, reads, puts)
        if encoded:
            self.store.write_blocking(lambda txn: self._apply_puts(txn, encoded))
        return results

    @staticmethod
    def _classify(ops: list[Op]) -> tuple[list[int], dict[tuple[tuple[str, ...], str], PutOp]]:
        """The indexes of the reads, and the puts by item (of several puts to one item the
        last wins); validates every op first."""
        puts: dict[tuple[tuple[str, ...], str], PutOp] = {}
        reads: list[int] = []
        for i, op in enumerate(ops):
            validate_op_namespace(op)
            if isinstance(op, PutOp):
                puts[(tuple(op.namespace), op.key)] = op
            elif isinstance(op, (GetOp, SearchOp, ListNamespacesOp)):
                if isinstance(op, SearchOp) and op.filter:
                    _check_filter(op.filter)
                reads.append(i)
            else:
                raise ValueError(f"Unknown operation type: {type(op)}")
        return reads, puts

    def _prepare(self, ops: list[Op], reads: list[int], puts: dict[Any, PutOp]) -> tuple[list[Result], list[tuple[bytes, bytes, bytes | None]]]:
        """The reads' results, and the puts encoded (a value that is not JSON fails the
        batch before anything is written)."""
        results: list[Result] = [None] * len(ops)
        encoded = [self._encode_put(op) for op in puts.values()]
        if reads:
            with self.store.reading() as txn:
                for i in reads:
                    results[i] = self._read(txn, ops[i])
        return results, encoded

    async def abatch(self, ops: Iterable[Op]) -> list[Result]:
        """Same as `batch`: inline for gets and puts, in the loop's default executor
        when the batch searches or lists.

        A get takes microseconds, and a put joins the writer's next group commit
        without blocking the loop, as the checkpointer's puts do. A search,
        though, reads every item under its namespace prefix (about a microsecond per
        item, so ~10 ms for 10,000), and listing namespaces seeks once per namespace:
        those go to a thread so that one large namespace does not stall other runs.
        The trio HTTP handlers call `batch` in a worker thread.
        """
        ops = list(ops)
        if any(isinstance(op, (SearchOp, ListNamespacesOp)) for op in ops):
            return await asyncio.get_running_loop().run_in_executor(None, self.batch, ops)
        reads, puts = self._classify(ops)
        results, encoded = self._prepare(ops, reads, puts)
        if encoded:
            await self.store.awrite(lambda txn: self._apply_puts(txn, encoded))
        return results

    # -- reads ------------------------------------------------------------------------------

    def _read(self, txn: Txn, op: Op) -> Result:
        if isinstance(op, GetOp):
            return self._get(txn, tuple(op.namespace), op.key)
        if isinstance(op, SearchOp):
            return self._search(txn, op)
        assert isinstance(op, ListNamespacesOp)
        return self._list_namespaces(txn, op)

    def _lmdb_key(self, identity: bytes) -> bytes:
        if len(identity) <= self._max_key:
            return identity
        return identity[: self._max_key - _HASH_LEN] + hashlib.sha256(identity).digest()

    def _scan_prefix(self, prefix: bytes) -> bytes:
        """The LMDB-key prefix covering every identity that starts with `prefix`."""
        return prefix[: self._max_key - _HASH_LEN]

    def _get(self, txn: Txn, namespace: tuple[str, ...], key: str) -> Item | None:
        identity = _identity(namespace, key)
        data = txn.get(self._lmdb_key(identity), db=self._db)
        if data is None:
            return None
        record = _Record(data)
        return record.item() if record.identity == identity else None

    def _rows(self, txn: Txn, prefix: bytes) -> list[tuple[int, bytes, bytes]]:
        """(-updated_us, lmdb key, record) for every item whose identity starts with
        `prefix`: sorting the tuples orders items newest first, then by key. Only the
        header is read here; values are decoded for the items a search returns."""
        scan = self._scan_prefix(prefix)
        # A truncated scan prefix (a namespace of ~480 bytes) may also cover other long
        # namespaces sharing its first bytes: check each record's exact identity then.
        exact = scan == prefix
        rows: list[tuple[int, bytes, bytes]] = []
        cursor = txn.cursor(db=self._db)
        if not cursor.set_range(scan):
            return rows
        unpack = _UPDATED.unpack_from
        for key, data in cursor:
            if not key.startswith(scan):
                break
            if exact or _Record(data).identity.startswith(prefix):
                rows.append((-unpack(data, 8)[0], key, data))
        return rows

    def _search(self, txn: Txn, op: SearchOp) -> list[SearchItem]:
        namespace_prefix = tuple(op.namespace_prefix)
        prefix = _ns_bytes(namespace_prefix) + _LABEL_SEP if namespace_prefix else b""
        rows = self._rows(txn, prefix)
        offset, limit = op.offset, op.limit
        bounded = offset >= 0 and limit >= 0  # negative bounds: Python slicing, as InMemoryStore
        if not op.filter:
            if bounded:
                page = heapq.nsmallest(offset + limit, rows)[offset:]
            else:
                page = sorted(rows)[offset : offset + limit]
            return [_Record(data).search_item() for _, _, data in page]
        rows.sort()
        matched = []
        for _, _, data in rows:
            record = _Record(data)
            value = record.value()
            if _matches_filter(value, op.filter):
                matched.append(record.search_item(value))
                if bounded and len(matched) >= offset + limit:
                    break
        return matched[offset : offset + limit]

    def _list_namespaces(self, txn: Txn, op: ListNamespacesOp) -> list[tuple[str, ...]]:
        conditions = tuple(op.match_conditions or ())
        # Labels a prefix condition fixes before its first wildcard narrow the scan.
        fixed: tuple[str, ...] = ()
        for condition in conditions:
            if condition.match_type == "prefix":
                labels = []
                for label in condition.path:
                    if label == "*":
                        break
                    labels.append(label)
                if len(labels) > len(fixed):
                    fixed = tuple(labels)
        found = set()
        for namespace in self._namespaces(txn, _ns_bytes(fixed) + _LABEL_SEP if fixed else b""):
            if all(_does_match(c, namespace) for c in conditions):
                found.add(namespace if op.max_depth is None else namespace[: op.max_depth])
        return sorted(found)[op.offset : op.offset + op.limit]

    def _namespaces(self, txn: Txn, prefix: bytes) -> Iterator[tuple[str, ...]]:
        """Every namespace holding an item and starting with `prefix`, each once.

        Keys of one namespace's own items are contiguous (b"ns\\0\\0..."), so after the
        first one a seek to b"ns\\0\\1" skips the rest: one seek per namespace, not one
        step per item. Deeper namespaces sort before that point and were already seen.
        """
        scan = self._scan_prefix(prefix)
        cursor = txn.cursor(db=self._db)
        positioned = cursor.set_range(scan)
        seen_long: set[tuple[str, ...]] = set()
        while positioned:
            key = cursor.key()
            if not key.startswith(scan):
                return
            record = _Record(cursor.value())
            if record.identity.startswith(prefix):
                namespace, _ = _split_identity(record.identity)
                skip_to = _ns_bytes(namespace) + b"\x00\x01"
                if len(skip_to) <= self._max_key - _HASH_LEN:
                    yield namespace
                    positioned = cursor.set_range(skip_to)
                    continue
                if namespace not in seen_long:  # very long namespace: walk item by item
                    seen_long.add(namespace)
                    yield namespace
            positioned = cursor.next()

    # -- writes -----------------------------------------------------------------------------

    def _encode_put(self, op: PutOp) -> tuple[bytes, bytes, bytes | None]:
        """(lmdb key, identity, encoded value or None to delete), computed outside the
        write transaction so the global write lock is held only for the writes."""
        namespace = tuple(op.namespace)
        if op.value is not None and not namespace:
            raise InvalidNamespaceError("Namespace cannot be empty.")
        identity = _identity(namespace, str(op.key))
        value = None if op.value is None else _dumps(dict(op.value))
        return self._lmdb_key(identity), identity, value

    def _apply_puts(self, txn: Txn, puts: list[tuple[bytes, bytes, bytes | None]]) -> None:
        now = _now_us()
        for lkey, identity, value in puts:
            if value is None:
                old = txn.get(lkey, db=self._db)
                if old is not None and _Record(old).identity == identity:
                    txn.delete(lkey, db=self._db)
                continue
            created = now
            old = txn.get(lkey, db=self._db)
            if old is not None:
                record = _Record(old)
                if record.identity == identity:
                    created = record.created_us
            txn.put(lkey, _Record.encode(created, max(now, created), identity, value), db=self._db)


