"""The Quart-Trio application: routes, error rendering and CORS, built from the services
it is handed (see services.py for their lifetime)."""

from __future__ import annotations

import logging
from typing import Any

from quart import Response, request
from quart_trio import QuartTrio
from werkzeug.exceptions import HTTPException

from . import jsonenc
from .api import a2a as a2a_api
from .api import assistants, crons, meta, runs, state, threads, v2
from .api import docs as docs_api
from .api import metrics as metrics_api
from .api import openapi as openapi_api
from .api import storage as storage_api
from .api import store as store_api
from .auth import gate as auth_gate
from .errors import ServerError
from .patches import ClosingHTTPConnection
from .services import Services

log = logging.getLogger(__name__)


def create_app(svc: Services) -> QuartTrio:
    app = QuartTrio(__name__)
    app.config["RESPONSE_TIMEOUT"] = None  # Quart would cut every stream after 60 s
    app.config["BODY_TIMEOUT"] = 60
    app.asgi_http_class = ClosingHTTPConnection
    auth_gate.install(app, svc.auth, svc.settings.api_keys)  # before routing: unknown paths answer 401 too
    for module in (meta, assistants, threads, state, runs, crons, store_api, v2):
        module.register(app, svc)
    for extra in (storage_api, metrics_api, openapi_api, docs_api, a2a_api):  # everything else the reference serves
        extra.register(app, svc)

    @app.errorhandler(ServerError)
    async def server_error(exc: ServerError) -> Response:
        response = error_response(exc.status, exc.detail)
        response.headers.update(getattr(exc, "headers", None) or {})  # an auth handler's own headers
        return response

    @app.errorhandler(HTTPException)
    async def http_error(exc: HTTPException) -> Response:
        response = error_response(exc.code or 500, exc.name)
        valid = getattr(exc, "valid_methods", None)
        if valid:
            response.headers["Allow"] = ", ".join(sorted(valid))
        return response

    @app.errorhandler(Exception)
    async def unexpected(exc: Exception) -> Response:
        log.error("%s %s failed: %s: %s", request.method, request.path, type(exc).__name__, exc, exc_info=True)
        return error_response(500, f"{type(exc).__name__}: {exc}")

    @app.after_request
    async def cors(response: Response) -> Response:
        # Browser chat UIs talk to the server directly: allow any origin, as the reference.
        response.headers.add("Vary", "Origin")
        if request.headers.get("Origin"):
            response.headers["Access-Control-Allow-Origin"] = "*"
            response.headers["Access-Control-Expose-Headers"] = "x-pagination-total, x-pagination-next, content-location"
        return response

    @app.before_request
    async def preflight() -> Response | None:
        if request.method != "OPTIONS":
            return None
        response = Response(b"OK", status=200, content_type="text/plain")
        response.headers["Access-Control-Allow-Methods"] = "DELETE, GET, HEAD, OPTIONS, PATCH, POST, PUT"
        response.headers["Access-Control-Allow-Headers"] = request.headers.get("Access-Control-Request-Headers", "*")
        response.headers["Access-Control-Max-Age"] = "600"
        return response

    return app


def error_response(status: int, detail: Any) -> Response:
    return Response(jsonenc.dumps({"detail": detail}), status=status, content_type="application/json")
