"""Messages between the server process and its graph workers: length-prefixed CBOR over
a Unix socket pair, read and written by trio on both ends.

A message is a list whose first item names it. The server sends `run`, `cancel`,
`ack` (how many batches of each run it has taken) and `stop`; a worker sends `hello`,
`events`, `done` and `abandoned`. Order is
kept per connection, which is what makes a run's `done` arrive after all its events.
"""

from __future__ import annotations

import socket
import struct
from typing import Any

import cbor2
import trio

_LEN = struct.Struct(">I")
MAX_MESSAGE = 256 << 20  # a run's state can be large; anything past this is a bug


class ChannelClosed(Exception):
    """The other end went away (it exited, or was killed)."""


class Channel:
    """One end of a socket pair, for whole messages."""

    def __init__(self, sock: socket.socket) -> None:
        self._stream = trio.SocketStream(trio.socket.from_stdlib_socket(sock))
        self._buffer = bytearray()
        self._send_lock = trio.Lock()

    async def send(self, message: list[Any]) -> None:
        payload = cbor2.dumps(message)
        async with self._send_lock:
            try:
                await self._stream.send_all(_LEN.pack(len(payload)) + payload)
            except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
                raise ChannelClosed(str(exc)) from None

    def receive_buffered(self) -> list[Any] | None:
        """The next message if it has been received whole already, else None (no I/O)."""
        if len(self._buffer) < _LEN.size:
            return None
        (size,) = _LEN.unpack_from(self._buffer)
        if size > MAX_MESSAGE:
            raise ChannelClosed(f"a message of {size} bytes")
        if len(self._buffer) < _LEN.size + size:
            return None
        payload = bytes(self._buffer[_LEN.size : _LEN.size + size])
        del self._buffer[: _LEN.size + size]
        message: list[Any] = cbor2.loads(payload)
        return message

    async def receive(self) -> list[Any]:
        while True:
            message = self.receive_buffered()
            if message is not None:
                return message
            try:
                chunk = await self._stream.receive_some(1 << 16)
            except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
                raise ChannelClosed(str(exc)) from None
            if not chunk:
                raise ChannelClosed("end of stream")
            self._buffer += chunk

    async def aclose(self) -> None:
        await self._stream.aclose()
