"""The built-in API key (`--api-key-file`, `TRIOSERVER_API_KEY`): every data endpoint
needs one of the keys, the official SDK sends it unchanged, and the key never reaches
the log. Together with custom auth it is an outer gate, checked first."""

from __future__ import annotations

import logging
import os

import httpx
import pytest
from authsupport import AUTH_CONFIG, data_routes, user_client
from langgraph_sdk import get_client
from serverproc import ServerProcess

from trioserver.auth.apikey import ApiKeys
from trioserver.auth.setup import AuthSetupError, configure, is_loopback

pytestmark = pytest.mark.anyio

KEY = "tsk-0123456789abcdef-current"
OLD_KEY = "tsk-fedcba9876543210-previous"
ENV_KEY = "tsk-from-the-environment-42"
DETAIL = {"detail": "Invalid or missing API key"}


@pytest.fixture(scope="module")
def key_server(tmp_path_factory):
    base = tmp_path_factory.mktemp("apikey")
    key_file = base / "keys"
    key_file.write_text(f"# rotated monthly\n{KEY}\n\n{OLD_KEY}\n")
    saved = os.environ.get("TRIOSERVER_API_KEY")
    os.environ["TRIOSERVER_API_KEY"] = ENV_KEY  # the child reads it; this process only passes it on
    try:
        proc = ServerProcess(base / "data", extra_args=["--api-key-file", str(key_file), "--log-level", "debug"]).start()
    finally:
        if saved is None:
            del os.environ["TRIOSERVER_API_KEY"]
        else:
            os.environ["TRIOSERVER_API_KEY"] = saved
    yield proc
    proc.stop()


@pytest.fixture
async def raw(key_server):
    async with httpx.AsyncClient(base_url=key_server.url, timeout=30) as http:
        yield http


async def test_every_data_endpoint_needs_a_key(raw):
    wrong = [{}, {"x-api-key": "nope"}, {"x-api-key": KEY + "x"}, {"x-api-key": KEY[:-1]}, {"Authorization": "Bearer nope"}, {"Authorization": f"Basic {KEY}"}, {"x-api-key": ""}]
    for method, path, websocket in data_routes():
        if websocket:
            continue  # the handshake goes through the same gate: see test_auth
        for headers in wrong:
            res = await raw.request(method, path, headers=headers, json={} if method in ("POST", "PUT", "PATCH") else None)
            assert res.status_code == 401 and res.json() == DETAIL, (method, path, headers, res.status_code)


async def test_open_paths_need_no_key(raw):
    assert (await raw.get("/ok")).status_code == 200
    assert (await raw.get("/info")).status_code == 200
    document = (await raw.get("/openapi.json")).json()
    assert document["components"]["securitySchemes"]["apiKey"]["name"] == "x-api-key"
    assert document["security"] == [{"apiKey": []}, {"apiKeyBearer": []}]
    assert (await raw.options("/threads", headers={"Origin": "http://x", "Access-Control-Request-Method": "POST"})).status_code == 200


async def test_the_official_sdk_sends_the_key_unchanged(key_server, monkeypatch):
    for key in (KEY, OLD_KEY, ENV_KEY):  # each key of the file, and the environment's
        client = get_client(url=key_server.url, api_key=key)
        try:
            thread = await client.threads.create()
            result = await client.runs.wait(thread["thread_id"], "agent", input={"topic": "keys"})
            assert result["joke"].startswith("This is a joke about keys")
        finally:
            await client.http.client.aclose()
    monkeypatch.setenv("LANGGRAPH_API_KEY", KEY)  # what the SDK reads when given no key
    client = get_client(url=key_server.url)
    try:
        assert await client.threads.count() >= 1
    finally:
        await client.http.client.aclose()


async def test_bearer_works_too_and_runs_have_no_user(key_server, raw):
    client = user_client(key_server.url, KEY)  # Authorization: Bearer <key>
    try:
        thread = await client.threads.create()
        await client.runs.wait(thread["thread_id"], "agent", input={"topic": "bearer"})
        run = (await client.runs.list(thread["thread_id"]))[0]
        configurable = run["kwargs"]["config"]["configurable"]
        assert configurable["langgraph_auth_user"] is None and configurable["langgraph_auth_user_id"] == ""
    finally:
        await client.http.client.aclose()
    refused = await raw.get("/threads/00000000-0000-0000-0000-000000000000", headers={"Origin": "http://ui.example"})
    assert refused.status_code == 401 and refused.headers["access-control-allow-origin"] == "*"


async def test_the_key_never_reaches_the_log(key_server, raw):
    await raw.post("/threads", json={}, headers={"x-api-key": KEY})
    await raw.post("/threads", json={}, headers={"x-api-key": "a-wrong-key-that-must-not-be-logged"})
    await raw.get("/nowhere", headers={"Authorization": f"Bearer {OLD_KEY}"})
    log = key_server.log_path.read_text(errors="replace")
    for secret in (KEY, OLD_KEY, ENV_KEY, "a-wrong-key-that-must-not-be-logged"):
        assert secret not in log


async def test_key_and_custom_auth_together(tmp_path):
    """The key is checked first; then custom auth decides who the caller is."""
    key_file = tmp_path / "keys"
    key_file.write_text(KEY + "\n")
    proc = ServerProcess(tmp_path / "data", config=AUTH_CONFIG, extra_args=["--api-key-file", str(key_file)]).start()
    try:
        async with httpx.AsyncClient(base_url=proc.url, timeout=30) as http:
            res = await http.get("/threads/00000000-0000-0000-0000-000000000000", headers={"Authorization": "Bearer alice-token"})
            assert res.status_code == 401 and res.json() == DETAIL  # a good user token without the key
            res = await http.post("/threads", json={}, headers={"x-api-key": KEY})
            assert res.status_code == 401 and res.json() == {"detail": "Missing bearer token"}  # the key alone is no user
        client = get_client(url=proc.url, api_key=KEY, headers={"Authorization": "Bearer alice-token"})
        try:
            thread = await client.threads.create()
            assert thread["metadata"]["owner"] == "alice"
        finally:
            await client.http.client.aclose()
    finally:
        proc.stop()


# -- start-up ---------------------------------------------------------------------------


def test_keys_are_read_from_the_file_and_the_environment(tmp_path):
    key_file = tmp_path / "keys"
    key_file.write_text("  one  \n# comment\n\ntwo\n")
    keys = ApiKeys.load(str(key_file), {"TRIOSERVER_API_KEY": "three"})
    assert keys is not None and len(keys) == 3
    assert keys.check({"x-api-key": "one"}) and keys.check({"x-api-key": "two"}) and keys.check({"authorization": "Bearer three"})
    assert not keys.check({"x-api-key": " one"}) and not keys.check({"x-api-key": "# comment"}) and not keys.check({})
    assert ApiKeys.load(None, {}) is None
    (tmp_path / "empty").write_text("\n# nothing\n")
    with pytest.raises(Exception, match="holds no key"):
        ApiKeys.load(str(tmp_path / "empty"), {})


def test_a_bad_key_file_stops_the_start(tmp_path):
    with pytest.raises(AuthSetupError, match="cannot read the API key file"):
        configure(AUTH_CONFIG.parent / "langgraph.json", str(tmp_path / "missing"), "127.0.0.1", {})


def test_an_open_server_on_the_network_gets_a_warning(caplog):
    config = AUTH_CONFIG.parent / "langgraph.json"  # no auth section
    with caplog.at_level(logging.WARNING, logger="trioserver.auth"):
        assert configure(config, None, "0.0.0.0", {}) == (None, None)
    assert "WITHOUT ANY AUTHENTICATION" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="trioserver.auth"):
        configure(config, None, "127.0.0.1", {})
        keys, _ = configure(config, None, "0.0.0.0", {"TRIOSERVER_API_KEY": KEY})
    assert keys is not None and "WITHOUT ANY AUTHENTICATION" not in caplog.text
    assert is_loopback("::1") and is_loopback("localhost") and is_loopback("127.0.0.2")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.5") and not is_loopback("example.com")
