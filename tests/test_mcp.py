"""`/mcp` with the official `mcp` package's own client: every assistant with a renderable
input schema is a tool, as the reference lists them; a call runs the assistant, streams
the run's steps as progress and answers its final values as the reference does."""

from __future__ import annotations

import httpx
import pytest
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from reference import normalized, recorded

JSON_ONLY = {"Accept": "application/json", "Content-Type": "application/json"}


def reference(key: str):
    return recorded("mcp")[key]["body"]


@pytest.mark.anyio
async def test_the_mcp_client_lists_tools_and_calls_one_that_streams_a_run(conformance_url):
    progress: list[tuple[float, float | None, str | None]] = []

    async def on_progress(done: float, total: float | None, message: str | None) -> None:
        progress.append((done, total, message))

    async with streamable_http_client(f"{conformance_url}/mcp") as (read, write), ClientSession(read, write) as session:
        initialized = await session.initialize()
        assert initialized.server_info.name == "LangGraph"
        listed = await session.list_tools()
        tools = [t.model_dump(by_alias=True, exclude_none=True) for t in listed.tools]
        assert tools == reference("tools/list")["result"]["tools"]  # chat and llm: the others' TypedDict input renders as null
        result = await session.call_tool("agent", {"topic": "ice cream"}, progress_callback=on_progress)
        assert not result.is_error
        assert [c.model_dump(exclude_none=True) for c in result.content] == reference("tools/call agent")["result"]["content"]
        assert [message for _, _, message in progress] == ["refine_topic", "generate_joke"]  # one notification per step, as the run streamed it
        assert [done for done, _, _ in progress] == [1, 2]
        chat = await session.call_tool("chat", {"messages": "hi"})
        assert normalized(chat.content[0].text) == normalized(reference("tools/call chat string")["result"]["content"][0]["text"])
        failed = await session.call_tool("failing", {})
        assert failed.is_error and failed.content[0].text == "ValueError"
        with pytest.raises(MCPError) as unknown:
            await session.call_tool("nope", {})
        assert (unknown.value.error.code, unknown.value.error.message) == (-32602, "Unknown tool: nope")


@pytest.mark.anyio
async def test_plain_json_clients_and_method_rules(conformance_url):
    async with httpx.AsyncClient(base_url=conformance_url, timeout=60) as http:
        llm = await http.post("/mcp", headers=JSON_ONLY, json={"jsonrpc": "2.0", "id": 5, "method": "tools/call", "params": {"name": "llm", "arguments": {"topic": "ice cream"}}})
        assert llm.status_code == 200 and llm.headers["content-type"].startswith("application/json")
        assert llm.json()["result"]["content"] == reference("tools/call llm")["result"]["content"]
        seen = await http.post("/mcp", headers=JSON_ONLY, json={"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {"name": "seeconfig", "arguments": {"x": 1}, "context": {"k": "v"}}})
        assert "'k': 'v'" in seen.json()["result"]["content"][0]["text"]  # the reference's `context` extension reaches the run
        ping = await http.post("/mcp", headers=JSON_ONLY, json={"jsonrpc": "2.0", "id": 0, "method": "ping"})
        assert ping.json() == reference("id 0")
        no_accept = await http.post("/mcp", headers={"Accept": "text/plain"}, json={"jsonrpc": "2.0", "id": 1, "method": "ping"})
        assert (no_accept.status_code, no_accept.json()) == (400, reference("accept missing"))
        assert (await http.get("/mcp")).status_code == 405  # stateless: no server-initiated stream
        assert (await http.put("/mcp")).status_code == 405
        preflight = await http.options("/mcp", headers={"Origin": "http://localhost:5173", "Access-Control-Request-Method": "POST"})
        assert preflight.status_code == 200 and "POST" in preflight.headers["access-control-allow-methods"]
        cors = await http.post("/mcp", headers={**JSON_ONLY, "Origin": "http://localhost:5173"}, json={"jsonrpc": "2.0", "id": 1, "method": "ping"})
        assert cors.headers["access-control-allow-origin"] == "*"
