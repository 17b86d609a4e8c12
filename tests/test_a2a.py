"""`/a2a/{assistant_id}`: the official `a2a-sdk` client (v1.0 methods) fetches the card,
sends a message and gets the result and the task; raw JSON-RPC for the v0.3 names, the
stream and the errors, compared with the reference's recorded answers."""

from __future__ import annotations

import uuid

import httpx
import orjson
import pytest
from a2a.client import ClientConfig, ClientFactory
from a2a.client.card_resolver import A2ACardResolver
from a2a.helpers.proto_helpers import new_text_message
from a2a.types.a2a_pb2 import GetTaskRequest, Role, SendMessageRequest
from google.protobuf.json_format import MessageToDict
from reference import normalized, recorded

CHAT = "eb6db400-e3c8-5d06-a834-015cb89efe69"  # the system assistants of `chat` and `agent`
AGENT = "fe096781-5601-53d2-b2f6-0d3403f7e9ca"
JSON = {"Accept": "application/json"}


def reference(key: str):
    return recorded("a2a")[key]


def shape(value):
    """Normalized, and the card's base URL (the reference's port) made ours."""
    return normalized(orjson.loads(orjson.dumps(value).replace(b"http://127.0.0.1:2931", b"<base>")))


@pytest.mark.anyio
async def test_the_a2a_client_sends_a_message_and_gets_the_result(conformance_url):
    async with httpx.AsyncClient(timeout=60) as http:
        card = await A2ACardResolver(http, f"{conformance_url}/a2a/{CHAT}").get_agent_card()
        assert card.name == "chat" and [i.url for i in card.supported_interfaces] == [f"{conformance_url}/a2a/{CHAT}"]
        client = ClientFactory(ClientConfig(httpx_client=http, streaming=False)).create(card)
        message = new_text_message("hello", role=Role.ROLE_USER)
        message.message_id = str(uuid.uuid4())
        answers = [MessageToDict(event) async for event in client.send_message(SendMessageRequest(message=message))]
        assert len(answers) == 1
        task = answers[0]["task"]
        assert task["status"]["state"] == "TASK_STATE_COMPLETED"
        assert [part["text"] for part in task["artifacts"][0]["parts"]] == ["You said: hello"]
        assert [(m["role"], m["parts"][0]["text"]) for m in task["history"]] == [("ROLE_USER", "hello"), ("ROLE_AGENT", "You said: hello")]
        fetched = MessageToDict(await client.get_task(GetTaskRequest(id=task["id"])))
        assert fetched["id"] == task["id"] and fetched["status"]["state"] == "TASK_STATE_COMPLETED"
        assert fetched["history"] == task["history"]


@pytest.mark.anyio
async def test_cards_and_v03_methods_match_the_reference(conformance_url):
    async with httpx.AsyncClient(base_url=conformance_url, timeout=60) as http:
        for key, path in (("card chat", f"/a2a/{CHAT}/.well-known/agent-card.json"), ("card agent", f"/a2a/{AGENT}/.well-known/agent-card.json"), ("GET /a2a/{id}", f"/a2a/{CHAT}"), ("card root param", f"/.well-known/agent-card.json?assistant_id={CHAT}")):
            answer = await http.get(path)
            expected = shape(reference(key)["body"])
            ours = shape(orjson.loads(answer.content.replace(conformance_url.encode(), b"<base>")))
            assert (answer.status_code, without_version(ours)) == (200, without_version(expected)), key
        for key, path in (("card root no param", "/.well-known/agent-card.json"), ("card missing", "/a2a/00000000-0000-4000-8000-000000000000/.well-known/agent-card.json"), ("card by graph name", "/a2a/chat/.well-known/agent-card.json")):
            answer = await http.get(path)
            assert (answer.status_code, answer.json()) == (reference(key)["status"], reference(key)["body"]), key

        async def rpc(method: str, params: dict, rpc_id: int = 1, assistant: str = CHAT, headers: dict = JSON) -> dict:
            answer = await http.post(f"/a2a/{assistant}", json={"jsonrpc": "2.0", "id": rpc_id, "method": method, "params": params}, headers=headers)
            assert answer.status_code == 200, answer.text
            return answer.json()

        hello = {"role": "user", "parts": [{"kind": "text", "text": "hello"}], "messageId": str(uuid.uuid4()), "kind": "message"}
        sent = await rpc("message/send", {"message": hello})
        expected = reference("message/send legacy")["body"]
        assert without_message_ids(shape(sent["result"]["history"])) == without_message_ids(shape(expected["result"]["history"]))
        assert list(sent["result"]) == list(expected["result"]) and sent["result"]["status"]["state"] == "completed"
        context, task = sent["result"]["contextId"], sent["result"]["id"]
        again = await rpc("message/send", {"message": {**hello, "messageId": str(uuid.uuid4()), "parts": [{"kind": "text", "text": "again"}], "contextId": context}}, 3)
        assert [m["parts"][0]["text"] for m in again["result"]["history"]] == ["hello", "You said: hello", "again", "You said: again"]
        assert again["result"]["history"][0]["taskId"] == task and again["result"]["history"][2]["taskId"] == again["result"]["id"]
        fetched = await rpc("tasks/get", {"id": task}, 4)
        assert list(fetched["result"]) == list(reference("tasks/get")["body"]["result"])
        assert fetched["result"]["status"]["message"]["parts"] == reference("tasks/get")["body"]["result"]["status"]["message"]["parts"]
        short = await rpc("tasks/get", {"id": task, "historyLength": 1}, 4)
        assert [m["role"] for m in short["result"]["history"]] == ["agent"]
        assert (await rpc("tasks/cancel", {"id": task}, 5)) == reference("tasks/cancel done")["body"]
        listed = await rpc("ListTasks", {"contextId": context}, 6)
        assert [t["id"] for t in listed["result"]["tasks"]] == [again["result"]["id"], task]
        assert {k: listed["result"][k] for k in ("totalSize", "pageSize", "nextPageToken")} == {"totalSize": 2, "pageSize": 2, "nextPageToken": ""}
        assert listed["result"]["tasks"][0]["status"]["state"] == "TASK_STATE_COMPLETED"
        for key, method, params, assistant in (
            ("tasks/get unknown", "tasks/get", {"id": "nope"}, CHAT),
            ("unknown method", "foo/bar", {}, CHAT),
            ("bad assistant id", "message/send", {"message": hello}, "chat"),
            ("missing assistant", "message/send", {"message": hello}, "00000000-0000-4000-8000-000000000000"),
            ("message/send to non-messages graph", "message/send", {"message": {**hello, "messageId": str(uuid.uuid4())}}, AGENT),
        ):
            answer = await rpc(method, params, reference(key)["body"]["id"], assistant)
            assert answer == reference(key)["body"], key
        data = await rpc("message/send", {"message": {"role": "user", "parts": [{"kind": "data", "data": {"topic": "ice cream"}}], "messageId": str(uuid.uuid4()), "kind": "message"}}, 11, AGENT)
        assert data["result"]["history"] == [] and data["result"]["status"]["state"] == "completed"
        assert data["result"]["artifacts"][0]["parts"][0]["text"].startswith("{'topic': 'ice cream and cats', 'joke': 'This is a joke about ice cream and cats'")
        bad = await http.post(f"/a2a/{CHAT}", content=b"{bad", headers=JSON)
        assert bad.json() == reference("invalid json")["body"]
        no_accept = await http.post(f"/a2a/{CHAT}", json={"jsonrpc": "2.0", "id": 13, "method": "message/send", "params": {"message": hello}}, headers={"Accept": "text/plain"})
        assert (no_accept.status_code, no_accept.json()) == (400, reference("no accept")["body"])


@pytest.mark.anyio
async def test_message_stream_sends_the_answer_as_it_grows(conformance_url):
    async with httpx.AsyncClient(base_url=conformance_url, timeout=60) as http:
        hello = {"role": "user", "parts": [{"kind": "text", "text": "hello"}], "messageId": str(uuid.uuid4()), "kind": "message"}
        body = {"jsonrpc": "2.0", "id": 8, "method": "message/stream", "params": {"message": hello}}
        refused = await http.post(f"/a2a/{CHAT}", json=body, headers=JSON)
        assert (refused.status_code, refused.json()) == (400, reference("message/stream no SSE accept")["body"])
        async with http.stream("POST", f"/a2a/{CHAT}", json=body, headers={"Accept": "text/event-stream"}) as answer:
            assert answer.headers["content-type"].startswith("text/event-stream")
            text = (await answer.aread()).decode()
        ours = [orjson.loads(frame.split("data: ", 1)[1]) for frame in text.split("\r\n\r\n") if frame.strip()]
        recorded_text = reference("message/stream legacy")["body"]
        theirs = [orjson.loads(frame.split("data: ", 1)[1]) for frame in recorded_text.split("\r\n\r\n") if frame.strip()]
        assert text.startswith("event: message\r\ndata: ")  # CRLF framing, every event named `message`, as the reference
        kinds = [(e["result"].get("kind"), e["result"].get("status", {}).get("state")) for e in ours]
        assert kinds == [(e["result"].get("kind"), e["result"].get("status", {}).get("state")) for e in theirs]
        growing = [e["result"]["status"]["message"]["parts"][0]["text"] for e in ours if e["result"].get("kind") == "status-update" and not e["result"]["final"]]
        assert growing == [e["result"]["status"]["message"]["parts"][0]["text"] for e in theirs if e["result"].get("kind") == "status-update" and not e["result"]["final"]]
        assert ours[-2]["result"]["artifact"]["parts"] == theirs[-2]["result"]["artifact"]["parts"]
        assert all(e["id"] == 8 and e["jsonrpc"] == "2.0" for e in ours)


def without_version(card: dict) -> dict:
    return {k: v for k, v in card.items() if k != "version"}  # ours is trioserver's version


def without_message_ids(history: list) -> list:
    return [{k: v for k, v in m.items() if k != "messageId"} | {"messageId": m["messageId"] if m["role"] in ("user", "ROLE_USER") else "<ai>"} for m in history]
