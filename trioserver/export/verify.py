"""The verification pass: every thread's checkpoint chain, compared on both sides.

Each side is read through its own LangGraph checkpointer (`LmdbSaver` here, the target's
`PostgresSaver` there), so what is compared is what a graph would load: per checkpoint
the namespace, id, parent, metadata, channel values and versions, and the pending
writes (task, channel, value) in the order LangGraph applies them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver, CheckpointTuple


def _chain(saver: BaseCheckpointSaver, thread_id: str) -> dict[tuple[str, str], CheckpointTuple]:
    out = {}
    for t in saver.list({"configurable": {"thread_id": thread_id}}):
        conf = t.config["configurable"]
        out[(conf.get("checkpoint_ns", ""), conf["checkpoint_id"])] = t
    return out


def _parent(t: CheckpointTuple) -> str | None:
    return t.parent_config["configurable"]["checkpoint_id"] if t.parent_config else None


def _first_difference(a: Any, b: Any, path: str = "") -> str | None:
    """Where two decoded values differ, as a short path (None when equal)."""
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b), key=str):
            if key not in a or key not in b:
                return f"{path}.{key} only on {'the source' if key in a else 'the target'}"
            found = _first_difference(a[key], b[key], f"{path}.{key}")
            if found:
                return found
        return None
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        if len(a) != len(b):
            return f"{path}: {len(a)} items here, {len(b)} there"
        for i, (x, y) in enumerate(zip(a, b)):
            found = _first_difference(x, y, f"{path}[{i}]")
            if found:
                return found
        return None
    return None if a == b else f"{path}: {a!r:.80} != {b!r:.80}"


def compare_thread(source: BaseCheckpointSaver, target: BaseCheckpointSaver, thread_id: str) -> tuple[list[str], int]:
    """What differs between the thread's checkpoints on the two sides (empty: identical),
    and how many checkpoints are newer on the target: found only there, or with more
    pending writes there. Those are not differences: the thread went on there after an
    earlier copy."""
    mine, theirs = _chain(source, thread_id), _chain(target, thread_id)
    problems, extra = [], len(set(theirs) - set(mine))
    for key in sorted(set(mine) - set(theirs)):
        problems.append(f"checkpoint {key[1]} (ns {key[0]!r}) is missing on the target")
    for key in sorted(set(mine) & set(theirs)):
        a, b = mine[key], theirs[key]
        where = f"checkpoint {key[1]} (ns {key[0]!r})"
        if _parent(a) != _parent(b):
            problems.append(f"{where}: parent {_parent(a)} != {_parent(b)}")
        for part in ("metadata", "checkpoint"):
            found = _first_difference(getattr(a, part), getattr(b, part), part)
            if found:
                problems.append(f"{where}: {found}")
        mine_w, theirs_w = list(a.pending_writes or []), list(b.pending_writes or [])
        if len(theirs_w) > len(mine_w) and all(w in theirs_w for w in mine_w):
            extra += 1  # tasks ran from this checkpoint on the target (a resumed thread)
        else:
            found = _first_difference(mine_w, theirs_w, "pending_writes")
            if found:
                problems.append(f"{where}: {found}")
    return problems, extra


def verify(source: BaseCheckpointSaver, target: BaseCheckpointSaver, thread_ids: Iterable[str]) -> tuple[dict[str, list[str]], int]:
    """Differences per thread (for the threads that differ), and the number of checkpoints
    found only on the target."""
    out, newer = {}, 0
    for thread_id in thread_ids:
        problems, extra = compare_thread(source, target, thread_id)
        newer += extra
        if problems:
            out[thread_id] = problems
    return out, newer

