"""Serving the app with hypercorn's trio worker, with the fixes STACK.md measured."""

from __future__ import annotations

import logging
import signal
import weakref

import trio
from hypercorn.config import Config
from hypercorn.events import Closed, RawData
from hypercorn.trio import serve
from hypercorn.trio.tcp_server import TCPServer

from .app import Settings, create_app
from .runtime.graphs import GraphSpec

log = logging.getLogger(__name__)

WRITE_TIMEOUT = 30.0


_writing: "weakref.WeakSet[TCPServer]" = weakref.WeakSet()


def bound_socket_writes() -> None:
    """STACK.md 3: hypercorn's socket write is shielded and has no deadline, so a client
    that stops reading pins its connection forever. Each write is timed, and a watchdog
    (`drop_stalled_writers`) closes connections whose write has been stuck too long; a
    client dropped this way resumes with `Last-Event-ID`. A watchdog, not a deadline per
    write: deadlines cost a heap operation on every chunk sent to every subscriber.
    Patches hypercorn 0.18's TCPServer (pinned)."""
    original = getattr(TCPServer.protocol_send, "_original", TCPServer.protocol_send)

    async def protocol_send(self: TCPServer, event) -> None:
        if not isinstance(event, RawData):
            return await original(self, event)
        async with self.send_lock:
            self.write_started = trio.current_time()
            _writing.add(self)
            try:
                with trio.CancelScope(shield=True):
                    await self.stream.send_all(event.data)
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                await self.protocol.handle(Closed())
            finally:
                self.write_started = None

    protocol_send._original = original  # type: ignore[attr-defined]
    TCPServer.protocol_send = protocol_send


async def drop_stalled_writers(write_timeout: float) -> None:
    """Close every connection whose current write has waited longer than `write_timeout`."""
    while True:
        await trio.sleep(min(1.0, write_timeout / 4))
        now = trio.current_time()
        for server in list(_writing):
            started = getattr(server, "write_started", None)
            if started is not None and now - started > write_timeout:
                log.info("dropping a client that stopped reading")
                await server.stream.aclose()


async def run_server(graphs: dict[str, GraphSpec], settings: Settings, *, host: str, port: int, task_status=trio.TASK_STATUS_IGNORED) -> None:
    """Serve until SIGINT/SIGTERM. On a signal every stream ends cleanly first (STACK.md 6)."""
    bound_socket_writes()
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
    async with trio.open_nursery() as nursery:
        nursery.start_soon(drop_stalled_writers, settings.write_timeout)
        await serve(app, config, shutdown_trigger=shutdown_trigger)
        nursery.cancel_scope.cancel()
