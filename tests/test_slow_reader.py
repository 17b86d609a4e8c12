"""A subscriber that stops reading: the server buffers nothing for it, drops it after the
write timeout, keeps serving everyone else, and the client can resume from its last id."""

from __future__ import annotations

import asyncio
import socket
import time

import httpx
import pytest
import sse
from langgraph_sdk import get_client
from serverproc import ServerProcess

pytestmark = pytest.mark.anyio

COUNT, SIZE = 1500, 10_000  # about 15 MB of events: far more than socket buffers hold


def rss_kb(pid: int) -> int:
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


async def test_stalled_subscriber_is_dropped_and_can_resume(tmp_path):
    server = ServerProcess(tmp_path / "slow", extra_args=["--write-timeout", "1"]).start()
    try:
        client = get_client(url=server.url)
        tid = (await client.threads.create())["thread_id"]
        stalled = socket.create_connection(("127.0.0.1", server.port))
        stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        stalled.sendall(f"GET /threads/{tid}/stream HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        head = b""
        while b"\r\n\r\n" not in head:  # the stream is open (its headers came) before the run starts
            head += await asyncio.to_thread(stalled.recv, 1)

        async with httpx.AsyncClient(base_url=server.url, timeout=60) as http:
            done = lambda events: any(e.event == "metadata" and (e.data or {}).get("status") == "run_done" for e in events)
            reader = await sse.start_reading(http, f"/threads/{tid}/stream", done, timeout=60)
            rss_before = rss_kb(server.proc.pid)
            started = time.monotonic()
            run = await client.runs.create(tid, "chatty", input={"count": COUNT, "size": SIZE}, stream_mode=["custom", "values"])
            result = await client.runs.join(tid, run["run_id"])
            assert result["sent"] == COUNT
            events, _ = await reader
            elapsed = time.monotonic() - started
            # The reading subscriber got everything, unhindered by the stalled one.
            assert sum(1 for e in events if e.event == "custom") == COUNT
            assert elapsed < 30
            assert rss_kb(server.proc.pid) - rss_before < 100_000  # nothing like 15 MB per stalled reader queued up

            # The stalled connection was closed by the server: reading it now ends in EOF.
            stalled.settimeout(10)
            received = head
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and (chunk := stalled.recv(65536)):
                received += chunk
            stalled.close()
            assert time.monotonic() < deadline, "the server never closed the stalled connection"
            assert len(received) < COUNT * SIZE // 2
            body = received.split(b"\r\n\r\n", 1)[1].decode(errors="replace")
            # The client resumes after the last id it fully received and gets the rest.
            got, _ = sse.parse(body.rsplit("\r\n\r\n", 1)[0])  # only complete events
            last = [e for e in got if e.id][-1]
            rest, _ = await sse.read_until(http, f"/threads/{tid}/stream", done, headers={"Last-Event-ID": last.id}, timeout=60)
            ids = [e.id for e in got if e.id] + [e.id for e in rest]
            full, _ = await sse.read_until(http, f"/threads/{tid}/stream", done, headers={"Last-Event-ID": "-"}, timeout=60)
            assert ids == [e.id for e in full]
        await client.http.client.aclose()
    finally:
        server.stop()
