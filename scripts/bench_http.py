"""A small, cheap HTTP/1.1 client on asyncio protocols, for scripts/bench.py.

Why not httpx: at a few hundred runs per second a general-purpose client costs about
as much CPU as the server under test, and this machine has two cores. This client does
only what the benchmark needs: one request at a time per connection, keep-alive,
`Content-Length`, chunked and read-until-close bodies, and it hands each piece of body
to a sink together with the time the bytes arrived (time.perf_counter(), which is
CLOCK_MONOTONIC on Linux, so comparable across processes).
"""

from __future__ import annotations

import asyncio
import time
from typing import Callable, Optional

now = time.perf_counter

# Body framing states.
_HEAD, _LENGTH, _CHUNK_SIZE, _CHUNK_DATA, _CHUNK_TRAILER, _UNTIL_CLOSE, _DONE = range(7)


class HTTPError(Exception):
    pass


class Response:
    __slots__ = ("status", "headers", "body", "t_sent", "t_head", "t_first", "t_end", "nbytes")

    def __init__(self) -> None:
        self.status = 0
        self.headers: dict[str, str] = {}
        self.body: bytes | None = None
        self.t_sent = 0.0
        self.t_head = 0.0
        self.t_first = 0.0  # first byte of body payload
        self.t_end = 0.0
        self.nbytes = 0


Sink = Callable[[bytes, float], None]


class Conn(asyncio.Protocol):
    """One keep-alive connection; `request` may be called again once the previous one returned."""

    def __init__(self) -> None:
        self.transport: Optional[asyncio.Transport] = None
        self.closed = False
        self.reusable = True
        self._buf = bytearray()
        self._state = _DONE
        self._remaining = 0
        self._resp: Optional[Response] = None
        self._sink: Optional[Sink] = None
        self._chunks: Optional[list] = None
        self._fut: Optional[asyncio.Future] = None
        self._no_body = False

    # -- opening ----------------------------------------------------------------

    @classmethod
    async def open(cls, host: str, port: int, timeout: float = 10.0) -> "Conn":
        loop = asyncio.get_running_loop()
        _, proto = await asyncio.wait_for(loop.create_connection(cls, host, port), timeout)
        return proto

    def connection_made(self, transport) -> None:  # type: ignore[override]
        self.transport = transport

    def connection_lost(self, exc) -> None:  # type: ignore[override]
        self.closed = True
        fut = self._fut
        if fut is not None and not fut.done():
            if self._state == _UNTIL_CLOSE:
                self._finish(now())
            else:
                fut.set_exception(HTTPError(f"connection closed ({exc or 'EOF'}) in state {self._state}"))

    def close(self) -> None:
        self._drop()
        if self.transport is not None:
            self.transport.close()

    def abort(self) -> None:
        self._drop()
        if self.transport is not None:
            self.transport.abort()

    def _drop(self) -> None:
        """We gave up on the response in flight, if any."""
        self.closed = True
        fut = self._fut
        if fut is not None and not fut.done():
            fut.cancel()

    # -- requesting -------------------------------------------------------------

    def send(self, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None,
             sink: Optional[Sink] = None, host: str = "127.0.0.1") -> asyncio.Future:
        """Send a request; the future resolves to a `Response` when the body has ended.
        Without a sink the body is collected into `Response.body`."""
        if self.closed:
            raise HTTPError("connection is closed")
        lines = [f"{method} {path} HTTP/1.1", f"host: {host}"]
        for k, v in (headers or {}).items():
            lines.append(f"{k}: {v}")
        if body is not None:
            lines.append("content-type: application/json")
            lines.append(f"content-length: {len(body)}")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode()
        self._resp = Response()
        self._sink = sink
        self._chunks = [] if sink is None else None
        self._state = _HEAD
        self._no_body = method == "HEAD"
        self._fut = asyncio.get_running_loop().create_future()
        self._resp.t_sent = now()
        self.transport.write(head + body if body is not None else head)
        return self._fut

    async def request(self, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None,
                      sink: Optional[Sink] = None, timeout: float = 60.0) -> Response:
        fut = self.send(method, path, body, headers, sink)
        try:
            return await asyncio.wait_for(fut, timeout)
        except BaseException:
            self.abort()
            raise

    # -- parsing ----------------------------------------------------------------

    def data_received(self, data: bytes) -> None:  # type: ignore[override]
        t = now()
        buf = self._buf
        buf += data
        while buf:
            state = self._state
            if state == _HEAD:
                end = buf.find(b"\r\n\r\n")
                if end < 0:
                    return
                self._parse_head(bytes(buf[:end]), t)
                del buf[: end + 4]
            elif state == _LENGTH:
                n = min(self._remaining, len(buf))
                self._deliver(bytes(buf[:n]), t)
                del buf[:n]
                self._remaining -= n
                if self._remaining == 0:
                    self._finish(t)
            elif state == _CHUNK_SIZE:
                end = buf.find(b"\r\n")
                if end < 0:
                    return
                size = int(bytes(buf[:end]).split(b";", 1)[0], 16)
                del buf[: end + 2]
                if size == 0:
                    self._state = _CHUNK_TRAILER
                else:
                    self._remaining = size
                    self._state = _CHUNK_DATA
            elif state == _CHUNK_DATA:
                if self._remaining > 0:
                    n = min(self._remaining, len(buf))
                    self._deliver(bytes(buf[:n]), t)
                    del buf[:n]
                    self._remaining -= n
                if self._remaining == 0:
                    if len(buf) < 2:
                        return
                    del buf[:2]
                    self._state = _CHUNK_SIZE
            elif state == _CHUNK_TRAILER:
                end = buf.find(b"\r\n")
                if end < 0:
                    return
                del buf[: end + 2]
                if end == 0:
                    self._finish(t)
            elif state == _UNTIL_CLOSE:
                self._deliver(bytes(buf), t)
                buf.clear()
            else:  # _DONE: unexpected bytes (e.g. after a response we gave up on)
                buf.clear()
                return

    def _parse_head(self, raw: bytes, t: float) -> None:
        resp = self._resp
        lines = raw.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ", 2)
        resp.status = int(parts[1])
        headers = resp.headers
        for line in lines[1:]:
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
        resp.t_head = t
        if headers.get("connection", "").lower() == "close":
            self.reusable = False
        if self._no_body or resp.status in (204, 304) or 100 <= resp.status < 200:
            self._finish(t)
        elif "chunked" in headers.get("transfer-encoding", "").lower():
            self._state = _CHUNK_SIZE
        elif "content-length" in headers:
            self._remaining = int(headers["content-length"])
            self._state = _LENGTH
            if self._remaining == 0:
                self._finish(t)
        else:
            self.reusable = False
            self._state = _UNTIL_CLOSE

    def _deliver(self, payload: bytes, t: float) -> None:
        if not payload:
            return
        resp = self._resp
        if not resp.t_first:
            resp.t_first = t
        resp.nbytes += len(payload)
        if self._sink is not None:
            self._sink(payload, t)
        else:
            self._chunks.append(payload)

    def _finish(self, t: float) -> None:
        self._state = _DONE
        resp = self._resp
        resp.t_end = t
        if self._chunks is not None:
            resp.body = b"".join(self._chunks)
        fut = self._fut
        if fut is not None and not fut.done():
            fut.set_result(resp)


class Client:
    """Reconnects when the server closed the connection; one request at a time."""

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self.conn: Optional[Conn] = None

    async def request(self, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None,
                      sink: Optional[Sink] = None, timeout: float = 60.0) -> Response:
        for attempt in (0, 1):
            fresh = False
            if self.conn is None or self.conn.closed or not self.conn.reusable:
                if self.conn is not None:
                    self.conn.close()
                self.conn = await Conn.open(self.host, self.port)
                fresh = True
            try:
                return await self.conn.request(method, path, body, headers, sink, timeout)
            except HTTPError:
                # A kept-alive connection the server closed just before our request: retry once.
                if fresh or attempt:
                    raise
                self.conn = None
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


class SSECounter:
    """Counts SSE events (blocks with an `event:` line) in a body, across chunk boundaries,
    and notes when a marker (e.g. the last run's `run_done`) has been seen."""

    __slots__ = ("count", "_carry", "marker", "_mcarry", "seen_marker", "t_marker", "t_first_event")

    PATTERN = b"\nevent:"

    def __init__(self, marker: bytes | None = None) -> None:
        self.count = 0
        self._carry = b"\n"  # the body's first line has no newline before it
        self.marker = marker
        self._mcarry = b""
        self.seen_marker = False
        self.t_marker = 0.0
        self.t_first_event = 0.0

    def __call__(self, data: bytes, t: float) -> None:
        s = self._carry + data
        n = s.count(self.PATTERN)
        if n:
            if not self.count:
                self.t_first_event = t
            self.count += n
        self._carry = s[-(len(self.PATTERN) - 1):]
        if self.marker is not None and not self.seen_marker:
            m = self._mcarry + data
            if self.marker in m:
                self.seen_marker = True
                self.t_marker = t
            self._mcarry = m[-(len(self.marker) - 1):]


def parse_sse(raw: bytes) -> list[tuple[str | None, bytes, str | None]]:
    """(event, data, id) of each event in a complete SSE body (CRLF or LF line ends)."""
    out = []
    for block in raw.replace(b"\r\n", b"\n").split(b"\n\n"):
        event = event_id = None
        data = []
        for line in block.split(b"\n"):
            if not line or line.startswith(b":"):
                continue
            field, _, value = line.partition(b":")
            if value.startswith(b" "):
                value = value[1:]
            if field == b"event":
                event = value.decode()
            elif field == b"data":
                data.append(value)
            elif field == b"id":
                event_id = value.decode()
        if event is not None or data:
            out.append((event, b"\n".join(data), event_id))
    return out


class TimedSSE:
    """Keeps every received piece of an SSE body with its arrival time; parsed afterwards,
    so the receiving callback costs next to nothing (for the 500-subscriber fan-out)."""

    __slots__ = ("pieces",)

    def __init__(self) -> None:
        self.pieces: list[tuple[float, bytes]] = []

    def __call__(self, data: bytes, t: float) -> None:
        self.pieces.append((t, data))

    def events(self) -> list[tuple[float, str | None, bytes, str | None]]:
        """(arrival time, event, data, id) per event; an event's time is that of the piece completing it."""
        out = []
        pending = b""
        for t, data in self.pieces:
            pending += data
            hold = b""
            if pending.endswith(b"\r"):  # maybe half of a CRLF
                pending, hold = pending[:-1], b"\r"
            *complete, rest = pending.replace(b"\r\n", b"\n").split(b"\n\n")
            for block in complete:
                for ev in parse_sse(block):
                    out.append((t, *ev))
            pending = rest + hold
        return out
