"""The official Python client's event-streaming (v2) API, `client.threads.stream(...)` from
langgraph-sdk 0.4.14, over SSE and over WebSocket, on the bundled graphs.

Runs against our server, or against `TRIOSERVER_TEST_URL` (see tests/v2support.py).
"""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
from langgraph_sdk import get_client
from v2support import V2Target, v2  # noqa: F401  (v2 is a fixture)

pytestmark = pytest.mark.anyio

TRANSPORTS = ["sse", "websocket"]
ALL_CHANNELS = ["values", "updates", "messages", "tools", "lifecycle", "input", "checkpoints", "tasks", "custom"]
JOKE = "This is a joke about ice cream and cats"
LLM_TEXT = "Why did the ice cream cross the road? To get to the other side!"
WAIT = 20  # seconds any one wait may take


@pytest.fixture
def target(v2: V2Target) -> V2Target:  # noqa: F811
    return v2


@pytest.fixture
async def sdk(target: V2Target):
    client = get_client(url=target.url, api_key=None)
    yield client
    await client.http.client.aclose()


def is_root_terminal(event: dict) -> bool:
    return (event["method"] == "lifecycle" and event["params"]["namespace"] == []
            and event["params"]["data"]["event"] in ("completed", "failed", "interrupted"))


async def read(subscription, until=is_root_terminal) -> list[dict]:
    """Events from a subscription up to and including the first that matches `until`."""
    events = []

    async def go():
        async for event in subscription:
            if event.get("type") != "event":
                continue  # `thread.events` over a WebSocket also yields command responses
            events.append(event)
            if until(event):
                return
        raise AssertionError(f"the subscription ended first: {[e['method'] for e in events]}")

    await asyncio.wait_for(go(), WAIT)
    return events


def of(events: list[dict], method: str, ns: list[str] | None = None) -> list[dict]:
    return [e for e in events if e["method"] == method and (ns is None or e["params"]["namespace"] == ns)]


def text_of(events: list[dict]) -> str:
    return "".join(e["params"]["data"]["delta"]["text"] for e in of(events, "messages")
                   if e["params"]["data"]["event"] == "content-block-delta" and e["params"]["data"]["delta"]["type"] == "text-delta")


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_agent_values_lifecycle_and_output(sdk, transport):
    async with sdk.threads.stream(assistant_id="agent", transport=transport) as thread:
        events_iter = thread.subscribe(ALL_CHANNELS)
        reading = asyncio.create_task(read(events_iter))
        await asyncio.sleep(0)  # let the subscription register before the run starts
        started = await thread.run.start(input={"topic": "ice cream"})
        events = await reading
        assert isinstance(started["run_id"], str)
        seqs = [e["seq"] for e in events]
        assert seqs == sorted(set(seqs)), "seq grows"
        lifecycle = [e["params"]["data"]["event"] for e in of(events, "lifecycle", [])]
        assert (lifecycle[0], lifecycle[-1]) == ("running", "completed")
        values = [e["params"]["data"] for e in of(events, "values", [])]
        assert values[0] == {"topic": "ice cream"}
        assert values[-1] == {"topic": "ice cream and cats", "joke": JOKE}
        assert await thread.output.with_timeout(WAIT) == {"topic": "ice cream and cats", "joke": JOKE}
    runs = (await sdk.runs.list(thread.thread_id))
    assert [r["run_id"] for r in runs] == [started["run_id"]], "a v2 run is an ordinary run"
    assert runs[0]["status"] == "success"


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_agent_updates_checkpoints_tasks(sdk, target, transport):
    target.beyond_reference("updates, checkpoints and tasks for Python graphs")
    async with sdk.threads.stream(assistant_id="agent", transport=transport) as thread:
        await thread.run.start(input={"topic": "ice cream"})
        events = await read(thread.subscribe(ALL_CHANNELS))
    updates = [(e["params"]["node"], e["params"]["data"]) for e in of(events, "updates")]
    assert updates == [("refine_topic", {"topic": "ice cream and cats"}), ("generate_joke", {"joke": JOKE})]
    checkpoints = [e["params"]["data"] for e in of(events, "checkpoints")]
    assert [c["step"] for c in checkpoints] == [-1, 0, 1, 2]
    assert all(c["parent_id"] == p["id"] for p, c in zip(checkpoints, checkpoints[1:]))
    tasks = [e["params"]["data"] for e in of(events, "tasks")]
    assert {t["name"] for t in tasks if "result" in t} == {"refine_topic", "generate_joke"}


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_custom_events(sdk, target, transport):
    target.beyond_reference("custom events without a CustomTransformer")
    async with sdk.threads.stream(assistant_id="custom", transport=transport) as thread:
        await thread.run.start(input={"query": "q"})
        events = await read(thread.subscribe(ALL_CHANNELS))
    assert [e["params"]["data"] for e in of(events, "custom")] == [{"payload": {"progress": i, "query": "q"}} for i in range(3)]


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_llm_messages_projection(sdk, transport):
    async with sdk.threads.stream(assistant_id="llm", transport=transport) as thread:
        # The SDK drops events its thread already delivered, so every reader is in place
        # before the run starts. A message's text fills in only while the projection is
        # iterated on, and the projection (no lifecycle in its filter) does not end with the
        # run: iterate it in the background and await the first message's text.
        first: asyncio.Future = asyncio.get_running_loop().create_future()

        async def iterate() -> None:
            async for message in thread.messages:
                if not first.done():
                    first.set_result(message)

        iterating = asyncio.create_task(iterate())
        reading = asyncio.create_task(read(thread.subscribe(["messages", "lifecycle"])))
        await asyncio.sleep(0)
        await thread.run.start(input={"topic": "ice cream"})
        try:
            message = await asyncio.wait_for(first, WAIT)
            assert await asyncio.wait_for(message.text, WAIT) == LLM_TEXT
        finally:
            iterating.cancel()
        events = await reading
    assert text_of(events) == LLM_TEXT
    kinds = [e["params"]["data"]["event"] for e in of(events, "messages")]
    assert kinds[0] == "message-start" and kinds[-1] == "message-finish"
    assert kinds.count("content-block-delta") > 5, "token by token"


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_subgraph_namespaces_and_depth(sdk, transport):
    async with sdk.threads.stream(assistant_id="subgraph", transport=transport) as thread:
        everything = asyncio.create_task(read(thread.subscribe(["values", "lifecycle"])))
        root_only = asyncio.create_task(read(thread.subscribe(["values", "lifecycle"], namespaces=[[]], depth=0)))
        await asyncio.sleep(0)
        await thread.run.start(input={"foo": "foo"})
        events, root_events = await everything, await root_only
    child = next(e["params"]["namespace"] for e in events if e["params"]["namespace"])
    assert len(child) == 1 and child[0].startswith("node_2:")
    child_lifecycle = [e["params"]["data"]["event"] for e in of(events, "lifecycle", child)]
    assert (child_lifecycle[0], child_lifecycle[-1]) == ("started", "completed")
    assert of(events, "values", child)[-1]["params"]["data"] == {"foo": "hi! foobar", "bar": "bar"}
    assert all(e["params"]["namespace"] == [] for e in root_events)
    assert of(root_events, "values")[-1]["params"]["data"] == {"foo": "hi! foobar"}


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_interrupt_and_respond(sdk, transport):
    async with sdk.threads.stream(assistant_id="asking", transport=transport) as thread:
        await thread.run.start(input={"question": "Deploy?"})
        # `thread.events`, not `thread.subscribe`: the SDK ends its subscriptions when its
        # lifecycle watcher (another connection) sees the interrupt, maybe before they do.
        first = await read(thread.events, until=lambda e: e["method"] == "input.requested")
        asked = first[-1]
        assert asked["params"]["data"]["payload"] == {"question": "Deploy?"}
        assert asked["params"]["namespace"] == []

        async def interrupted():
            while not thread.interrupted:
                await asyncio.sleep(0.02)  # the SDK's lifecycle watcher sets the flag

        await asyncio.wait_for(interrupted(), WAIT)
        assert [i["interrupt_id"] for i in thread.interrupts] == [asked["params"]["data"]["interrupt_id"]]
        await thread.run.respond("yes")
        assert await thread.output.with_timeout(WAIT) == {"question": "Deploy?", "answer": "yes (confirmed)"}
    runs = await sdk.runs.list(thread.thread_id)
    assert len(runs) == 2 and {r["status"] for r in runs} == {"success"}


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_tools_and_named_custom_channel(sdk, transport):
    async with sdk.threads.stream(assistant_id="tools", transport=transport) as thread:
        counting = asyncio.create_task(read(thread.subscribe(["custom:toolCallCount"]), until=lambda e: True))
        await asyncio.sleep(0)
        await thread.run.start(input={"messages": [{"type": "human", "content": "weather in Paris?"}]})
        events = await read(thread.subscribe(["tools", "messages", "values", "lifecycle"]))
        (count,) = await counting
    assert count["params"]["data"] == {"name": "toolCallCount", "payload": 1}
    tools = {e["params"]["data"]["event"]: e["params"]["data"] for e in of(events, "tools")}
    assert tools["tool-started"]["tool_name"] == "get_weather"
    given = tools["tool-started"]["input"]
    assert (json.loads(given) if isinstance(given, str) else given) == {"city": "Paris"}
    assert tools["tool-finished"]["output"]["content"] == "It is sunny in Paris."
    final = of(events, "values", [])[-1]["params"]["data"]["messages"]
    assert [m["type"] for m in final] == ["human", "ai", "tool", "ai"]


class CutOnce(httpx.AsyncBaseTransport):
    """An httpx transport that breaks the first event stream after `after` events, as a
    dropped connection would, and records every stream request body."""

    def __init__(self, after: int) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.after = after
        self.cut = False
        self.stream_bodies: list[dict] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        if not request.url.path.endswith("/stream/events"):
            return response
        self.stream_bodies.append(json.loads(request.content or b"{}"))
        if self.cut:
            return response
        transport = self

        class Cutting(httpx.AsyncByteStream):
            async def __aiter__(self):
                seen = 0
                async for chunk in response.stream:
                    yield chunk
                    seen += chunk.count(b"data:")
                    if seen >= transport.after and not transport.cut:
                        transport.cut = True
                        await response.aclose()
                        raise httpx.RemoteProtocolError("connection lost (cut by the test)")

            async def aclose(self):
                await response.aclose()

        return httpx.Response(response.status_code, headers=response.headers, stream=Cutting(), request=request)

    async def aclose(self) -> None:
        await self.inner.aclose()


async def test_sse_reconnect_resumes_with_since(target):
    """A dropped event stream is reopened with `since` = the last seq seen; nothing is lost
    or repeated."""
    cutter = CutOnce(after=6)
    client = get_client(url=target.url, api_key=None)
    await client.http.client.aclose()
    client.http.client = httpx.AsyncClient(base_url=target.url, transport=cutter, timeout=httpx.Timeout(30, read=None))
    try:
        async with client.threads.stream(assistant_id="llm", transport="sse") as thread:
            await thread.run.start(input={"topic": "ice cream"})
            events = await read(thread.subscribe(["messages", "lifecycle"]))
    finally:
        await client.http.client.aclose()
    assert cutter.cut, "the stream was cut"
    resumed = [b for b in cutter.stream_bodies if "since" in b]
    assert resumed, f"the SDK reopened the stream with since: {cutter.stream_bodies}"
    ids = [e["event_id"] for e in events]
    assert len(ids) == len(set(ids)), "no event twice"
    assert text_of(events) == LLM_TEXT, "no token lost"
    # The same stream read clean from the start holds exactly these events.
    async with httpx.AsyncClient(base_url=target.url, timeout=WAIT) as http:
        clean = []
        async with http.stream("POST", f"/threads/{thread.thread_id}/stream/events",
                               json={"channels": ["messages", "lifecycle"]}) as res:
            async for line in res.aiter_lines():
                if line.startswith("data:"):
                    clean.append(json.loads(line[5:]))
                    if is_root_terminal(clean[-1]):
                        break
    assert ids == [e["event_id"] for e in clean]


async def test_since_replays_exactly_the_suffix(sdk, target):
    async with sdk.threads.stream(assistant_id="agent", transport="sse") as thread:
        await thread.run.start(input={"topic": "ice cream"})
        await read(thread.subscribe(["lifecycle"]))

    async def replay(since: int | None) -> list[dict]:
        body = {"channels": ALL_CHANNELS} | ({} if since is None else {"since": since})
        out: list[dict] = []
        async with httpx.AsyncClient(base_url=target.url, timeout=WAIT) as http:
            async with http.stream("POST", f"/threads/{thread.thread_id}/stream/events", json=body) as res:
                assert res.status_code == 200
                async for line in res.aiter_lines():
                    if line.startswith("data:"):
                        out.append(json.loads(line[5:]))
                        if is_root_terminal(out[-1]):
                            return out
        raise AssertionError("the replay ended early")

    def comparable(e: dict) -> dict:  # the reference re-stamps the events it makes itself
        return {**e, "params": {k: v for k, v in e["params"].items() if k != "timestamp"}}

    full = await asyncio.wait_for(replay(None), WAIT)
    for since in [e["seq"] for e in full[:-1]]:
        rest = await asyncio.wait_for(replay(since), WAIT)
        assert [comparable(e) for e in rest] == [comparable(e) for e in full if e["seq"] > since]
