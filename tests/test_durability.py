"""Crash and restart: what a client received before `kill -9` is still there, with the same
ids; runs that were in flight are resumed as a new attempt; the store opens and works.
A clean stop (SIGTERM) ends streams at once and hands running and queued runs to the
next start, which runs them."""

from __future__ import annotations

import asyncio
import random

import httpx
import pytest
import sse
from langgraph_sdk import get_client
from serverproc import ServerProcess

pytestmark = pytest.mark.anyio


async def _stream_runs(url: str, tid: str, received: list, stop: asyncio.Event) -> None:
    """Stream llm runs on one thread back to back, recording every event received."""
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        try:
            while not stop.is_set():
                body = {"assistant_id": "llm", "input": {"topic": "t"}, "stream_mode": ["messages-tuple", "values"]}
                async with http.stream("POST", f"/threads/{tid}/runs/stream", json=body) as res:
                    buffer = ""
                    async for text in res.aiter_text():
                        buffer += text
                        *blocks, buffer = buffer.replace("\r\n", "\n").split("\n\n")
                        for block in blocks:
                            events, _ = sse.parse(block + "\n\n")
                            received.extend((e.id, e.event, e.data) for e in events)
        except (httpx.HTTPError, OSError):
            pass  # the server died under us: that is the point


async def test_kill_minus_nine_loses_nothing_acknowledged(tmp_path):
    data = tmp_path / "data"
    server = ServerProcess(data).start()
    client = get_client(url=server.url)
    threads = [(await client.threads.create())["thread_id"] for _ in range(4)]
    sleeper = (await client.threads.create())["thread_id"]
    in_flight = await client.runs.create(sleeper, "slow", input={"delay": 60}, stream_mode="updates")
    received: dict[str, list] = {t: [] for t in threads}
    stop = asyncio.Event()
    tasks = [asyncio.create_task(_stream_runs(server.url, t, received[t], stop)) for t in threads]
    await asyncio.sleep(1.0 + random.random())
    server.kill()
    stop.set()
    await asyncio.gather(*tasks)
    await client.http.client.aclose()
    total = sum(len(r) for r in received.values())
    assert total > 100, "the load did not get going before the kill"
    print(f"received {total} events on {len(threads)} threads before SIGKILL")

    server = ServerProcess(data, port=server.port).start()
    try:
        client = get_client(url=server.url)
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
            for tid, got in received.items():
                if not got:
                    continue
                last_id = got[-1][0]
                stored, _ = await sse.read_until(http, f"/threads/{tid}/stream", lambda evs, last=last_id: any(e.id == last for e in evs), headers={"Last-Event-ID": "-"}, timeout=30)
                by_id = {e.id: (e.event, e.data) for e in stored}
                for event_id, event, data in got:
                    assert by_id.get(event_id) == (event, data), f"event {event_id} lost or changed"
            # The run that was sleeping when the server died runs again, as attempt 2.
            events, _ = await sse.read_until(
                http, f"/threads/{sleeper}/runs/{in_flight['run_id']}/stream",
                lambda evs: any(e.event == "metadata" and e.data.get("attempt") == 2 for e in evs),
            )
            assert [e.data["attempt"] for e in events if e.event == "metadata"] == [1, 2]
            run = await client.runs.get(sleeper, in_flight["run_id"])
            assert run["status"] == "running"
            assert (await client.threads.get(sleeper))["status"] == "busy"
            await client.runs.cancel(sleeper, in_flight["run_id"], wait=True)
            assert (await client.runs.get(sleeper, in_flight["run_id"]))["status"] == "interrupted"
            # Every thread takes new runs.
            for tid in [*threads, sleeper]:
                result = await client.runs.wait(tid, "agent", input={"topic": "after"})
                assert result["joke"] == "This is a joke about after and cats"
        await client.http.client.aclose()
    finally:
        server.stop()


async def test_clean_restart_keeps_everything(tmp_path):
    data = tmp_path / "data"
    server = ServerProcess(data).start()
    client = get_client(url=server.url)
    thread = await client.threads.create(metadata={"k": "v"})
    tid = thread["thread_id"]
    assistant = await client.assistants.create("agent", name="kept")
    await client.runs.wait(tid, "asking", input={"question": "still there?"})
    await client.http.client.aclose()
    assert server.stop() == 0

    server = ServerProcess(data, port=server.port).start()
    try:
        client = get_client(url=server.url)
        got = await client.threads.get(tid)
        assert got["metadata"]["k"] == "v" and got["status"] == "interrupted"
        assert (await client.assistants.get(assistant["assistant_id"]))["name"] == "kept"
        assert len(await client.runs.list(tid)) == 1
        resumed = await client.runs.wait(tid, "asking", command={"resume": "yes"})
        assert resumed == {"question": "still there?", "answer": "yes (confirmed)"}
        history = await client.threads.get_history(tid, limit=20)
        assert len(history) >= 4
        await client.http.client.aclose()
    finally:
        server.stop()


async def test_sigterm_ends_streams_and_hands_runs_to_the_next_start(tmp_path):
    """SIGTERM with a run in flight, a queued run, a cancelled queued run and a follower
    open: the process exits promptly, the stream ends, nothing is turned into an error;
    after the restart the running run resumes (attempt 2) and the queued one runs."""
    import time

    data = tmp_path / "data"
    server = ServerProcess(data).start()
    client = get_client(url=server.url)
    tid = (await client.threads.create())["thread_id"]
    running = await client.runs.create(tid, "slow", input={"delay": 1.5})
    queued = await client.runs.create(tid, "slow", input={"delay": 0.1}, multitask_strategy="enqueue")
    cancelled = await client.runs.create(tid, "slow", input={"delay": 60}, multitask_strategy="enqueue")
    await client.runs.cancel(tid, cancelled["run_id"])
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        follower = asyncio.create_task(sse.read_until(http, f"/threads/{tid}/stream", lambda events: False, headers={"Last-Event-ID": "-"}, timeout=20))
        # The run has started (its first event is in the log) before we stop the server.
        await sse.read_until(http, f"/threads/{tid}/runs/{running['run_id']}/stream", lambda evs: any(e.event == "metadata" for e in evs))
        started = time.monotonic()
        assert server.stop() == 0
        assert time.monotonic() - started < 8
        await follower  # ended by the server, not by its timeout
    await client.http.client.aclose()

    server = ServerProcess(data, port=server.port).start()
    try:
        client = get_client(url=server.url)
        assert (await client.runs.get(tid, cancelled["run_id"]))["status"] == "interrupted"
        assert (await client.runs.get(tid, queued["run_id"]))["status"] in ("pending", "running", "success")
        assert await client.runs.join(tid, running["run_id"]) == {"delay": 1.5, "log": ["tick", "tock"]}
        assert (await client.runs.join(tid, queued["run_id"]))["log"] == ["tick", "tock", "tick", "tock"]
        final = {r["run_id"]: (r["status"], r.get("attempt")) for r in await client.runs.list(tid)}
        assert final[running["run_id"]][0] == "success" and final[queued["run_id"]][0] == "success"
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
            events, _ = await sse.read_until(http, f"/threads/{tid}/runs/{running['run_id']}/stream", lambda evs: False)
        assert [e.data["attempt"] for e in events if e.event == "metadata"] == [1, 2]
        assert (await client.threads.get(tid))["status"] == "idle"
        await client.http.client.aclose()
    finally:
        server.stop()
