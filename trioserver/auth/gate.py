"""The HTTP gate: every request and websocket, before routing, so an unknown path or a
wrong method answers 401 too, not 404 or 405.

Open without credentials, as in the reference: `GET /ok`, `/`, `/info`, `/docs` (and
its static assets), `/openapi.json`, and CORS preflights (`OPTIONS`). Everything else, including routes
added later (the v2 protocol, MCP, A2A), passes the API key check first (when keys are
configured), then custom auth's authenticate (when langgraph.json has `auth`), which sets
the principal for the rest of the request.
"""

from __future__ import annotations

from typing import Any

import trio
from quart import Quart, Response, request, websocket

from .apikey import DETAIL, ApiKeys
from .authorize import AuthDenied, Authorizer
from .context import current

OPEN_PATHS = frozenset({"/ok", "/", "/info", "/docs", "/openapi.json"})
ASSETS = "/docs/assets/"


def is_open(method: str, path: str) -> bool:
    if method == "OPTIONS":
        return True
    if method not in ("GET", "HEAD"):
        return False
    if path in OPEN_PATHS:
        return True
    if not path.startswith(ASSETS):
        return False
    asset = path[len(ASSETS) :]
    return bool(asset) and "/" not in asset and ".." not in asset  # the API reference's static files, nothing else


# A refused request's body up to this size is read and dropped, so its connection stays usable.
DRAIN_LIMIT = 64 * 1024


async def _settle_body(refusal: AuthDenied) -> None:
    """Before refusing a request that carries a body: read a small one (answering before
    the body was read can leave the connection unusable for the client's next request),
    or close the connection after the answer."""
    length = request.content_length
    if not length and "transfer-encoding" not in request.headers:
        return
    if length is not None and length <= DRAIN_LIMIT:
        with trio.move_on_after(1):
            await request.get_data(cache=False)
            return
    refusal.headers["Connection"] = "close"


def install(app: Quart, auth: Authorizer, keys: ApiKeys | None) -> None:
    """Register the gate on `app`; nothing at all when neither keys nor auth are configured."""
    if keys is None and not auth.enabled:
        return

    async def gate(conn: Any, has_body: bool) -> Response | None:
        current.set(None)
        if is_open(conn.method, conn.path):
            return None
        try:
            if keys is not None and not keys.check(conn.headers):
                raise AuthDenied(401, DETAIL)
            if auth.enabled:
                current.set(await auth.authenticate(conn))
        except AuthDenied as exc:
            if has_body:
                await _settle_body(exc)
            raise
        return None

    @app.before_request
    async def gate_request() -> Response | None:
        return await gate(request._get_current_object(), True)  # type: ignore[attr-defined]  # one proxy lookup, not one per attribute

    @app.before_websocket
    async def gate_websocket() -> Response | None:
        return await gate(websocket._get_current_object(), False)  # type: ignore[attr-defined]
