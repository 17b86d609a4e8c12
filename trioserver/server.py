"""Serving: the services opened around hypercorn's trio worker, which serves the app.

On SIGINT/SIGTERM the shutdown trigger fires: every stream ends cleanly at once (a
client sees a complete response and can resume by event id), no new run starts, and
hypercorn stops accepting connections. When `serve` returns, the services close:
running runs are handed back as `pending` (the next start resumes them) and the
writer commits the last of it.
"""

from __future__ import annotations

import logging
import signal
from typing import Any, cast

import trio
from hypercorn.config import Config
from hypercorn.trio import serve

from . import patches
from .api.mcp import MCP_PATH, AsgiApp, McpEndpoint, Receive, Scope, Send
from .app import create_app
from .guard import guarded
from .heap import freeze_startup_objects
from .runtime.graphs import GraphSpec
from .services import Services, Settings, open_services

log = logging.getLogger(__name__)


def hypercorn_config(host: str, port: int, tls: tuple[str, str] | None = None) -> Config:
    """Hypercorn's settings. With `tls` (certfile, keyfile), HTTPS with HTTP/2 offered
    first (ALPN), which browsers need: they open at most six HTTP/1.1 connections per
    host, and each open thread view of a v2 app holds two event streams. Without it,
    plain HTTP/1.1 and h2c (prior knowledge or upgrade)."""
    config = Config()
    config.bind = [f"{host}:{port}"]
    if tls is not None:
        config.certfile, config.keyfile = tls
        config.alpn_protocols = ["h2", "http/1.1"]
    config.worker_class = "trio"
    config.keep_alive_timeout = 5
    config.graceful_timeout = 3
    config.accesslog = None
    config.errorlog = logging.getLogger("hypercorn.error")
    return config


async def run_server(specs: dict[str, GraphSpec], settings: Settings, *, host: str, port: int, tls: tuple[str, str] | None = None, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
    """Serve until SIGINT/SIGTERM."""
    patches.bound_socket_writes()
    config = hypercorn_config(host, port, tls)
    async with open_services(settings, specs) as svc:
        app = create_app(svc)
        freeze_startup_objects()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(guarded, "socket write watchdog", patches.drop_stalled_writers, settings.write_timeout)
            mcp = McpEndpoint(svc, nursery)  # its session managers run in this nursery, once used
            task_status.started(svc)
            await serve(cast(Any, dispatch(app, mcp)), config, shutdown_trigger=lambda: _on_signal(svc))
            nursery.cancel_scope.cancel()


def dispatch(app: Any, mcp: McpEndpoint) -> AsgiApp:
    """What hypercorn serves: `/mcp` goes to the MCP endpoint (an ASGI app of its own, so
    it bypasses Quart's hooks: auth wraps it through `McpEndpoint.gate`); everything else,
    CORS preflights for `/mcp` included, to the Quart app."""

    async def asgi(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] in (MCP_PATH, MCP_PATH + "/") and scope["method"] != "OPTIONS":
            await mcp(scope, receive, send)
        else:
            await app(scope, receive, send)

    return asgi


async def _on_signal(svc: Services) -> None:
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async for signum in signals:
            log.info("%s: stopping (streams end now; running runs resume after the next start)", signal.Signals(signum).name)
            break
    svc.begin_shutdown()
