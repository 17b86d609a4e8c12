"""Threads, runs and assistants in their LMDB databases.

Readers are plain functions of a read transaction; writers return ops for `Store.write`,
so a handler can combine them (a run and its thread's status) in one commit.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

from .env import Store, Txn
from .records import Assistant, AssistantVersion, Run, Thread, decode, encode


def _key(resource_id: str) -> bytes:
    return uuid.UUID(resource_id).bytes


class Tables:
    """Typed access to the resource databases of one `Store`."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.threads_db = store.db("threads")
        self.runs_db = store.db("runs")
        self.thread_runs_db = store.db("thread_runs")
        self.assistants_db = store.db("assistants")
        self.versions_db = store.db("assistant_versions")

    # -- generic -------------------------------------------------------------------

    def _get(self, db, cls, resource_id: str, txn: Txn | None = None):
        def read(t: Txn):
            raw = t.get(_key(resource_id), db=db)
            return None if raw is None else decode(raw, cls)

        return read(txn) if txn is not None else self.store.read(read)

    def _scan(self, db, cls) -> list:
        return self.store.read(lambda t: [decode(v, cls) for _, v in t.cursor(db)])

    # -- threads -------------------------------------------------------------------

    def get_thread(self, thread_id: str, txn: Txn | None = None) -> Thread | None:
        return self._get(self.threads_db, Thread, thread_id, txn)

    def all_threads(self) -> list[Thread]:
        return self._scan(self.threads_db, Thread)

    # Put ops encode their record when they are made, not when they run: the record is
    # stored as it was when the caller queued the write, whatever happens to it after.

    def put_thread_op(self, thread: Thread) -> Callable[[Txn], Thread]:
        raw = encode(thread)

        def op(txn: Txn) -> Thread:
            txn.put(_key(thread.thread_id), raw, db=self.threads_db)
            return thread

        return op

    def update_thread_op(self, thread_id: str, change: Callable[[Thread], Any]) -> Callable[[Txn], Thread | None]:
        """An op that reads the thread inside the write transaction, applies `change`, stores it."""

        def op(txn: Txn) -> Thread | None:
            thread = self.get_thread(thread_id, txn)
            if thread is None:
                return None
            change(thread)
            txn.put(_key(thread_id), encode(thread), db=self.threads_db)
            return thread

        return op

    def delete_thread_op(self, thread_id: str) -> Callable[[Txn], bool]:
        """Deletes the thread and its runs (events and checkpoints are deleted by their owners)."""

        def op(txn: Txn) -> bool:
            for run_id in self._thread_run_ids(txn, thread_id):
                txn.delete(_key(run_id), db=self.runs_db)
                txn.delete(_key(thread_id) + _key(run_id), db=self.thread_runs_db)
            return txn.delete(_key(thread_id), db=self.threads_db)

        return op

    # -- runs ----------------------------------------------------------------------

    def get_run(self, run_id: str, txn: Txn | None = None) -> Run | None:
        return self._get(self.runs_db, Run, run_id, txn)

    def put_run_op(self, run: Run) -> Callable[[Txn], Run]:
        raw = encode(run)

        def op(txn: Txn) -> Run:
            txn.put(_key(run.run_id), raw, db=self.runs_db)
            txn.put(_key(run.thread_id) + _key(run.run_id), b"", db=self.thread_runs_db)
            return run

        return op

    def update_run_op(self, run_id: str, change: Callable[[Run], Any]) -> Callable[[Txn], Run | None]:
        def op(txn: Txn) -> Run | None:
            run = self.get_run(run_id, txn)
            if run is None:
                return None
            change(run)
            txn.put(_key(run_id), encode(run), db=self.runs_db)
            return run

        return op

    def delete_run_op(self, run_id: str) -> Callable[[Txn], bool]:
        def op(txn: Txn) -> bool:
            run = self.get_run(run_id, txn)
            if run is None:
                return False
            txn.delete(_key(run.thread_id) + _key(run_id), db=self.thread_runs_db)
            return txn.delete(_key(run_id), db=self.runs_db)

        return op

    def _thread_run_ids(self, txn: Txn, thread_id: str) -> list[str]:
        prefix = _key(thread_id)
        cursor = txn.cursor(self.thread_runs_db)
        out = []
        if cursor.set_range(prefix):
            for key in cursor.iternext(keys=True, values=False):
                if key[:16] != prefix:
                    break
                out.append(str(uuid.UUID(bytes=key[16:])))
        return out

    def thread_runs(self, thread_id: str) -> list[Run]:
        """The thread's runs, oldest first (run ids are time-ordered UUIDs)."""

        def read(txn: Txn) -> list[Run]:
            runs = (self.get_run(r, txn) for r in self._thread_run_ids(txn, thread_id))
            return [r for r in runs if r is not None]

        return self.store.read(read)

    def all_runs(self) -> Iterator[Run]:
        return iter(self._scan(self.runs_db, Run))

    # -- assistants ----------------------------------------------------------------

    def get_assistant(self, assistant_id: str, txn: Txn | None = None) -> Assistant | None:
        return self._get(self.assistants_db, Assistant, assistant_id, txn)

    def all_assistants(self) -> list[Assistant]:
        return self._scan(self.assistants_db, Assistant)

    def put_assistant_op(self, assistant: Assistant, *, new_version: bool = True) -> Callable[[Txn], Assistant]:
        def op(txn: Txn) -> Assistant:
            txn.put(_key(assistant.assistant_id), encode(assistant), db=self.assistants_db)
            if new_version:
                version = AssistantVersion(
                    assistant_id=assistant.assistant_id,
                    graph_id=assistant.graph_id,
                    name=assistant.name,
                    version=assistant.version,
                    created_at=assistant.updated_at,
                    config=assistant.config,
                    context=assistant.context,
                    metadata=assistant.metadata,
                    description=assistant.description,
                )
                vkey = _key(assistant.assistant_id) + assistant.version.to_bytes(4, "big")
                txn.put(vkey, encode(version), db=self.versions_db)
            return assistant

        return op

    def assistant_versions(self, assistant_id: str, txn: Txn | None = None) -> list[AssistantVersion]:
        """The assistant's stored versions, oldest first."""
        prefix = _key(assistant_id)

        def read(t: Txn) -> list[AssistantVersion]:
            cursor = t.cursor(self.versions_db)
            out = []
            if cursor.set_range(prefix):
                for key, value in cursor:
                    if key[:16] != prefix:
                        break
                    out.append(decode(value, AssistantVersion))
            return out

        return read(txn) if txn is not None else self.store.read(read)

    def delete_assistant_op(self, assistant_id: str) -> Callable[[Txn], bool]:
        prefix = _key(assistant_id)

        def op(txn: Txn) -> bool:
            cursor = txn.cursor(self.versions_db)
            if cursor.set_range(prefix):
                while cursor.key()[:16] == prefix:
                    if not cursor.delete() or not cursor.key():
                        break
            return txn.delete(prefix, db=self.assistants_db)

        return op
