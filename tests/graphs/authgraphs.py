"""A graph that reports who it runs for, for the auth tests: what the server put in its
config (`langgraph_auth_user` with attribute and item access, the id, the permissions,
`user_id`)."""

from __future__ import annotations

from typing import Any, TypedDict

from langchain_core.runnables import RunnableConfig
from langgraph.graph import START, StateGraph


class WhoState(TypedDict, total=False):
    seen: dict[str, Any]


def who(state: WhoState, config: RunnableConfig) -> WhoState:
    configurable = config.get("configurable") or {}
    user = configurable.get("langgraph_auth_user")
    seen: dict[str, Any] = {
        "user_id_key": configurable.get("langgraph_auth_user_id"),
        "permissions": list(configurable.get("langgraph_auth_permissions") or []),
        "user_id": configurable.get("user_id"),
        "has_user": user is not None,
    }
    if user is not None:
        seen["identity_attr"] = user.identity
        seen["identity_item"] = user["identity"]
        seen["display_name"] = user.display_name
        seen["is_authenticated"] = user.is_authenticated
        seen["org"] = user.get("org")
    try:  # trioserver's equivalent of the reference's langgraph_api.utils.get_auth_ctx
        from trioserver.auth import get_auth_ctx
    except ImportError:
        pass
    else:
        ctx = get_auth_ctx()
        seen["ctx"] = None if ctx is None else {"identity": ctx.user.identity, "permissions": list(ctx.permissions)}
    return {"seen": seen}


whoami = StateGraph(WhoState).add_node(who).add_edge(START, "who").compile()
