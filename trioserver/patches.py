"""Fixes to hypercorn and quart-trio for long-lived streams, in one place.

Two of them reach into private internals, so they hold only for the exact versions
pinned in pyproject.toml; importing this module checks those versions, and each fix
has a regression test (tests/test_connections.py, tests/test_slow_reader.py), so an
upgrade that breaks one fails loudly instead of silently leaking connections.

1. Connections were never closed: hypercorn reports a client's disconnect from inside
   the app's final `send()`, and quart-trio reacts by cancelling the request's nursery,
   which also cancelled hypercorn's socket close and keep-alive re-arm running in that
   same send (1000 requests left 1000 open sockets; shutdown waited for idle clients).
   The last body message is therefore sent shielded (`ClosingHTTPConnection`).
2. A client that stays connected but never reads pinned its connection forever:
   hypercorn's socket write is shielded and has no deadline. Each write is timed, and a
   watchdog (`drop_stalled_writers`) closes connections whose write has been stuck
   longer than the write timeout; a client dropped this way resumes with
   `Last-Event-ID`. A watchdog rather than a deadline per write: deadlines cost a heap
   operation on every chunk sent to every subscriber.
3. A socket write the kernel takes whole goes straight to it (`_write_now`), without
   trio's stream machinery; what does not fit takes the timed path of fix 2.
"""

from __future__ import annotations

import logging
import os
import weakref
from importlib.metadata import version
from typing import Any

import trio
from hypercorn.events import Closed, RawData
from hypercorn.trio.tcp_server import TCPServer
from quart_trio.asgi import TrioASGIHTTPConnection

log = logging.getLogger(__name__)

PINNED = {"hypercorn": "0.18.0", "quart-trio": "0.12.0", "quart": "0.22.0", "trio": "0.35.0", "h11": "0.16.0"}

for _package, _wanted in PINNED.items():
    _found = version(_package)
    if _found != _wanted:
        raise ImportError(f"trioserver's fixes in patches.py are for {_package}=={_wanted}, found {_found}: re-check them before upgrading")


class ClosingHTTPConnection(TrioASGIHTTPConnection):
    """Fix 1: send the last body message shielded, so the close is never cancelled."""

    async def __call__(self, receive: Any, send: Any) -> None:
        async def send_last_shielded(message: dict[str, Any]) -> None:
            if message.get("type") == "http.response.body" and not message.get("more_body", False):
                with trio.CancelScope(shield=True):
                    await send(message)
            else:
                await send(message)

        await super().__call__(receive, send_last_shielded)  # type: ignore[arg-type]


_writing: weakref.WeakSet[TCPServer] = weakref.WeakSet()


def bound_socket_writes() -> None:
    """Fix 2, part one: time every socket write hypercorn makes (TCPServer.protocol_send)."""
    original = getattr(TCPServer.protocol_send, "_original", TCPServer.protocol_send)

    async def protocol_send(self: TCPServer, event: Any) -> None:
        if not isinstance(event, RawData):
            await original(self, event)
            return
        data = event.data
        if not self.send_lock.locked() and isinstance(self.stream, trio.SocketStream):
            try:
                sent = _write_now(self.stream, data)
            except OSError:
                await self.protocol.handle(Closed())
                return
            if sent == len(data):
                await trio.lowlevel.cancel_shielded_checkpoint()  # stay fair to the other tasks, as send_all is
                return
            data = data[sent:]
        async with self.send_lock:
            self.write_started = trio.current_time()  # type: ignore[attr-defined]
            _writing.add(self)
            try:
                with trio.CancelScope(shield=True):
                    await self.stream.send_all(data)
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                await self.protocol.handle(Closed())
            finally:
                self.write_started = None  # type: ignore[attr-defined]

    protocol_send._original = original  # type: ignore[attr-defined]
    TCPServer.protocol_send = protocol_send  # type: ignore[method-assign]


def _write_now(stream: trio.SocketStream, data: bytes) -> int:
    """Fix 3: the bytes of `data` the kernel takes at once (0 when its buffer is full).

    Most writes fit in the socket buffer, and for those `send_all` with its lock,
    shielded scope and conflict checks cost four times the system call (15 us against
    3.5 us measured, paid for every chunk to every subscriber). Only a write that does
    not fit whole takes that path. Raises OSError when the connection is gone."""
    fd = stream.socket.fileno()
    if fd < 0:
        raise OSError("socket closed")
    try:
        return os.write(fd, data)
    except BlockingIOError:
        return 0


async def drop_stalled_writers(write_timeout: float) -> None:
    """Fix 2, part two: close every connection whose current write has waited longer
    than `write_timeout` seconds. Runs until cancelled."""
    while True:
        await trio.sleep(min(1.0, write_timeout / 4))
        now = trio.current_time()
        for server in list(_writing):
            started = getattr(server, "write_started", None)
            if started is not None and now - started > write_timeout:
                peer = getattr(getattr(server, "protocol", None), "client", None) or "?"
                log.warning("dropping client %s: it accepted no data for %.0f s (it can resume by event id)", peer, now - started)
                server.write_started = None  # type: ignore[attr-defined]
                await server.stream.aclose()
