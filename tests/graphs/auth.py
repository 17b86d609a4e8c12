"""The custom auth module of the auth tests (served by tests/graphs/langgraph.auth.json).

Bearer tokens for two ordinary users (alice and bob) and a read-only one; every object a
user creates is stamped with `metadata.owner`, and every read, search, count, update and
delete is filtered to the caller's own. Store namespaces must start with the caller's
identity. The read-only user exercises the three ways a handler denies: `False`, an
`AssertionError` and an `HTTPException` with headers; the "typo" user gets a filter with
an unknown operator.
"""

from __future__ import annotations

from typing import Any

from langgraph_sdk import Auth

auth = Auth()

USERS: dict[str, dict[str, Any]] = {
    "alice-token": {"identity": "alice", "display_name": "Alice", "permissions": ["write"], "org": "wonderland"},
    "bob-token": {"identity": "bob", "display_name": "Bob", "permissions": ["write"], "org": "builders"},
    "reader-token": {"identity": "reader", "permissions": []},
    # Its thread searches come back with an operator the filters do not know (a typo).
    "typo-token": {"identity": "typo", "permissions": ["write"]},
}
EXPIRED = {"expired-token"}


@auth.authenticate
async def authenticate(authorization: str | None) -> Auth.types.MinimalUserDict:
    if not authorization:
        raise Auth.exceptions.HTTPException(401, "Missing bearer token", headers={"WWW-Authenticate": "Bearer"})
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Auth.exceptions.HTTPException(401, "Malformed Authorization header")
    if token in EXPIRED:
        raise Auth.exceptions.HTTPException(401, "Token expired")
    user = USERS.get(token)
    if user is None:
        raise Auth.exceptions.HTTPException(401, "Invalid token")
    return dict(user)  # type: ignore[return-value]


def _owner(ctx: Auth.types.AuthContext) -> dict[str, str]:
    return {"owner": ctx.user.identity}


def _stamp(ctx: Auth.types.AuthContext, value: Any) -> dict[str, str]:
    """Writers only: the new object is the caller's."""
    if "write" not in ctx.permissions:
        return False  # type: ignore[return-value]
    metadata = value.get("metadata")
    if metadata is None:
        metadata = value["metadata"] = {}
    metadata["owner"] = ctx.user.identity
    return _owner(ctx)


@auth.on.threads.create
async def create_thread(ctx: Auth.types.AuthContext, value: Auth.types.on.threads.create.value):
    return _stamp(ctx, value)


@auth.on.threads.create_run
async def create_run(ctx: Auth.types.AuthContext, value: Auth.types.on.threads.create_run.value):
    return _stamp(ctx, value)


@auth.on.threads.delete
async def delete_thread(ctx: Auth.types.AuthContext, value: Auth.types.on.threads.delete.value):
    if "write" not in ctx.permissions:
        raise Auth.exceptions.HTTPException(403, "Readers cannot delete", headers={"X-Auth-Reason": "read-only"})
    return _owner(ctx)


@auth.on.threads
async def threads(ctx: Auth.types.AuthContext, value: Any):
    if ctx.user.identity == "typo" and ctx.action == "search":
        return {"owner": {"$in": [ctx.user.identity]}}
    return _owner(ctx)


@auth.on.assistants.create
async def create_assistant(ctx: Auth.types.AuthContext, value: Auth.types.on.assistants.create.value):
    return _stamp(ctx, value)


@auth.on.assistants.read
async def read_assistant(ctx: Auth.types.AuthContext, value: Any):
    # The graphs' own assistants stay visible to everyone; the rest only to their owner.
    return {"$or": [_owner(ctx), {"created_by": "system"}]}


@auth.on.assistants.search
async def search_assistants(ctx: Auth.types.AuthContext, value: Any):
    return {"$or": [_owner(ctx), {"created_by": "system"}]}


@auth.on.assistants
async def assistants(ctx: Auth.types.AuthContext, value: Any):
    return _owner(ctx)


@auth.on.crons.create
async def create_cron(ctx: Auth.types.AuthContext, value: Auth.types.on.crons.create.value):
    return _stamp(ctx, value)


@auth.on.crons
async def crons(ctx: Auth.types.AuthContext, value: Any):
    return _owner(ctx)


@auth.on.store
async def store(ctx: Auth.types.AuthContext, value: Any):
    """Every namespace starts with the caller's identity; listing without a prefix lists
    only the caller's."""
    namespace = value.get("namespace")
    if ctx.action == "list_namespaces" and not namespace:
        value["namespace"] = (ctx.user.identity,)
        return None
    assert namespace and namespace[0] == ctx.user.identity, "Not your namespace"
    return None
