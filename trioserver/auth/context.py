"""Who the current request (or run) acts for.

The HTTP gate authenticates once per request and sets `current` for the rest of the
request's task (and the tasks it starts: trio copies context variables into child tasks).
Code outside a request (the run queue, retention) sees None, and no handler runs for it,
as in the reference. A graph running a run sees its run's principal the same way, on the
graph loop (`runtime.drive` sets it), and through `get_auth_ctx()`.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import attrs

from .users import AuthUser


@attrs.frozen
class Principal:
    """An authenticated caller: the user and the permissions authenticate gave it."""

    user: AuthUser
    permissions: tuple[str, ...]

    @property
    def identity(self) -> str:
        return self.user.identity

    def run_auth(self) -> dict[str, Any]:
        """What a run stores of its caller (`Run.kwargs["auth"]`): plain data, so it
        survives restarts; the graph gets it back as a user object."""
        return {"user": self.user.dict(), "identity": self.identity, "permissions": list(self.permissions)}

    @classmethod
    def from_run_auth(cls, auth: dict[str, Any]) -> Principal:
        user = auth.get("user") or {"identity": auth.get("identity", "")}
        return cls(AuthUser(user), tuple(auth.get("permissions") or ()))


current: contextvars.ContextVar[Principal | None] = contextvars.ContextVar("trioserver_principal", default=None)


def current_principal() -> Principal | None:
    return current.get()


@contextmanager
def acting_as(principal: Principal | None) -> Iterator[None]:
    """Run the body as `principal` (the cron scheduler acting for a cron's creator)."""
    token = current.set(principal)
    try:
        yield
    finally:
        current.reset(token)


def get_auth_ctx() -> Any:
    """The caller as `langgraph_sdk.Auth.types.BaseAuthContext` (user and permissions),
    or None without auth: inside a graph, the user its run was created for. The
    reference's `langgraph_api.utils.get_auth_ctx`, for graph code that used it."""
    principal = current.get()
    if principal is None:
        return None
    from langgraph_sdk.auth.types import BaseAuthContext

    return BaseAuthContext(permissions=list(principal.permissions), user=principal.user)
