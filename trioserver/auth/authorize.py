"""Custom auth at run time: authenticating a request, and authorizing each operation.

`Authorizer` is the one object the rest of the server calls (`svc.auth`):

- `authenticate(request)` (once per request, from the HTTP gate) calls the module's
  authenticate function with the parameters it names and returns the `Principal`.
- `authorize(resource, action, value)` raises the event of one operation (AUTH.md's
  table of events, in docs/auth.md) for the current principal: exactly one handler runs,
  the most specific one registered. It returns the `Filter` the handler asked for (ALL
  when none), or raises `AuthDenied`. Without auth, or outside a request (the run queue,
  the scheduler without a cron's creator), nothing runs and everything is allowed.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..errors import ServerError
from .calls import Caller
from .context import Principal, current
from .filters import ALL, Filter, compile_filter
from .users import normalize

if TYPE_CHECKING:  # the graph loop is handed in; auth needs only its type
    from ..runtime.bridge import AsyncioBridge

log = logging.getLogger(__name__)

# What an authenticate function may ask for, by parameter name (as the reference).
AUTHENTICATE_PARAMETERS = frozenset({"request", "user", "path", "method", "scopes", "path_params", "query_params", "headers", "authorization", "scope"})


class AuthDenied(ServerError):
    """An operation refused by authentication or a handler: its status, detail and headers."""

    def __init__(self, status: int, detail: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.headers = dict(headers or {})


class Authorizer:
    """The custom auth of one server: the loaded `Auth` object, or none (then every
    method allows everything at the cost of one check)."""

    def __init__(self, auth: Any = None, bridge: AsyncioBridge | None = None) -> None:
        """`auth`: a `loader.CustomAuth`, or a bare `langgraph_sdk.Auth`, or None."""
        self.openapi: dict[str, Any] | None = getattr(auth, "openapi", None)
        auth = getattr(auth, "auth", auth)
        self.auth = auth
        self.bridge = bridge
        self.enabled = auth is not None
        self._handlers: dict[tuple[str, str], Caller | None] = {}
        self._authenticate: Caller | None = None
        self._params: frozenset[str] = frozenset()
        if auth is not None:
            # langgraph_sdk costs a quarter of a second to import: only with custom auth.
            from langgraph_sdk import Auth

            self._context_type: Any = Auth.types.AuthContext
            self._http_exception: Any = Auth.exceptions.HTTPException
            fn = auth._authenticate_handler
            self._authenticate = Caller(fn)
            self._params = authenticate_parameters(fn)

    # -- authentication ---------------------------------------------------------------

    async def authenticate(self, request: Any) -> Principal:
        """The principal of `request` (a Quart request or websocket), or `AuthDenied`:
        401/403 as the function raised them, 400 for a result without an identity, 500
        for anything else (logged without the request's headers)."""
        assert self._authenticate is not None
        try:
            result = await self._authenticate(self.bridge, self._arguments(request))
        except self._http_exception as exc:
            if exc.status_code in (401, 403):
                raise AuthDenied(exc.status_code, str(exc.detail)) from None
            log.error("authenticate raised HTTPException(%s) on %s %s: only 401 and 403 are answered as such", exc.status_code, request.method, request.path)
            raise AuthDenied(500, "Internal Server Error") from None
        except Exception as exc:  # noqa: BLE001 - the user's function; the request gets a plain 500
            log.error("authenticate failed on %s %s: %s: %s", request.method, request.path, type(exc).__name__, exc)
            raise AuthDenied(500, "Internal Server Error") from None
        user, permissions = normalize(result)
        return Principal(user, tuple(permissions))

    def _arguments(self, request: Any) -> dict[str, Any]:
        params = self._params
        args: dict[str, Any] = {}
        if "authorization" in params:
            args["authorization"] = request.headers.get("authorization")
        if "headers" in params:
            args["headers"] = dict(request.scope.get("headers") or ())
        if "path" in params:
            args["path"] = request.path
        if "method" in params:
            args["method"] = request.method
        if "path_params" in params:
            args["path_params"] = dict(request.view_args or {})
        if "query_params" in params:
            args["query_params"] = request.args
        if "scope" in params:
            args["scope"] = request.scope
        if "scopes" in params:
            args["scopes"] = []
        if "user" in params:
            args["user"] = None
        if "request" in params:
            args["request"] = request
        return args

    # -- authorization ----------------------------------------------------------------

    async def authorize(self, resource: str, action: str, value: dict[str, Any]) -> Filter:
        """Raise the event `(resource, action)` with `value` (which the handler may change
        in place) for the current principal; the filter it returns, checked."""
        if not self.enabled:
            return ALL
        return compile_filter(await self.decide(resource, action, value))

    async def decide(self, resource: str, action: str, value: dict[str, Any]) -> dict[str, Any] | None:
        """`authorize` without compiling the filter: the handler's dict as it returned it
        (the store's search applies it as an item-value filter, with the store's operators)."""
        if not self.enabled:
            return None
        principal = current.get()
        if principal is None:
            return None
        handler = self._handler(resource, action)
        if handler is None:
            return None
        ctx = self._context_type(user=principal.user, permissions=list(principal.permissions), resource=resource, action=action)
        try:
            result = await handler(self.bridge, {"ctx": ctx, "value": value})
        except self._http_exception as exc:
            raise AuthDenied(exc.status_code, str(exc.detail), exc.headers) from None
        except AssertionError as exc:
            raise AuthDenied(403, str(exc)) from None
        except Exception as exc:  # noqa: BLE001 - the user's handler: a plain 500, its text only in the log
            log.error("auth handler for %s:%s failed: %s: %s", resource, action, type(exc).__name__, exc)
            raise AuthDenied(500, "Internal Server Error") from None
        if result is None or result is True:
            return None
        if result is False:
            raise AuthDenied(403, "Forbidden")
        if not isinstance(result, dict):
            raise ServerError(f"Auth handler returned invalid result. Expected filter dict, None, or boolean. Got {type(result)} instead.")
        return result

    def _handler(self, resource: str, action: str) -> Caller | None:
        """The one handler for the event: (resource, action), (resource, *), (*, action),
        (*, *), then the global one; cached."""
        key = (resource, action)
        if key in self._handlers:
            return self._handlers[key]
        found = find_handler(self.auth, resource, action)
        caller = Caller(found) if found is not None else None
        self._handlers[key] = caller
        return caller


def authenticate_parameters(fn: Any) -> frozenset[str]:
    """The parameters `fn` takes by name; an unknown required one is a start-up error."""
    from .loader import AuthLoadError

    signature = inspect.signature(fn)
    unknown = [name for name, p in signature.parameters.items() if name not in AUTHENTICATE_PARAMETERS and p.default is p.empty and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)]
    if unknown:
        raise AuthLoadError(
            f"authenticate has unsupported required parameters: {', '.join(unknown)}. Supported: {', '.join(sorted(AUTHENTICATE_PARAMETERS))}"
        )
    return frozenset(name for name in signature.parameters if name in AUTHENTICATE_PARAMETERS)


def find_handler(auth: Any, resource: str, action: str) -> Any | None:
    """The handler a `langgraph_sdk.Auth` runs for (resource, action), as the reference
    picks it: (resource, action), (resource, *), (*, action), (*, *), then the global one
    (the last registered of each); None when none covers it (the request is allowed)."""
    for candidate in ((resource, action), (resource, "*"), ("*", action), ("*", "*")):
        if candidate in auth._handlers:
            return auth._handlers[candidate][-1]
    return auth._global_handlers[-1] if auth._global_handlers else None
