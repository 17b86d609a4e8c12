"""`/mcp` (served in front of Quart) and `/a2a` are behind the same auth as every route:
no credentials, no answer; a user's tools are the assistants it may see; another user's
A2A tasks are not found."""

from __future__ import annotations

import uuid

import httpx
import pytest
from authsupport import AUTH_CONFIG
from serverproc import ServerProcess

AGENT = "fe096781-5601-53d2-b2f6-0d3403f7e9ca"
JSON = {"Accept": "application/json", "Content-Type": "application/json"}


@pytest.fixture(scope="module")
def url(tmp_path_factory):
    proc = ServerProcess(tmp_path_factory.mktemp("protocol-auth") / "data", config=AUTH_CONFIG).start()
    yield proc.url
    proc.stop()


def user(token: str) -> dict[str, str]:
    return {**JSON, "Authorization": f"Bearer {token}"}


@pytest.mark.anyio
async def test_mcp_needs_credentials_and_shows_only_ones_own(url):
    async with httpx.AsyncClient(base_url=url, timeout=60) as http:
        ping = {"jsonrpc": "2.0", "id": 1, "method": "ping"}
        for headers in (JSON, user("nobody"), user("expired-token")):
            refused = await http.post("/mcp", json=ping, headers=headers)
            assert refused.status_code == 401 and "detail" in refused.json(), headers
        assert (await http.post("/mcp", json=ping, headers=user("alice-token"))).json()["result"] == {}
        mine = await http.post("/assistants", json={"graph_id": "agent", "name": "bobs tool"}, headers=user("bob-token"))
        assert mine.status_code == 200
        call = {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "bobs_tool", "arguments": {"topic": "x"}}}
        theirs = await http.post("/mcp", json=call, headers=user("alice-token"))
        assert theirs.json()["error"] == {"code": -32602, "message": "Unknown tool: bobs_tool"}
        own = await http.post("/mcp", json=call, headers=user("bob-token"))
        assert "This is a joke about x and cats" in own.json()["result"]["content"][0]["text"]


@pytest.mark.anyio
async def test_a2a_needs_credentials_and_keeps_tasks_to_their_owner(url):
    async with httpx.AsyncClient(base_url=url, timeout=60) as http:
        assert (await http.get(f"/a2a/{AGENT}/.well-known/agent-card.json")).status_code == 401
        message = {"role": "user", "parts": [{"kind": "data", "data": {"topic": "x"}}], "messageId": str(uuid.uuid4()), "kind": "message"}
        send = {"jsonrpc": "2.0", "id": 1, "method": "message/send", "params": {"message": message}}
        assert (await http.post(f"/a2a/{AGENT}", json=send, headers=JSON)).status_code == 401
        sent = (await http.post(f"/a2a/{AGENT}", json=send, headers=user("alice-token"))).json()
        task = sent["result"]["id"]
        assert sent["result"]["status"]["state"] == "completed"
        get = {"jsonrpc": "2.0", "id": 2, "method": "tasks/get", "params": {"id": task}}
        assert (await http.post(f"/a2a/{AGENT}", json=get, headers=user("alice-token"))).json()["result"]["id"] == task
        assert (await http.post(f"/a2a/{AGENT}", json=get, headers=user("bob-token"))).json()["error"]["code"] == -32001
        listing = {"jsonrpc": "2.0", "id": 3, "method": "ListTasks", "params": {"contextId": sent["result"]["contextId"]}}
        assert (await http.post(f"/a2a/{AGENT}", json=listing, headers=user("bob-token"))).json()["result"]["tasks"] == []
        follow = {**message, "messageId": str(uuid.uuid4()), "contextId": sent["result"]["contextId"]}
        intruding = await http.post(f"/a2a/{AGENT}", json={**send, "params": {"message": follow}}, headers=user("bob-token"))
        assert intruding.json()["error"]["code"] == -32602  # the thread is alice's: no run for bob on it
