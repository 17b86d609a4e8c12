"""Health and server information."""

from __future__ import annotations

import langgraph.version
from quart import Quart, Response

from .. import __version__
from ..services import Services
from .common import json_response


def register(app: Quart, svc: Services) -> None:
    @app.get("/ok")
    @app.get("/")  # the reference answers its root as a health check too
    async def ok() -> Response:
        return json_response({"ok": True, "services": {}})

    @app.get("/info")
    async def info() -> Response:
        return json_response(
            {
                "version": __version__,
                "langgraph_py_version": langgraph.version.__version__,
                "flags": {"assistants": True, "crons": True, "langsmith": False, "langsmith_tracing_replicas": False},
                "host": {"kind": "self-hosted", "project_id": None, "host_revision_id": None, "revision_id": None, "tenant_id": None},
            }
        )
