"""The graph-alone ceiling: the bench's stateless graph driven by `astream` with no server,
in as many processes as the server uses, to show how close the server comes to what
the graph itself allows on the same cores.

    python scripts/bench_ceiling.py --processes 2 --seconds 5 --concurrency 32

Each process runs `concurrency` asyncio tasks that run the graph back to back (the same
input and stream mode as the bench's stateless runs, no checkpointer, as a stateless run
has none) and prints how many runs it finished; the parent starts them together and
prints the total as JSON: {"processes", "runs", "seconds", "runs_per_s"}.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GRAPH = ROOT / "trioserver" / "examples" / "joke.py"


def load_graph():
    spec = importlib.util.spec_from_file_location("bench_joke", GRAPH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.graph


async def child(seconds: float, concurrency: int, start_at: float) -> int:
    graph = load_graph()
    async for _ in graph.astream({"topic": "cats"}, stream_mode="updates"):  # warm up
        pass
    await asyncio.sleep(max(0.0, start_at - time.time()))
    deadline = time.monotonic() + seconds
    done = 0

    async def loop() -> None:
        nonlocal done
        while time.monotonic() < deadline:
            async for _ in graph.astream({"topic": "cats"}, stream_mode="updates"):
                pass
            done += 1

    await asyncio.gather(*(loop() for _ in range(concurrency)))
    return done


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--processes", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--child-start", type=float, default=None)
    args = parser.parse_args()
    if args.child_start is not None:
        print(asyncio.run(child(args.seconds, args.concurrency, args.child_start)))
        return 0
    start_at = time.time() + 3.0  # time for every child to import langgraph first
    procs = [
        subprocess.Popen([sys.executable, __file__, "--seconds", str(args.seconds), "--concurrency", str(args.concurrency), "--child-start", str(start_at)], stdout=subprocess.PIPE, text=True)
        for _ in range(args.processes)
    ]
    runs = sum(int(p.communicate()[0].strip() or 0) for p in procs)
    print(json.dumps({"processes": args.processes, "runs": runs, "seconds": args.seconds, "runs_per_s": runs / args.seconds}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
