"""The auth package on its own: filters, users, loading, and how handlers are called."""

from __future__ import annotations

import asyncio
import json
import textwrap
import uuid
from types import SimpleNamespace

import pytest
import trio
from langgraph_sdk import Auth

from trioserver.auth import AuthDenied, Authorizer, Principal
from trioserver.auth.calls import never_suspends
from trioserver.auth.context import current
from trioserver.auth.filters import FilterError, compile_filter
from trioserver.auth.loader import AuthLoadError
from trioserver.auth.setup import AuthSetupError, configure
from trioserver.auth.users import AuthUser, normalize
from trioserver.errors import BadRequest
from trioserver.runtime.bridge import AsyncioBridge

# -- filters -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw, metadata, expected",
    [
        ({"owner": "a"}, {"owner": "a"}, True),
        ({"owner": "a"}, {"owner": "b"}, False),
        ({"owner": "a"}, {}, False),
        ({"owner": None}, {}, False),  # the key must be there
        ({"owner": None}, {"owner": None}, True),
        ({"owner": {"$eq": "a"}}, {"owner": "a"}, True),
        ({"owner": {"$eq": ""}}, {"owner": "x"}, False),  # a falsy $eq still filters (the JS server skips it)
        ({"team": {"$contains": "x"}}, {"team": ["x", "y"]}, True),
        ({"team": {"$contains": "z"}}, {"team": ["x", "y"]}, False),
        ({"team": {"$contains": ["x", "y"]}}, {"team": ["y", "x", "w"]}, True),
        ({"team": {"$contains": ["x", "q"]}}, {"team": ["x"]}, False),
        ({"team": {"$contains": "x"}}, {"team": "x"}, False),  # not a list
        ({"a": 1, "b": 2}, {"a": 1, "b": 2, "c": 3}, True),
        ({"a": 1, "b": 2}, {"a": 1}, False),
        ({"$or": [{"owner": "a"}, {"created_by": "system"}]}, {"created_by": "system"}, True),
        ({"$or": [{"owner": "a"}, {"created_by": "system"}]}, {"owner": "b"}, False),
        ({"$or": [{"owner": "a"}, {"owner": "b"}], "org": "o"}, {"owner": "b", "org": "o"}, True),
        ({"$or": [{"owner": "a"}, {"owner": "b"}], "org": "o"}, {"owner": "b"}, False),
        ({"$and": [{"owner": "a"}, {"org": "o"}]}, {"owner": "a", "org": "o"}, True),
        ({"$and": [{"owner": "a"}, {"org": "o"}]}, {"owner": "a"}, False),
        ({"$or": [{"$and": [{"a": 1}, {"b": 2}]}, {"c": 3}]}, {"a": 1, "b": 2}, True),
        ({}, {"anything": 1}, True),
    ],
)
def test_filters_match_as_the_reference(raw, metadata, expected):
    assert compile_filter(raw).allows(metadata) is expected


@pytest.mark.parametrize(
    "raw",
    [
        {"owner": {"$ne": "a"}},  # the reference ignores unknown operators (matches everything)
        {"owner": {"$in": ["a"]}},
        {"owner": {"$eq": "a", "$regex": "."}},  # the reference looks only at the first
        {"owner": {}},
        {"$or": [{"owner": "a"}]},  # fewer than two groups
        {"$or": {"owner": "a"}},
        {"$not": {"owner": "a"}},
        {"$or": [{"$or": [{"$or": [{"a": 1}, {"b": 1}]}, {"c": 1}]}, {"d": 1}]},  # nested too deep
        ["owner"],
    ],
)
def test_filters_the_server_cannot_apply_fail_closed(raw):
    with pytest.raises(FilterError) as failed:
        compile_filter(raw)
    assert failed.value.status == 500


# -- users -------------------------------------------------------------------------------


class Member:
    identity = "m1"
    display_name = "Member One"
    permissions = ["read"]
    team = "blue"


def test_authenticate_results_are_normalised_as_the_reference():
    user, perms = normalize("alice")
    assert (user.identity, user.display_name, user.is_authenticated, perms) == ("alice", "alice", True, [])
    user, perms = normalize({"identity": "bob", "permissions": ["w"], "org": "o"})
    assert perms == ["w"] and user["org"] == "o" and user.org == "o" and user.dict()["display_name"] == "bob"
    user, perms = normalize((["x"], {"identity": "carol"}))
    assert user.identity == "carol" and perms == ["x"]
    user, perms = normalize(Member())
    assert user.identity == "m1" and user.display_name == "Member One" and perms == ["read"] and user.team == "blue"
    for bad in (None, {}, {"name": "no identity"}, 42, ("a", "b", "c")):
        with pytest.raises(BadRequest):
            normalize(bad)


def test_users_travel_as_plain_data():
    user = AuthUser({"identity": "a", "org": "o"})
    import copy
    import pickle

    assert pickle.loads(pickle.dumps(user)) == user
    assert copy.deepcopy(user) == user
    principal = Principal(user, ("p",))
    again = Principal.from_run_auth(principal.run_auth())
    assert again.user.dict() == user.dict() and again.permissions == ("p",)


# -- loading -----------------------------------------------------------------------------


def write_project(tmp_path, auth_source: str, path: str = "./auth.py:auth"):
    (tmp_path / "auth.py").write_text(textwrap.dedent(auth_source))
    (tmp_path / "langgraph.json").write_text(json.dumps({"graphs": {}, "auth": {"path": path}}))
    return tmp_path / "langgraph.json"


GOOD = """
    from langgraph_sdk import Auth
    auth = Auth()

    @auth.authenticate
    async def authenticate(headers, method):
        return "someone"
"""


def test_auth_path_is_relative_to_langgraph_json(tmp_path, monkeypatch):
    config = write_project(tmp_path, GOOD)
    monkeypatch.chdir("/")  # the reference would look for ./auth.py here
    keys, custom = configure(config, None, "127.0.0.1", {})
    assert keys is None and custom is not None and isinstance(custom.auth, Auth)


@pytest.mark.parametrize(
    "source, path, message",
    [
        ("x = 1", "./auth.py:auth", "Could not find auth"),
        ("auth = object()", "./auth.py:auth", "Expected an Auth instance"),
        ("from langgraph_sdk import Auth\nauth = Auth()", "./auth.py:auth", "does not have an authenticate handler"),
        (GOOD, "./missing.py:auth", "Could not find auth file"),
        (GOOD, "./auth.ts:auth", "JavaScript auth objects are not supported"),
        (GOOD, "no_such_module_anywhere:auth", "Could not import auth module"),
        (GOOD, "./auth.py", "Invalid auth path format"),
        (
            "from langgraph_sdk import Auth\nauth = Auth()\n@auth.authenticate\nasync def authenticate(token):\n    return token",
            "./auth.py:auth",
            "unsupported required parameters: token",
        ),
    ],
)
def test_a_bad_auth_module_stops_the_start(tmp_path, source, path, message):
    config = write_project(tmp_path, source, path)
    with pytest.raises(AuthSetupError, match=message):
        configure(config, None, "127.0.0.1", {})


def test_auth_load_errors_are_setup_errors():
    assert issubclass(AuthLoadError, Exception)


# -- calling the module's functions ---------------------------------------------------------


async def plain(ctx, value):
    return {"owner": ctx.user.identity}


async def awaiting(ctx, value):
    await asyncio.sleep(0)
    value["seen_on"] = type(asyncio.get_running_loop()).__name__
    return {"owner": ctx.user.identity}


async def with_block(ctx, value):
    async with asyncio.Lock():
        return None


def test_handlers_that_cannot_suspend_are_called_inline():
    assert never_suspends(plain)
    assert not never_suspends(awaiting) and not never_suspends(with_block)
    assert not never_suspends(lambda ctx, value: None)  # not a coroutine function


async def anyone(authorization):
    return "u"


def make_auth(handler, authenticate):
    auth = Auth()
    auth.authenticate(authenticate)
    auth.on.threads.read(handler)
    return auth


def run_with_bridge(fn):
    bridge = AsyncioBridge()
    try:
        return trio.run(fn, bridge)
    finally:
        bridge.close()


def fake_request(authorization: str | None):
    headers = {"authorization": authorization} if authorization is not None else {}
    return SimpleNamespace(headers=headers, scope={"headers": []}, path="/threads", method="GET", view_args={}, args={})


@pytest.mark.parametrize("handler", [plain, awaiting])
def test_async_and_sync_functions_run_where_they_can(handler):
    """Inline, on the graph loop (asyncio works there), or in a thread (a sync authenticate)."""

    def authenticate(authorization):  # sync: may block, so it runs in a worker thread
        return {"identity": authorization.split()[-1]}

    async def main(bridge):
        authorizer = Authorizer(make_auth(handler, authenticate), bridge)
        principal = await authorizer.authenticate(fake_request("Bearer zoe"))
        assert principal.identity == "zoe"
        current.set(principal)
        value = {"thread_id": uuid.uuid4()}
        allowed = await authorizer.authorize("threads", "read", value)
        assert allowed.allows({"owner": "zoe"}) and not allowed.allows({"owner": "x"})
        return value

    value = run_with_bridge(main)
    if handler is awaiting:
        assert value["seen_on"].endswith("EventLoop")


def test_authenticate_outcomes():
    async def authenticate(authorization):
        if authorization == "403":
            raise Auth.exceptions.HTTPException(403, "nope")
        if authorization == "418":
            raise Auth.exceptions.HTTPException(418, "teapot")
        if authorization == "boom":
            raise RuntimeError("secret detail")
        if authorization == "none":
            return None
        raise Auth.exceptions.HTTPException()

    async def main(bridge):
        authorizer = Authorizer(make_auth(plain, authenticate), bridge)
        out = {}
        for header in ("403", "418", "boom", "none", None):
            try:
                await authorizer.authenticate(fake_request(header))
            except AuthDenied as exc:
                out[header] = (exc.status, exc.detail)
            except BadRequest as exc:
                out[header] = (exc.status, exc.detail[:28])
        return out

    assert run_with_bridge(main) == {
        "403": (403, "nope"),
        "418": (500, "Internal Server Error"),  # only 401 and 403 are answered as raised
        "boom": (500, "Internal Server Error"),  # and the exception's text is not shown
        "none": (400, "Expected a BaseUser instance"),
        None: (401, "Unauthorized"),
    }


def test_handler_results():
    async def main(bridge):
        results = {}
        for name, result in (("false", False), ("true", True), ("none", None), ("list", ["x"]), ("raises", KeyError("secret"))):

            async def handler(ctx, value, result=result):
                if isinstance(result, Exception):
                    raise result
                return result

            authorizer = Authorizer(make_auth(handler, anyone), bridge)
            current.set(Principal(AuthUser({"identity": "u"}), ()))
            try:
                results[name] = (await authorizer.authorize("threads", "read", {})).empty
            except Exception as exc:  # noqa: BLE001
                results[name] = (getattr(exc, "status", None), str(exc)[:36])
        current.set(None)
        return results

    assert run_with_bridge(main) == {
        "false": (403, "Forbidden"),
        "true": True,
        "none": True,
        "list": (500, "Auth handler returned invalid result"),
        "raises": (500, "Internal Server Error"),  # its text stays in the log
    }


def test_resolution_order_and_no_principal():
    calls = []

    def recorder(name):
        async def handler(ctx, value):
            calls.append((name, ctx.resource, ctx.action))

        return handler

    auth = Auth()
    auth.authenticate(anyone)
    auth.on(recorder("global"))
    auth.on.threads(recorder("threads:*"))
    auth.on.threads.create(recorder("threads:create"))
    auth.on(resources="*", actions=["delete"])(recorder("*:delete"))

    async def main(bridge):
        authorizer = Authorizer(auth, bridge)
        await authorizer.authorize("threads", "read", {})  # no principal: nothing runs
        current.set(Principal(AuthUser({"identity": "u"}), ()))
        for resource, action in (("threads", "create"), ("threads", "read"), ("assistants", "delete"), ("store", "put"), ("threads", "delete")):
            await authorizer.authorize(resource, action, {})

    run_with_bridge(main)
    assert calls == [
        ("threads:create", "threads", "create"),
        ("threads:*", "threads", "read"),
        ("*:delete", "assistants", "delete"),
        ("global", "store", "put"),
        ("threads:*", "threads", "delete"),  # the resource's handler comes before the action's
    ]


# -- /openapi.json ---------------------------------------------------------------------------


def test_openapi_advertises_the_configured_schemes():
    from trioserver.auth.apikey import ApiKeys
    from trioserver.auth.openapi import apply_security

    def document():
        return {"paths": {"/threads": {"post": {}}}, "components": {"schemas": {}}}

    assert apply_security(document(), None, None) == document()
    keyed = apply_security(document(), ApiKeys(["k"]), None)
    assert keyed["components"]["securitySchemes"]["apiKey"] == {"type": "apiKey", "in": "header", "name": "x-api-key", "description": keyed["components"]["securitySchemes"]["apiKey"]["description"]}
    assert keyed["security"] == [{"apiKey": []}, {"apiKeyBearer": []}]
    custom = {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}, "security": [{"bearer": []}], "paths": {"/threads": {"POST": [{"bearer": ["write"]}]}}}
    both = apply_security(document(), ApiKeys(["k"]), custom)
    assert set(both["components"]["securitySchemes"]) == {"bearer", "apiKey", "apiKeyBearer"}
    assert both["security"] == [{"bearer": [], "apiKey": []}]  # the key and the user's own credentials
    assert both["paths"]["/threads"]["post"]["security"] == [{"bearer": ["write"]}]
    legacy = apply_security(document(), None, {"security_schemes": {"x": {"type": "http", "scheme": "bearer"}}})
    assert "x" in legacy["components"]["securitySchemes"] and "security" not in legacy
