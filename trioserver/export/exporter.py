"""`trioserver export`: plan, check, copy and verify, printing what it did.

The order matters: assistants first (runs and crons refer to them), then each thread in
its own transaction (row, checkpoints, writes, runs), then crons (they refer to threads),
then store items, then the verification pass.
"""

from __future__ import annotations

import collections
import time
from collections.abc import Callable
from typing import Any

import attrs

from ..ids import graph_assistant_id  # a default assistant has the same id on Aegra and the Platform
from .datadir import DataDir, Run, Thread
from .progress import Progress

ACTIVE_RUN = ("pending", "running")
STORE_BATCH = 500

@attrs.define
class ExportOptions:
    data_dir: str
    to: str | None = None  # Postgres URL (aegra) or API URL (platform)
    target: str = "aegra"
    owner: str | None = None
    api_key: str | None = None
    dry_run: bool = False
    verify: bool = True
    force: bool = False
    threads: list[str] | None = None


@attrs.define
class Plan:
    """What the data directory holds, and what the export will move."""

    threads: list[Thread]
    checkpoints: dict[str, int]  # thread id -> its checkpoint count
    counts: dict[str, int]
    active_runs: list[Any]
    graphs_in_use: dict[str, dict[str, int]]  # graph id -> {"threads": n, "assistants": n}


def make_plan(src: DataDir, only: list[str] | None) -> Plan:
    threads = [t for t in src.threads() if not t.temporary and (not only or t.thread_id in only)]
    counts: collections.Counter[str] = collections.Counter()
    per_thread: dict[str, int] = {}
    active: list[Run] = []
    graphs: dict[str, dict[str, int]] = collections.defaultdict(lambda: {"threads": 0, "assistants": 0})
    for thread in threads:
        checkpoints = src.checkpoints(thread.thread_id)
        per_thread[thread.thread_id] = len(checkpoints)
        counts["checkpoints"] += len(checkpoints)
        counts["writes"] += sum(len(c.writes) for c in checkpoints)
        blobs = {(c.ns, ch, str(c.checkpoint["channel_versions"][ch])): len(b[1]) for c in checkpoints for ch, b in c.blobs.items()}
        counts["blobs"] += len(blobs)
        counts["bytes"] += sum(blobs.values()) + sum(len(w.blob) for c in checkpoints for w in c.writes)
        runs = src.runs(thread.thread_id)
        counts["runs"] += len(runs)
        active.extend(r for r in runs if r.status in ACTIVE_RUN)
        graph_id = thread_graph(thread)
        if graph_id:
            graphs[graph_id]["threads"] += 1
    assistants = src.assistants()
    for assistant, versions in assistants:
        if assistant.assistant_id == graph_assistant_id(assistant.graph_id):
            graphs.setdefault(assistant.graph_id, {"threads": 0, "assistants": 0})
        else:
            graphs[assistant.graph_id]["assistants"] += 1
        counts["assistant versions"] += len(versions)
    counts["threads"] = len(threads)
    counts["assistants"] = len(assistants)
    counts["crons"] = len(src.crons())
    counts["store items"] = len(src.store_items())
    order = ("threads", "checkpoints", "writes", "blobs", "runs", "assistants", "assistant versions", "crons", "store items", "bytes")
    return Plan(threads, per_thread, {k: counts[k] for k in order}, active, dict(graphs))


def thread_graph(thread: Thread) -> str | None:
    return thread.graph_id or thread.metadata.get("graph_id")


def _line(counts: dict[str, int]) -> str:
    return ", ".join(f"{n:,} {name}" for name, n in counts.items())


def run_export(opts: ExportOptions, out: Callable[[str], None] = print) -> int:
    """The whole export; the exit status (0: moved and verified; 1: refused or differences)."""
    with DataDir(opts.data_dir) as src:
        started = time.monotonic()
        plan = make_plan(src, opts.threads)
        out(f"{opts.data_dir}: {_line(plan.counts)}")
        if plan.active_runs:
            out(
                f"{len(plan.active_runs)} run(s) are still pending or running (the server stopped before they ended: "
                + ", ".join(r.run_id for r in plan.active_runs[:5])
                + ("..." if len(plan.active_runs) > 5 else "")
                + "). The target would never run them."
            )
            if not opts.force and not opts.dry_run:
                out("Start the server and let them finish (or cancel them), then export again; or pass --force to record them as 'interrupted'.")
                return 1
        if opts.dry_run:
            out("dry run: nothing written")
            return 0
        target = _open_target(opts)
        try:
            return _copy(src, target, plan, opts, started, out)
        finally:
            target.close()


def _open_target(opts: ExportOptions) -> Any:
    owner_given = opts.owner is not None
    if not opts.to:
        raise ValueError("no target URL")
    if opts.target == "aegra":
        from .aegra import AegraTarget

        return AegraTarget(opts.to, owner=opts.owner or "anonymous", owner_given=owner_given)
    if opts.target == "platform":
        from .platform import PlatformTarget

        return PlatformTarget(opts.to, api_key=opts.api_key)
    raise ValueError(f"unknown target {opts.target!r}")


def _copy(src: DataDir, target: Any, plan: Plan, opts: ExportOptions, started: float, out: Callable[[str], None]) -> int:
    target.check_ready()
    served = target.served_graphs()
    if served is not None:
        idle = []
        for graph_id, used in sorted(plan.graphs_in_use.items()):
            if graph_id in served:
                continue
            if not used["threads"] and not used["assistants"]:
                idle.append(graph_id)  # only its default assistant: nothing of the user's
                continue
            out(
                f"graph '{graph_id}' is not served by the target ({used['threads']} thread(s), {used['assistants']} assistant(s)): "
                f"they are copied, but the target cannot run or show them until its config serves '{graph_id}'"
            )
        if idle:
            out(f"graphs not served by the target, with nothing but their default assistant here: {', '.join(idle)}")
    moved: collections.Counter[str] = collections.Counter()
    skipped: list[str] = []

    for assistant, versions in src.assistants():
        outcome = target.put_assistant(assistant, versions)
        if outcome == "moved":
            moved["assistants"] += 1
            moved["assistant versions"] += len(versions)
        elif outcome == "kept":
            moved["default assistants kept"] += 1
        else:
            skipped.append(f"assistant {assistant.assistant_id} ({assistant.name}): {outcome}")

    known = target.assistant_ids()
    progress = Progress({"threads": len(plan.threads), "checkpoints": sum(plan.checkpoints.values())})
    for thread in plan.threads:
        checkpoints = src.checkpoints(thread.thread_id)
        runs = []
        for run in src.runs(thread.thread_id):
            if known is not None and run.assistant_id not in known:
                skipped.append(f"run {run.run_id} of thread {thread.thread_id}: its assistant {run.assistant_id} is gone")
                continue
            runs.append((run, "interrupted" if run.status in ACTIVE_RUN else run.status))
        thread_status = "idle" if thread.status == "busy" else thread.status
        target.put_thread(thread, thread_status, checkpoints, runs, src.serde)
        moved["threads"] += 1
        moved["checkpoints"] += len(checkpoints)
        moved["writes"] += sum(len(c.writes) for c in checkpoints)
        moved["runs"] += len(runs)
        progress.advance(threads=1, checkpoints=len(checkpoints))
    progress.finish()

    for cron in src.crons():
        if known is not None and cron.assistant_id not in known:
            skipped.append(f"cron {cron.cron_id}: its assistant {cron.assistant_id} is not on the target")
        elif cron.thread_id and not target.has_thread(cron.thread_id):
            skipped.append(f"cron {cron.cron_id}: its thread {cron.thread_id} was not exported")
        else:
            target.put_cron(cron)
            moved["crons"] += 1

    items = src.store_items()
    for start in range(0, len(items), STORE_BATCH):
        target.put_store_items(items[start : start + STORE_BATCH])
    moved["store items"] = len(items)

    elapsed = time.monotonic() - started
    order: tuple[str, ...] = ("threads", "checkpoints", "writes", "runs", "assistants", "assistant versions", "default assistants kept", "crons", "store items")
    if target.checkpointer() is None:  # an API target takes threads, not their checkpoints or runs
        order = tuple(k for k in order if k not in ("checkpoints", "writes", "runs"))
    out(f"moved {_line({k: moved[k] for k in order})} in {elapsed:.1f} s")
    for line in skipped:
        out(f"not moved: {line}")
    for line in target.notes():
        out(line)

    status = 0
    if opts.verify:
        status = _verify(src, target, plan, out)
    if not src.still_alone():
        out("warning: another process opened the data directory during the export; run it again with the server stopped")
        status = 1
    held = target.counts()
    if held:
        out(f"target now holds: {_line(held)}")
    return status


def _verify(src: DataDir, target: Any, plan: Plan, out: Callable[[str], None]) -> int:
    saver = target.checkpointer()
    if saver is None:
        out("verification: not possible on this target (its checkpoints are not readable from here)")
        return 0
    from .verify import verify

    started = time.monotonic()
    differences, newer = verify(src.saver, saver, [t.thread_id for t in plan.threads])
    n = sum(plan.checkpoints.values())
    if newer:
        out(f"verification: {newer:,} checkpoint(s) are newer on the target (threads that went on there since an earlier export)")
    if not differences:
        out(f"verified: {len(plan.threads):,} threads, {n:,} checkpoints identical on both sides ({time.monotonic() - started:.1f} s)")
        return 0
    out(f"verification: {len(differences)} thread(s) differ:")
    for thread_id, problems in differences.items():
        for problem in problems[:20]:
            out(f"  thread {thread_id}: {problem}")
        if len(problems) > 20:
            out(f"  thread {thread_id}: ... and {len(problems) - 20} more")
    return 1
