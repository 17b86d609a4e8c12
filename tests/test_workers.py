"""Graph worker processes: a worker killed mid-run costs no acknowledged event and no
run (they resume as their next attempt, on its replacement), several workers share the
runs, and `--workers 0` runs graphs in the server process."""

from __future__ import annotations

import asyncio
import os
import signal
import time

import httpx
import pytest
import sse
from langgraph_sdk import get_client
from serverproc import ServerProcess

pytestmark = pytest.mark.anyio


def workers_of(server: ServerProcess) -> list[int]:
    """The pids of the server's graph workers (its child processes)."""
    assert server.proc is not None
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmdline = f.read()
        except OSError:
            continue
        if int(fields[1]) == server.proc.pid and b"worker" in cmdline:
            found.append(int(pid))
    return sorted(found)


def alive(pid: int) -> bool:
    """Whether `pid` is a live process (a zombie that nobody has reaped counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


async def started_workers(server: ServerProcess, count: int) -> list[int]:
    """The server's `count` worker pids, once they have been spawned (serving begins
    before its workers are, so a test that has seen `/ok` waits for them here)."""

    async def spawned() -> list[int] | None:
        found = workers_of(server)
        return found if len(found) == count else None

    return await _until(spawned)


async def _until(predicate, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while True:
        value = await predicate()
        if value:
            return value
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)


async def test_a_killed_worker_loses_no_event_and_no_run(tmp_path):
    server = ServerProcess(tmp_path / "data").start()
    try:
        client = get_client(url=server.url)
        (worker,) = await started_workers(server, 1)
        threads = [(await client.threads.create())["thread_id"] for _ in range(3)]
        runs = [await client.runs.create(t, "slow", input={"delay": 1.0}, stream_mode="values") for t in threads]
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
            # Each run has started (its first graph event is in the log) before the kill.
            seen = []
            for thread, run in zip(threads, runs):
                events, _ = await sse.read_until(http, f"/threads/{thread}/runs/{run['run_id']}/stream", lambda evs: any(e.event == "values" for e in evs))
                seen.append(events)
            os.kill(worker, signal.SIGKILL)
            for thread, run, before in zip(threads, runs, seen):
                assert await client.runs.join(thread, run["run_id"]) == {"delay": 1.0, "log": ["tick", "tock"]}
                after, _ = await sse.read_until(http, f"/threads/{thread}/runs/{run['run_id']}/stream", lambda evs: False)
                by_id = {e.id: e.data for e in after}
                assert all(by_id.get(e.id) == e.data for e in before), "an event received before the kill is gone"
                assert [e.data["attempt"] for e in after if e.event == "metadata"] == [1, 2]
                assert (await client.runs.get(thread, run["run_id"]))["status"] == "success"
        replacement = await _until(lambda: _single_new_worker(server, worker))
        assert replacement != worker
        fresh = (await client.threads.create())["thread_id"]
        assert (await client.runs.wait(fresh, "agent", input={"topic": "after"}))["joke"] == "This is a joke about after and cats"
        await client.http.client.aclose()
    finally:
        server.stop()
    assert "graph worker" in server.log_path.read_text() and "died" in server.log_path.read_text()


async def _single_new_worker(server: ServerProcess, old: int) -> int | None:
    found = workers_of(server)
    return found[0] if len(found) == 1 and found[0] != old else None


async def test_several_workers_share_the_runs(tmp_path):
    server = ServerProcess(tmp_path / "data", extra_args=["--workers", "2"]).start()
    try:
        assert len(await started_workers(server, 2)) == 2
        client = get_client(url=server.url)
        threads = [(await client.threads.create())["thread_id"] for _ in range(4)]
        started = time.monotonic()
        results = await asyncio.gather(*(client.runs.wait(t, "sync_slow", input={"delay": 0.6}) for t in threads))
        assert all(r["done"] for r in results)
        assert time.monotonic() - started < 2.4  # four 0.6 s sync nodes did not run one after another
        await client.http.client.aclose()
    finally:
        server.stop()


async def test_zero_workers_runs_graphs_in_the_server(tmp_path):
    server = ServerProcess(tmp_path / "data", extra_args=["--workers", "0"]).start()
    try:
        assert workers_of(server) == []
        client = get_client(url=server.url)
        thread = (await client.threads.create())["thread_id"]
        chunks = [c async for c in client.runs.stream(thread, "agent", input={"topic": "ice cream"}, stream_mode="updates")]
        assert [c.event for c in chunks] == ["metadata", "updates", "updates"]
        run = await client.runs.create(thread, "slow", input={"delay": 30})
        await client.runs.cancel(thread, run["run_id"], wait=True)
        assert (await client.runs.get(thread, run["run_id"]))["status"] == "interrupted"
        interrupted = await client.runs.wait(thread, "asking", input={"question": "ok?"})
        assert interrupted["__interrupt__"][0]["value"] == {"question": "ok?"}
        resumed = await client.runs.wait(thread, "asking", command={"resume": "yes"})
        assert resumed["answer"] == "yes (confirmed)"
        await client.http.client.aclose()
    finally:
        server.stop()


async def test_a_cancel_right_after_the_start_reaches_the_worker(client):
    """A cancel that follows the run's creation at once (before the worker has started
    the graph) still stops it promptly."""
    for _ in range(5):
        thread = (await client.threads.create())["thread_id"]
        run = await client.runs.create(thread, "slow", input={"delay": 30})
        started = time.monotonic()
        await client.runs.cancel(thread, run["run_id"], wait=True)
        assert time.monotonic() - started < 3
        assert (await client.runs.get(thread, run["run_id"]))["status"] == "interrupted"


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
async def test_a_server_stopped_as_soon_as_it_serves_leaves_no_worker_behind(tmp_path, sig):
    """Serving begins while the worker still imports its graphs: a stop in that window
    (SIGTERM: the server kills a worker that has not said hello; SIGKILL: the worker
    finds its server gone) must not leave a worker process running."""
    server = ServerProcess(tmp_path / "data").start()
    workers = await started_workers(server, 1)
    code = server.stop(sig)
    assert code == (0 if sig == signal.SIGTERM else -signal.SIGKILL)

    async def all_gone() -> bool:
        return not any(alive(pid) for pid in workers)

    await _until(all_gone, timeout=30)
    assert "Traceback" not in server.log_path.read_text()  # the worker's one line, not a crash
