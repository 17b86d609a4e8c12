"""Custom auth from langgraph.json (tests/graphs/auth.py): nobody gets data without
credentials, and each user sees only their own, through the official Python SDK.

alice and bob are ordinary users; "reader" may read but every write of theirs is
denied; "typo" gets a filter with an unknown operator. Each test makes its own objects,
so the tests share one server.
"""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from types import SimpleNamespace

import httpx
import pytest
from authsupport import AUTH_CONFIG, data_routes, user_client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from langgraph_sdk.errors import ConflictError, NotFoundError
from serverproc import ServerProcess
from sse import parse

pytestmark = pytest.mark.anyio

ALICE, BOB, READER, TYPO = "alice-token", "bob-token", "reader-token", "typo-token"
AGENT_ID = "fe096781-5601-53d2-b2f6-0d3403f7e9ca"  # the reference's id for graph "agent"
# With TRIOSERVER_AUTH_TEST_URL the tests run against another server (the reference, say);
# where trioserver is deliberately safer than the reference, they are ours only.
OURS = not os.environ.get("TRIOSERVER_AUTH_TEST_URL")
safer_than_the_reference = pytest.mark.skipif(not OURS, reason="trioserver is deliberately safer than the reference here")


@pytest.fixture(scope="module")
def auth_server(tmp_path_factory):
    """Our server with tests/graphs/auth.py; TRIOSERVER_AUTH_TEST_URL points the tests at
    another one serving the same module and graphs (the reference, say)."""
    other = os.environ.get("TRIOSERVER_AUTH_TEST_URL")
    if other:
        yield SimpleNamespace(url=other.rstrip("/"))
        return
    proc = ServerProcess(tmp_path_factory.mktemp("auth") / "data", config=AUTH_CONFIG, extra_args=["--heartbeat", "0.5"]).start()
    yield proc
    proc.stop()


@pytest.fixture
def url(auth_server) -> str:
    return auth_server.url


@pytest.fixture
async def alice(url):
    client = user_client(url, ALICE)
    yield client
    await client.http.client.aclose()


@pytest.fixture
async def bob(url):
    client = user_client(url, BOB)
    yield client
    await client.http.client.aclose()


@pytest.fixture
async def raw(url):
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        yield http


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def refused(attempt) -> httpx.Response:
    """The error response of an SDK call that must fail (the SDK raises a different
    class per endpoint, all of them httpx.HTTPStatusError)."""
    with pytest.raises(httpx.HTTPStatusError) as failed:
        await attempt
    return failed.value.response


# -- authentication ---------------------------------------------------------------------

BAD_CREDENTIALS = [
    ({}, "Missing bearer token"),
    (bearer("not-a-token"), "Invalid token"),
    (bearer("expired-token"), "Token expired"),
    ({"Authorization": "Basic YWxpY2U6c2VjcmV0"}, "Malformed Authorization header"),  # a foreign scheme
    ({"Authorization": "alice-token"}, "Malformed Authorization header"),
    ({"x-api-key": "alice-token"}, "Missing bearer token"),  # credentials in the wrong place
]


async def test_every_data_endpoint_needs_credentials(raw):
    routes = data_routes()
    assert len(routes) > 50  # every route of the app, not a hand-picked list
    for method, path, websocket in routes:
        if not OURS and path == "/metrics":
            continue  # open in the reference; trioserver keeps it behind auth
        for headers, detail in BAD_CREDENTIALS:
            if websocket:
                # (The reference refuses every WebSocket handshake with 403.)
                assert await websocket_refusal(raw.base_url, path, headers) in ((401,) if OURS else (401, 403)), (path, headers)
                continue
            res = await raw.request(method, path, headers=headers, json={} if method in ("POST", "PUT", "PATCH") else None)
            assert res.status_code == 401, (method, path, headers, res.status_code, res.text)
            assert res.json() == {"detail": detail}, (method, path)
            assert "www-authenticate" not in res.headers  # as the reference: the exception's headers are dropped


async def websocket_refusal(base_url: httpx.URL, path: str, headers: dict[str, str]) -> int | None:
    """The HTTP status a WebSocket handshake is refused with (None if it was accepted)."""
    import websockets

    try:
        async with websockets.connect(f"ws://{base_url.host}:{base_url.port}{path}", additional_headers=headers, open_timeout=10):
            return None
    except websockets.InvalidStatus as exc:
        return exc.response.status_code


@safer_than_the_reference  # its development server lets this header skip authentication
async def test_the_studio_header_is_no_way_in(raw):
    for headers in ({"x-auth-scheme": "langsmith"}, {"x-auth-scheme": "langsmith", "x-api-key": "lsv2_anything"}):
        res = await raw.post("/threads/search", json={}, headers=headers)
        assert res.status_code == 401 and res.json() == {"detail": "Missing bearer token"}


async def test_unknown_paths_and_wrong_methods_answer_401_first(raw):
    for method, path in (("GET", "/nowhere"), ("DELETE", "/threads"), ("PUT", "/threads/search"), ("POST", "/ok"), ("GET", "/internal/truncate")):
        assert (await raw.request(method, path)).status_code == 401, (method, path)
    assert (await raw.get("/nowhere", headers=bearer(ALICE))).status_code == 404
    assert (await raw.delete("/threads", headers=bearer(ALICE))).status_code == 405


async def test_open_paths_and_preflight(raw):
    assert (await raw.get("/ok")).json()["ok"] is True
    assert (await raw.get("/")).status_code == 200
    assert "version" in (await raw.get("/info")).json()
    document = (await raw.get("/openapi.json")).json()  # what langgraph.json's auth.openapi says
    assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    assert document["security"] == [{"bearer": []}]
    for path in ("/docs/assets/../threads", "/docs/assets/a/b", "/docs/assets/"):
        assert (await raw.get(path)).status_code == 401, path  # only the reference page's own files are open
    preflight = await raw.options("/threads", headers={"Origin": "http://ui.example", "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization"})
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == "*"
    refused = await raw.post("/threads", json={}, headers={"Origin": "http://ui.example"})
    assert refused.status_code == 401
    assert refused.headers["access-control-allow-origin"] == "*"  # a browser can read why


ALLOWED = [chr(c) for c in range(0x20, 0x7F)] + ["\t"]


@safer_than_the_reference  # the reference answers 400 to an Authorization header that is not UTF-8
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    value=st.one_of(
        st.text(alphabet=ALLOWED, max_size=300),
        st.builds(lambda s: "Bearer " + s, st.text(alphabet=ALLOWED, max_size=300)),
        st.builds(lambda s: "bearer\t" + s, st.text(alphabet=ALLOWED, max_size=50)),
        st.binary(max_size=200).map(lambda b: bytes(c for c in b if c >= 0x20 and c != 0x7F)),
        st.sampled_from(["Bearer", "Bearer ", "Bearer  alice-token", "Bearer alice-token ", "BEARER", " ", "Bearer \x80\xff", "Bearer " + "a" * 8000]),
    )
)
def test_malformed_authorization_headers_get_401_never_500(auth_server, value):
    raw_value = value if isinstance(value, bytes) else value.encode("latin-1")
    if raw_value.strip() != raw_value:  # h11 will not send surrounding whitespace; the server would never see it
        raw_value = raw_value.strip()
    if raw_value in (b"Bearer alice-token", b"Bearer bob-token", b"Bearer reader-token", b"Bearer typo-token"):
        return
    with httpx.Client(base_url=auth_server.url, timeout=30) as http:
        res = http.get("/threads/00000000-0000-0000-0000-000000000000", headers=[(b"authorization", raw_value)])
    assert res.status_code == 401, (raw_value, res.status_code, res.text)
    assert "detail" in res.json()


# -- denials ----------------------------------------------------------------------------


async def test_a_denying_handler_answers_403(url, alice, raw):
    reader = user_client(url, READER)
    try:
        res = await refused(reader.threads.create())
        assert res.status_code == 403 and res.json() == {"detail": "Forbidden"}  # the handler returned False
        assert (await refused(reader.assistants.create("agent"))).status_code == 403
        assert (await refused(reader.runs.wait(None, "agent", input={"topic": "x"}))).status_code == 403
        res = await refused(reader.store.put_item(["alice", "notes"], "k", {"v": 1}))
        assert res.status_code == 403 and res.json() == {"detail": "Not your namespace"}  # an AssertionError
    finally:
        await reader.http.client.aclose()
    thread = await alice.threads.create()
    res = await raw.delete(f"/threads/{thread['thread_id']}", headers=bearer(READER))
    assert res.status_code == 403 and res.json() == {"detail": "Readers cannot delete"}
    assert res.headers["x-auth-reason"] == "read-only"  # a handler's HTTPException keeps its headers
    assert (await alice.threads.get(thread["thread_id"]))["thread_id"] == thread["thread_id"]


@safer_than_the_reference  # the reference ignores unknown operators: the filter matches everything
async def test_an_unknown_filter_operator_fails_closed(url, alice):
    await alice.threads.create()
    typo = user_client(url, TYPO)
    try:
        with pytest.raises(httpx.HTTPStatusError) as failed:
            await typo.threads.search()
        assert failed.value.response.status_code == 500
        assert "$in" in failed.value.response.json()["detail"]
    finally:
        await typo.http.client.aclose()


# -- each user sees only their own ------------------------------------------------------


async def test_threads_are_their_owners(alice, bob, raw):
    mine = await alice.threads.create(metadata={"topic": "private"})
    tid = mine["thread_id"]
    assert mine["metadata"] == {"topic": "private", "owner": "alice"}  # stamped by the create handler
    await alice.runs.wait(tid, "agent", input={"topic": "cats"})

    for attempt in (
        bob.threads.get(tid),
        bob.threads.update(tid, metadata={"owner": "bob"}),
        bob.threads.delete(tid),
        bob.threads.get_state(tid),
        bob.threads.get_history(tid),
        bob.threads.update_state(tid, {"topic": "bob was here"}),
        bob.runs.list(tid),
        bob.runs.wait(tid, "agent", input={"topic": "bob"}),
        bob.runs.create(tid, "agent", input={"topic": "bob"}),
    ):
        assert (await refused(attempt)).status_code == 404
    with pytest.raises(NotFoundError):  # a run stream that would create a run: a plain 404
        async for _ in bob.runs.stream(tid, "agent", input={"topic": "bob"}):
            pass
    with pytest.raises(ConflictError):  # as the reference: a hidden source is a conflict
        await bob.threads.copy(tid)
    with pytest.raises(ConflictError):  # someone else's id exists, whatever if_exists says
        await bob.threads.create(thread_id=tid, if_exists="do_nothing")
    res = await raw.post("/threads/prune", json={"thread_ids": [tid]}, headers=bearer(BOB))
    assert res.status_code == 404 and res.json()["detail"] == "At least one thread not found or not authorized"
    for body in ({"values": {}}, {}):
        res = await raw.post(f"/threads/{tid}/state/checkpoint", json={"checkpoint": {}, **body}, headers=bearer(BOB))
        assert res.status_code == 404

    # alice's thread is intact, and still hers.
    got = await alice.threads.get(tid)
    assert got["metadata"]["owner"] == "alice" and got["metadata"]["topic"] == "private"
    assert got["values"]["joke"].startswith("This is a joke about cats")
    assert len(await alice.runs.list(tid)) == 1
    copy = await alice.threads.copy(tid)
    assert copy["metadata"]["owner"] == "alice"


async def test_search_and_count_return_only_ones_own(alice, bob):
    tag = str(uuid.uuid4())
    a1 = await alice.threads.create(metadata={"tag": tag})
    a2 = await alice.threads.create(metadata={"tag": tag})
    b1 = await bob.threads.create(metadata={"tag": tag})
    assert {t["thread_id"] for t in await alice.threads.search(metadata={"tag": tag})} == {a1["thread_id"], a2["thread_id"]}
    assert [t["thread_id"] for t in await bob.threads.search(metadata={"tag": tag})] == [b1["thread_id"]]
    assert await alice.threads.count(metadata={"tag": tag}) == 2
    assert await bob.threads.count(metadata={"tag": tag}) == 1
    # Asking for someone else's owner does not widen the filter.
    assert await bob.threads.search(metadata={"tag": tag, "owner": "alice"}) == []
    assert all(t["metadata"]["owner"] == "bob" for t in await bob.threads.search(limit=100))


async def test_runs_of_someone_elses_thread(alice, bob, raw):
    thread = await alice.threads.create()
    tid = thread["thread_id"]
    run = await alice.runs.create(tid, "slow", input={"delay": 0.3})
    rid = run["run_id"]
    for attempt in (bob.runs.get(tid, rid), bob.runs.join(tid, rid), bob.runs.cancel(tid, rid), bob.runs.delete(tid, rid)):
        assert (await refused(attempt)).status_code == 404
    assert (await refused(bob.runs.cancel_many(thread_id=tid, run_ids=[rid]))).status_code == 404
    # By status: alice's runs are not bob's to cancel.
    assert (await refused(bob.runs.cancel_many(status="all"))).status_code == 404
    # A denied join gets the reference's stream error: one `error` event, not an HTTP error.
    chunks = [c async for c in bob.runs.join_stream(tid, rid)]
    assert [c.event for c in chunks] == ["error"]
    assert chunks[0].data == {"error": "HTTPException", "message": "404: Thread not found"}
    chunks = [c async for c in await bob.threads.join_stream(tid)]
    assert [c.event for c in chunks] == ["error"] and "404" in chunks[0].data["message"]
    if OURS:  # a route of ours only: joining a run by its id alone
        res = await raw.get(f"/runs/{rid}/stream", headers=bearer(BOB))
        events, _ = parse(res.text)
        assert res.status_code == 200 and [e.event for e in events] == ["error"]
    # alice's run went on, untouched.
    assert (await alice.runs.join(tid, rid))["log"] == ["tick", "tock"]
    assert (await alice.runs.get(tid, rid))["status"] == "success"
    own = [c.event async for c in alice.runs.join_stream(tid, rid)]
    assert "error" not in own


async def test_a_run_sees_its_user_and_cannot_be_given_another(alice, bob):
    forged = {"langgraph_auth_user_id": "bob", "langgraph_auth_user": {"identity": "bob"}, "langgraph_auth_permissions": ["admin"]}
    thread = await alice.threads.create()
    result = await alice.runs.wait(thread["thread_id"], "whoami", input={}, config={"configurable": forged})
    seen = result["seen"]
    assert seen["user_id_key"] == "alice" and seen["identity_attr"] == "alice" and seen["identity_item"] == "alice"
    assert seen["display_name"] == "Alice" and seen["is_authenticated"] is True and seen["org"] == "wonderland"
    assert seen["permissions"] == ["write"] and seen["user_id"] == "alice"
    if OURS:
        assert seen["ctx"] == {"identity": "alice", "permissions": ["write"]}  # trioserver.auth.get_auth_ctx() in the graph
    stateless = await bob.runs.wait(None, "whoami", input={}, config={"configurable": forged})
    assert stateless["seen"]["user_id_key"] == "bob" and stateless["seen"]["permissions"] == ["write"]
    # The run resource shows who it ran for, as the reference (kwargs.config.configurable).
    runs = await alice.runs.list(thread["thread_id"])
    configurable = runs[0]["kwargs"]["config"]["configurable"]
    assert configurable["langgraph_auth_user_id"] == "alice"
    assert configurable["langgraph_auth_user"]["identity"] == "alice"
    assert configurable["langgraph_auth_permissions"] == ["write"]
    assert runs[0]["metadata"]["owner"] == "alice"


async def test_a_state_update_records_who_made_it(alice):
    """The new checkpoint's metadata names the caller by display name, as the reference's does."""
    thread = await alice.threads.create()
    await alice.runs.wait(thread["thread_id"], "agent", input={"topic": "cats"})
    await alice.threads.update_state(thread["thread_id"], {"topic": "dogs"})
    latest = (await alice.threads.get_history(thread["thread_id"], limit=1))[0]
    assert latest["values"]["topic"] == "dogs"
    assert latest["metadata"]["user_id"] == "Alice" and latest["metadata"]["source"] == "update"


async def test_stateless_runs_keep_their_owner(alice, bob):
    run = await alice.runs.create(None, "agent", input={"topic": "kept"}, on_completion="keep")
    tid = run["thread_id"]
    await alice.runs.join(tid, run["run_id"])
    assert (await alice.threads.get(tid))["metadata"]["owner"] == "alice"
    assert (await refused(bob.threads.get(tid))).status_code == 404


async def test_assistants_are_their_owners(alice, bob, raw):
    mine = await alice.assistants.create("agent", name="alice's", metadata={"kind": "joke"})
    aid = mine["assistant_id"]
    assert mine["metadata"] == {"kind": "joke", "owner": "alice"}
    for attempt in (
        bob.assistants.get(aid),
        bob.assistants.update(aid, name="bob's"),
        bob.assistants.delete(aid),
        bob.assistants.get_graph(aid),
        bob.assistants.get_schemas(aid),
        bob.assistants.get_subgraphs(aid),
        bob.assistants.get_versions(aid),
        bob.assistants.set_latest(aid, 1),
        bob.runs.wait(None, aid, input={"topic": "x"}),  # a run with someone else's assistant
    ):
        assert (await refused(attempt)).status_code == 404
    with pytest.raises(ConflictError):
        await bob.assistants.create("agent", assistant_id=aid, if_exists="do_nothing")
    assert aid not in {a["assistant_id"] for a in await bob.assistants.search(limit=100)}
    ids_of_bob = {a["assistant_id"] for a in await bob.assistants.search(limit=100)}
    res = await raw.post("/assistants/count", json={}, headers=bearer(BOB))
    assert res.json() == len(ids_of_bob)
    # The graphs' own assistants stay usable and visible to everyone (the handler's $or).
    assert (await bob.assistants.get(AGENT_ID))["metadata"] == {"created_by": "system"}
    assert (await bob.runs.wait(None, "agent", input={"topic": "dogs"}))["joke"].startswith("This is a joke about dogs")
    # alice's assistant is intact and usable by her.
    got = await alice.assistants.get(aid)
    assert got["name"] == "alice's" and got["version"] == 1
    assert (await alice.runs.wait(None, aid, input={"topic": "owls"}))["joke"].startswith("This is a joke about owls")
    assert aid in {a["assistant_id"] for a in await alice.assistants.search(limit=100)}


async def test_crons_are_their_owners(alice, bob, raw):
    thread = await alice.threads.create()
    tid = thread["thread_id"]
    cron = await alice.crons.create_for_thread(tid, "agent", schedule="0 0 1 1 *", input={"topic": "new year"})
    cid = cron["cron_id"]
    assert cron["metadata"]["owner"] == "alice" and cron["user_id"] == "alice"
    stateless = await alice.crons.create("agent", schedule="0 0 1 1 *", input={"topic": "x"}, metadata={"k": 1})
    for method, path, body in (
        ("GET", f"/runs/crons/{cid}", None),
        ("PATCH", f"/runs/crons/{cid}", {"enabled": False}),
        ("DELETE", f"/runs/crons/{cid}", None),
        ("DELETE", f"/runs/crons/{stateless['cron_id']}", None),
    ):
        res = await raw.request(method, path, json=body, headers=bearer(BOB))
        assert res.status_code == 404, (method, path, res.text)
    assert await bob.crons.search(limit=100) == [] or all(c["metadata"].get("owner") == "bob" for c in await bob.crons.search(limit=100))
    assert cid not in {c["cron_id"] for c in await bob.crons.search(limit=100)}
    assert await bob.crons.count(thread_id=tid) == 0
    # bob cannot schedule runs on alice's thread.
    assert (await refused(bob.crons.create_for_thread(tid, "agent", schedule="0 0 1 1 *"))).status_code == 404
    own = {c["cron_id"] for c in await alice.crons.search(limit=100)}
    assert {cid, stateless["cron_id"]} <= own
    got = await raw.get(f"/runs/crons/{cid}", headers=bearer(ALICE))
    assert got.status_code == 200 and got.json()["enabled"] is True
    await alice.crons.delete(cid)
    await alice.crons.delete(stateless["cron_id"])


@pytest.mark.skipif(not OURS, reason="a per-second schedule; the reference's scheduler looks every 5 s")
async def test_a_crons_runs_act_for_its_creator(alice, bob):
    """Each tick's run is created as the cron's creator (handlers included), whatever the payload says."""
    thread = await alice.threads.create()
    tid = thread["thread_id"]
    forged = {"configurable": {"langgraph_auth_user_id": "bob", "langgraph_auth_permissions": ["admin"]}}
    cron = await alice.crons.create_for_thread(tid, "whoami", schedule="* * * * * *", input={}, config=forged)
    try:
        deadline = asyncio.get_running_loop().time() + 20
        while not (runs := await alice.runs.list(tid)):
            assert asyncio.get_running_loop().time() < deadline, "the cron did not fire"
            await asyncio.sleep(0.2)
        run = await alice.runs.join(tid, runs[-1]["run_id"])
    finally:
        await alice.crons.delete(cron["cron_id"])
    assert run["seen"]["user_id_key"] == "alice" and run["seen"]["permissions"] == ["write"] and run["seen"]["org"] == "wonderland"
    assert runs[-1]["metadata"]["owner"] == "alice"  # the create_run handler ran, as alice
    assert (await refused(bob.runs.list(tid))).status_code == 404


async def test_store_namespaces_are_their_owners(alice, bob):
    await alice.store.put_item(["alice", "notes"], "secret", {"text": "mine", "n": 1})
    for attempt in (
        bob.store.get_item(["alice", "notes"], "secret"),
        bob.store.put_item(["alice", "notes"], "secret", {"text": "bob's now"}),
        bob.store.delete_item(["alice", "notes"], "secret"),
        bob.store.search_items(["alice"]),
    ):
        assert (await refused(attempt)).status_code == 403
    assert (await bob.store.list_namespaces())["namespaces"] == [] or all(ns[0] == "bob" for ns in (await bob.store.list_namespaces())["namespaces"])
    assert (await refused(bob.store.list_namespaces(prefix=["alice"]))).status_code == 403
    await bob.store.put_item(["bob", "notes"], "mine", {"text": "bob's"})
    assert (await alice.store.get_item(["alice", "notes"], "secret"))["value"] == {"text": "mine", "n": 1}
    assert [i["key"] for i in (await alice.store.search_items(["alice", "notes"]))["items"]] == ["secret"]
    assert ["alice", "notes"] in (await alice.store.list_namespaces())["namespaces"]
    assert ["bob", "notes"] not in (await alice.store.list_namespaces())["namespaces"]


async def test_users_in_parallel_never_see_each_other(alice, bob):
    """The principal belongs to its request: many interleaved requests of two users."""

    async def make(client, n):
        return [(await client.threads.create(metadata={"n": n}))["metadata"]["owner"] for _ in range(5)]

    owners = await asyncio.gather(*(make(alice if i % 2 else bob, i) for i in range(10)))
    for i, made in enumerate(owners):
        assert made == ["alice" if i % 2 else "bob"] * 5


# -- the event streaming protocol (v2) ------------------------------------------------------

@safer_than_the_reference  # its v2 routes authenticate but authorize nothing
async def test_v2_streams_and_commands_are_their_owners(alice, raw):
    thread = await alice.threads.create()
    tid = thread["thread_id"]
    await alice.runs.wait(tid, "agent", input={"topic": "secrets"})
    leaked: list[str] = []
    import anyio

    with anyio.move_on_after(3):
        async with raw.stream("POST", f"/threads/{tid}/stream/events", json={}, headers=bearer(BOB)) as res:
            if res.status_code == 200:
                async for text in res.aiter_text():
                    if "secrets" in text:
                        leaked.append(text)
                        break
    assert not leaked, "bob read alice's thread events over v2"
    answer = (await raw.post(f"/threads/{tid}/commands", json={"id": 1, "method": "state.get", "params": {}}, headers=bearer(BOB))).text
    assert "secrets" not in answer, "bob read alice's thread state over v2"
    assert json.loads(answer)["error"] == "no_such_run"  # hidden looks like missing
    mine = (await raw.post(f"/threads/{tid}/commands", json={"id": 2, "method": "state.get", "params": {}}, headers=bearer(ALICE))).json()
    assert "secrets" in json.dumps(mine["result"]), mine
    import websockets

    base = raw.base_url
    async with websockets.connect(f"ws://{base.host}:{base.port}/threads/{tid}/stream/events", additional_headers=bearer(BOB), open_timeout=10) as ws:
        for number, method in enumerate(("subscription.subscribe", "agent.getTree", "state.get", "input.respond"), start=1):
            params = {"channels": ["values", "messages"]} if method.startswith("subscription") else {}
            await ws.send(json.dumps({"id": number, "method": method, "params": params}))
            reply = json.loads(await ws.recv())
            assert reply["type"] == "error" and reply["error"] == "no_such_run" and reply["id"] == number, reply
    async with websockets.connect(f"ws://{base.host}:{base.port}/threads/{tid}/stream/events", additional_headers=bearer(ALICE), open_timeout=10) as ws:
        await ws.send(json.dumps({"id": 1, "method": "subscription.subscribe", "params": {"channels": ["values"]}}))
        reply = json.loads(await ws.recv())
        assert reply["type"] == "success" and reply["result"]["replayed_events"] > 0, reply
        assert "secrets" in await ws.recv()  # the replay: alice's own thread
