"""The event streaming protocol (v2) on the wire, with raw HTTP: resume from every seq,
across a restart, the answers to bad requests, and a subscriber that never reads."""

from __future__ import annotations

import json
import socket
import time
import uuid

import httpx
import pytest
from serverproc import ServerProcess

pytestmark = pytest.mark.anyio

ALL = ["values", "updates", "messages", "tools", "lifecycle", "input", "checkpoints", "tasks", "custom"]


async def command(http: httpx.AsyncClient, thread_id: str, method: str, params: dict, command_id: int = 1) -> dict:
    res = await http.post(f"/threads/{thread_id}/commands", json={"id": command_id, "method": method, "params": params})
    assert res.status_code == 200, res.text
    return res.json()


def is_root_end(event: dict) -> bool:
    return event["method"] == "lifecycle" and event["params"]["namespace"] == [] and event["params"]["data"]["event"] in ("completed", "failed", "interrupted")


async def read_events(http: httpx.AsyncClient, thread_id: str, body: dict, *, ends: int = 1, until=is_root_end, timeout: float = 20) -> list[dict]:
    """Events of `POST stream/events` until `ends` events matching `until` went by."""
    events: list[dict] = []
    seen = 0
    buffer = ""
    async with http.stream("POST", f"/threads/{thread_id}/stream/events", json=body, timeout=timeout) as res:
        assert res.status_code == 200
        assert res.headers["content-type"].startswith("text/event-stream")
        async for text in res.aiter_text():
            buffer = (buffer + text).replace("\r\n", "\n")  # a chunk may end between \r and \n
            *blocks, buffer = buffer.split("\n\n")
            for block in blocks:
                lines = dict(line.split(": ", 1) for line in block.split("\n") if line and not line.startswith(":"))
                if "data" not in lines:
                    continue
                event = json.loads(lines["data"])
                assert lines["event"] == event["method"] and int(lines["id"]) == event["seq"]
                events.append(event)
                if until(event):
                    seen += 1
                    if seen >= ends:
                        return events
    return events


async def test_since_from_every_seq_gives_exactly_the_suffix(http):
    thread = str(uuid.uuid4())
    await command(http, thread, "run.start", {"assistant_id": "llm", "input": {"topic": "ice cream"}})
    full = await read_events(http, thread, {"channels": ALL})
    assert len(full) > 20
    seqs = [e["seq"] for e in full]
    assert seqs == sorted(set(seqs))
    assert all(e["event_id"] for e in full) and len({e["event_id"] for e in full}) == len(full)
    for i, event in enumerate(full[:-1]):
        rest = await read_events(http, thread, {"channels": ALL, "since": event["seq"]})
        assert rest == full[i + 1 :], f"after seq {event['seq']}"


async def test_a_restart_between_two_connections_loses_nothing(tmp_path):
    data = tmp_path / "data"
    server = ServerProcess(data).start()
    thread = str(uuid.uuid4())
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        await command(http, thread, "run.start", {"assistant_id": "custom", "input": {"query": "q"}})
        before = await read_events(http, thread, {"channels": ALL})
    server.stop()
    server = ServerProcess(data, port=server.port).start()
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
            again = await read_events(http, thread, {"channels": ALL})
            assert again == before  # same seqs, ids, timestamps and payloads
            middle = before[len(before) // 2]["seq"]
            assert await read_events(http, thread, {"channels": ALL, "since": middle}) == [e for e in before if e["seq"] > middle]
            # A second run after the restart continues the same sequence.
            await command(http, thread, "run.start", {"assistant_id": "custom", "input": {"query": "r"}})
            both = await read_events(http, thread, {"channels": ALL}, ends=2)
            assert both[: len(before)] == before and both[len(before)]["seq"] > before[-1]["seq"]
            assert [e["params"]["data"]["payload"]["query"] for e in both if e["method"] == "custom"] == ["q"] * 3 + ["r"] * 3
    finally:
        server.stop()


async def test_filters_namespaces_and_depth(http):
    thread = str(uuid.uuid4())
    await command(http, thread, "run.start", {"assistant_id": "subgraph", "input": {"foo": "foo"}})
    everything = await read_events(http, thread, {"channels": ["values", "lifecycle"]})
    namespaces = {tuple(e["params"]["namespace"]) for e in everything}
    child = next(ns for ns in namespaces if ns)
    assert child[0].startswith("node_2:")
    root_only = await read_events(http, thread, {"channels": ["values", "lifecycle"], "namespaces": [[]], "depth": 0})
    assert {tuple(e["params"]["namespace"]) for e in root_only} == {()}
    # A prefix segment without a task id matches the node's namespace, whatever its task id.
    child_done = lambda e: e["method"] == "lifecycle" and e["params"]["data"]["event"] == "completed"
    by_name = await read_events(http, thread, {"channels": ["values", "lifecycle"], "namespaces": [["node_2"]], "depth": 0}, until=child_done)
    assert {tuple(e["params"]["namespace"]) for e in by_name} == {child}
    lifecycle = [e["params"]["data"]["event"] for e in everything if e["method"] == "lifecycle" and e["params"]["namespace"] == list(child)]
    assert lifecycle == ["started", "completed"]


@pytest.mark.parametrize(
    ("body", "status", "detail"),
    [
        (b"not json", 400, "Invalid JSON body"),
        (b"{}", 400, "channels is required and must be a non-empty array"),
        (b'{"channels": []}', 400, "channels is required and must be a non-empty array"),
        (b'{"channels": ["debug"]}', 400, "channels contains unsupported entries: debug"),
    ],
)
async def test_stream_bodies_the_protocol_refuses(http, body, status, detail):
    res = await http.post(f"/threads/{uuid.uuid4()}/stream/events", content=body)
    assert res.status_code == status
    assert res.json()["detail"].startswith(detail)


async def test_commands_the_protocol_refuses(http):
    thread = str(uuid.uuid4())
    res = await http.post(f"/threads/{thread}/commands", content=b"{")
    assert (res.status_code, res.json()) == (400, {"detail": "Invalid JSON body"})
    res = await http.post(f"/threads/{thread}/commands", json={"method": "run.start"})
    assert res.status_code == 400
    assert res.json() == {"type": "error", "id": None, "error": "invalid_argument", "message": "Protocol commands must include an integer id and string method."}
    assert (await command(http, thread, "nope", {}))["error"] == "unknown_command"
    assert (await command(http, thread, "run.start", {}))["message"] == "run.start requires an assistant_id."
    bad_fork = await command(http, thread, "run.start", {"assistant_id": "agent", "config": {"configurable": {"checkpoint_id": "abc"}}})
    assert (bad_fork["error"], bad_fork["message"]) == ("invalid_argument", "Invalid config.configurable.checkpoint_id: 'abc'.")
    unknown = await command(http, thread, "run.start", {"assistant_id": "nope", "input": {}})
    assert unknown["error"] == "unknown_error" and unknown["message"].startswith("422: Invalid assistant: 'nope'")
    assert (await command(http, thread, "input.respond", {"interrupt_id": "x", "response": 1}))["error"] == "no_such_run"
    assert (await http.get(f"/threads/{thread}")).status_code == 404  # refused commands made no thread


async def test_a_subscriber_that_never_reads_is_dropped_and_the_server_stays_flat(tmp_path):
    server = ServerProcess(tmp_path / "data", extra_args=["--write-timeout", "1"]).start()
    try:
        thread = str(uuid.uuid4())
        stalled = socket.create_connection(("127.0.0.1", server.port))
        stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        body = json.dumps({"channels": ["custom"]}).encode()
        stalled.sendall(b"POST /threads/%s/stream/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (thread.encode(), len(body), body))
        head = b""
        while b"\r\n\r\n" not in head:
            head += stalled.recv(1)
        rss_before = _rss_kb(server)
        async with httpx.AsyncClient(base_url=server.url, timeout=60) as http:
            await command(http, thread, "run.start", {"assistant_id": "chatty", "input": {"count": 3000, "size": 5000}})
            got = await read_events(http, thread, {"channels": ["custom", "lifecycle"]}, timeout=60)
            assert sum(e["method"] == "custom" for e in got) == 3000  # a reader is not held up
        assert _rss_kb(server) - rss_before < 100_000
        stalled.settimeout(20)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and stalled.recv(65536):
            pass
        stalled.close()
        assert time.monotonic() < deadline, "the server never dropped the stalled subscriber"
    finally:
        server.stop()


def _rss_kb(server: ServerProcess) -> int:
    assert server.proc is not None
    for line in open(f"/proc/{server.proc.pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0
