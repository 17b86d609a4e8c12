"""Serving the app with hypercorn's trio worker, with the fixes STACK.md measured."""

from __future__ import annotations

import logging
import signal

import trio
from hypercorn.config import Config
from hypercorn.events import Closed, RawData
from hypercorn.trio import serve
from hypercorn.trio.tcp_server import TCPServer

from .app import Settings, create_app
from .runtime.graphs import GraphSpec

log = logging.getLogger(__name__)

WRITE_TIMEOUT = 30.0


def bound_socket_writes(write_timeout: float = WRITE_TIMEOUT) -> None:
    """STACK.md 3: hypercorn's socket write is shielded and has no deadline, so a client
    that stops reading pins its connection forever. Bound each write; a client dropped
    this way resumes with `Last-Event-ID`. Patches hypercorn 0.18's TCPServer (pinned)."""
    original = getattr(TCPServer.protocol_send, "_original", TCPServer.protocol_send)

    async def protocol_send(self: TCPServer, event) -> None:
        if not isinstance(event, RawData):
            return await original(self, event)
        async with self.send_lock:
            try:
                # One scope: shielded from outer cancellation, bounded by its own deadline.
                with trio.CancelScope(shield=True, deadline=trio.current_time() + write_timeout) as scope:
                    await self.stream.send_all(event.data)
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                await self.protocol.handle(Closed())
                return
            if scope.cancelled_caught:
                log.info("dropping a client that stopped reading")
                await self.stream.aclose()
                await self.protocol.handle(Closed())

    protocol_send._original = original  # type: ignore[attr-defined]
    TCPServer.protocol_send = protocol_send


async def run_server(graphs: dict[str, GraphSpec], settings: Settings, *, host: str, port: int, task_status=trio.TASK_STATUS_IGNORED) -> None:
    """Serve until SIGINT/SIGTERM. On a signal every stream ends cleanly first (STACK.md 6)."""
    bound_socket_writes(settings.write_timeout)
    app = create_app(graphs, settings)
    config = Config()
    config.bind = [f"{host}:{port}"]
    config.worker_class = "trio"
    config.keep_alive_timeout = 5
    config.graceful_timeout = 3
    config.accesslog = None
    config.errorlog = logging.getLogger("hypercorn.error")

    async def shutdown_trigger() -> None:
        with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            async for _ in signals:
                break
        svc = app.config.get("TRIOSERVER")
        if svc is not None:
            svc.begin_shutdown()

    task_status.started()
    await serve(app, config, shutdown_trigger=shutdown_trigger)
