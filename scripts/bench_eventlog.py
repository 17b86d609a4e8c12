"""Micro-benchmark of trioserver's event log: appends/s at a durability setting.

Run by scripts/bench.py with the project's .venv python (it imports trioserver):

    .venv/bin/python scripts/bench_eventlog.py --durability full --events 50000 --tasks 8 --batch 4

`--tasks` concurrent trio tasks, each on its own thread id (like concurrent runs), append
`--batch` small LogEvents per `EventLog.append` call (about what a run's pump hands over
per wake-up) and wait for the commit, as a run does. The Store's single writer groups
whatever is queued into one LMDB transaction, so commits < appends. Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path

import trio

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from trioserver.storage.env import Store  # noqa: E402
from trioserver.storage.eventlog import EventLog  # noqa: E402
from trioserver.storage.records import LogEvent  # noqa: E402


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


async def bench(durability: str, total: int, tasks: int, batch: int, tmp_root: str) -> dict:
    tmp = tempfile.mkdtemp(prefix=f"eventlog-{durability}-", dir=tmp_root)
    store = Store(tmp, durability=durability)
    log = EventLog(store)
    commits = 0

    def count_commit() -> None:
        nonlocal commits
        commits += 1

    store.on_commit(count_commit)
    per_task = total // tasks
    latencies: list[float] = []
    payload = json.dumps([{"content": "tok", "type": "AIMessageChunk", "id": "lc_run--x"}, {"langgraph_node": "call_model"}]).encode()

    async def worker(thread_id: str, run_id: str) -> None:
        done = 0
        while done < per_task:
            n = min(batch, per_task - done)
            events = [LogEvent(run_id, "messages", "messages-tuple", payload) for _ in range(n)]
            t0 = time.perf_counter()
            await log.append(thread_id, events)
            latencies.append(time.perf_counter() - t0)
            done += n

    try:
        async with trio.open_nursery() as nursery:
            await nursery.start(store.run_writer)
            t0 = time.perf_counter()
            async with trio.open_nursery() as workers:
                for _ in range(tasks):
                    workers.start_soon(worker, str(uuid.uuid4()), str(uuid.uuid4()))
            elapsed = time.perf_counter() - t0
            nursery.cancel_scope.cancel()
        # Sanity: everything is there.
        stored = sum(1 for _ in store.read(lambda txn: list(txn.cursor(log.db).iternext(values=False))))
    finally:
        store.close()
        shutil.rmtree(tmp, ignore_errors=True)
    events = per_task * tasks
    return {
        "durability": durability,
        "events": events,
        "stored": stored,
        "appends": len(latencies),
        "commits": commits,
        "seconds": elapsed,
        "events_per_s": events / elapsed,
        "appends_per_s": len(latencies) / elapsed,
        "commits_per_s": commits / elapsed,
        "append_p50_ms": percentile(latencies, 0.5) * 1000,
        "append_p99_ms": percentile(latencies, 0.99) * 1000,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--durability", default="full")
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--tasks", type=int, default=8)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--tmp", default=str(ROOT / ".bench" / "tmp"))
    args = parser.parse_args()
    Path(args.tmp).mkdir(parents=True, exist_ok=True)
    result = trio.run(bench, args.durability, args.events, args.tasks, args.batch, args.tmp)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
