"""The event streaming protocol (v2) over HTTP and WebSocket.

- `POST /threads/{t}/commands`: one command in, one response envelope out (HTTP 200 for
  answers, errors included; 400 only for a body that is not a command).
- `POST /threads/{t}/stream/events`: an SSE stream of the thread's events for a filter
  (`channels`, `namespaces`, `depth`), from `since` (exclusive) or from the thread's
  first event, and then live, until the client leaves.
- `GET /threads/{t}/stream/events` upgraded to a WebSocket: commands in; responses and
  the events of the socket's subscriptions out.
"""

from __future__ import annotations

import logging
from contextlib import aclosing
from typing import Any

import orjson
import trio
from quart import Quart, Response, request, websocket

from ..errors import BadRequest
from ..ids import EventId
from ..protocols import v2
from ..protocols.v2_commands import Commands, check_envelope, failure
from ..services import Services
from .access import stream_check, thread_refusal
from .common import json_response, require_uuid, sse_response

log = logging.getLogger(__name__)

# Commands that read the thread (or answer its interrupts) first pass `threads:read`.
# `run.start` is authorized where every run is made (`threads:create_run`), and
# `subscription.unsubscribe` touches only the socket's own state.
READING = frozenset({"subscription.subscribe", "subscription.reconnect", "agent.getTree", "state.get", "input.respond"})


async def refused(svc: Services, thread_id: str, command: dict[str, Any]) -> dict[str, Any] | None:
    """The error envelope of a command custom auth refuses, or None to go on."""
    if command["method"] not in READING:
        return None
    refusal = await thread_refusal(svc, thread_id)
    if refusal is None:
        return None
    status, detail = refusal
    if status == 404:
        return failure(command["id"], "no_such_run", f"{status}: {detail}")
    return failure(command["id"], "permission_denied", f"{status}: {detail}")


def register(app: Quart, svc: Services) -> None:
    commands = Commands(svc)

    @app.post("/threads/<thread_id>/commands")
    async def command(thread_id: str) -> Response:
        thread_id = require_uuid(thread_id, "thread_id")
        try:
            body = orjson.loads(await request.get_data(cache=False))
        except orjson.JSONDecodeError:
            raise BadRequest("Invalid JSON body") from None
        malformed = check_envelope(body)
        if malformed is not None:
            return json_response(malformed, status=400)
        return json_response(await refused(svc, thread_id, body) or await commands.handle(thread_id, body))

    @app.post("/threads/<thread_id>/stream/events")
    async def stream_events(thread_id: str) -> Response:
        thread_id = require_uuid(thread_id, "thread_id")
        try:
            body = orjson.loads(await request.get_data(cache=False) or b"{}")
        except orjson.JSONDecodeError:
            raise BadRequest("Invalid JSON body") from None
        if not isinstance(body, dict):
            raise BadRequest("The stream body must be a JSON object")
        try:
            wanted = v2.parse_filter(body)
        except v2.BadFilter as exc:
            raise BadRequest(str(exc)) from None
        after = v2.parse_since(body.get("since")) or EventId.ZERO
        denied = await stream_check(svc, thread_id)
        if denied is not None:
            return denied
        return sse_response(v2.sse_events(svc.log, thread_id, after, wanted, shutdown=svc.shutdown, heartbeat=svc.heartbeat))

    @app.websocket("/threads/<thread_id>/stream/events")
    async def stream_socket(thread_id: str) -> None:
        thread_id = require_uuid(thread_id, "thread_id")
        await websocket.accept()
        await Socket(svc, commands, thread_id).serve()


class Socket:
    """One WebSocket: commands answered as they come, and ONE tail of the thread's log
    that sends each event once, in log order, if any of the socket's subscriptions wants
    it. A new subscription first gets its replay (the thread from its start, or after
    `since`: everything its filter wants, sent or not, since the client fans events out
    per subscription and drops repeats there), right after its answer and before any
    newer event. Closing the socket ends its subscriptions; runs go on."""

    def __init__(self, svc: Services, commands: Commands, thread_id: str) -> None:
        self.svc = svc
        self.commands = commands
        self.thread_id = thread_id
        self._lock = trio.Lock()  # one writer on the socket: answers, replays, live batches
        self._filters: dict[str, v2.Filter] = {}
        self._replays: dict[str, list[v2.Envelope]] = {}  # a new subscription's backlog, sent after its answer
        self._position: EventId | None = None  # how far the live tail has sent
        self._nursery: trio.Nursery | None = None

    async def _send(self, data: bytes | dict[str, Any]) -> None:
        await websocket.send((data if isinstance(data, bytes) else orjson.dumps(data)).decode())

    async def serve(self) -> None:
        try:
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                nursery.start_soon(self._until_shutdown, nursery.cancel_scope)
                while True:
                    raw = await websocket.receive()
                    try:
                        message = orjson.loads(raw)
                    except orjson.JSONDecodeError:
                        async with self._lock:
                            await self._send(failure(None, "invalid_argument", "Protocol commands must be valid JSON."))
                        continue
                    malformed = check_envelope(message)
                    if malformed is not None:
                        async with self._lock:
                            await self._send(malformed)
                        continue
                    nursery.start_soon(self._answer, message)
        finally:
            if not self.svc.shutdown.is_set():
                log.info("client left the event socket of thread %s (%d subscription(s))", self.thread_id, len(self._filters))

    async def _until_shutdown(self, scope: trio.CancelScope) -> None:
        await self.svc.shutdown.wait()
        scope.cancel()

    async def _answer(self, message: dict[str, Any]) -> None:
        denial = await refused(self.svc, self.thread_id, message)
        if denial is not None:
            async with self._lock:
                await self._send(denial)
            return
        if message["method"] not in ("subscription.subscribe", "subscription.reconnect"):
            answer = await self.commands.handle(self.thread_id, message, unsubscribe=self._unsubscribe)
            async with self._lock:
                await self._send(answer)
            return
        async with self._lock:  # the live tail waits: the replay goes out in one piece
            answer = await self.commands.handle(self.thread_id, message, subscribe=self._register)
            await self._send(answer)
            sub_id = (answer.get("result") or {}).get("subscription_id")
            for envelope in self._replays.pop(sub_id, []) if sub_id else []:
                await self._send(envelope.data)

    async def _register(self, sub_id: str, params: dict[str, Any], wanted: v2.Filter, since: int | None) -> dict[str, Any]:
        """(Under the lock.) Add the subscription to the live tail's filters and note its
        replay: what it wants up to where the live tail has come."""
        if self._position is None:
            self._position = self.svc.log.committed_id(self.thread_id)
            assert self._nursery is not None
            self._nursery.start_soon(self._follow, self._position)
        after = EventId.from_seq(since) if since is not None else EventId.ZERO
        self._filters[sub_id] = wanted
        self._replays[sub_id] = replay = self._backlog(after, self._position, wanted)
        return {"subscription_id": sub_id, "replayed_events": len(replay)}

    def _unsubscribe(self, sub_id: str) -> bool:
        return self._filters.pop(sub_id, None) is not None

    def _backlog(self, after: EventId, end: EventId, wanted: v2.Filter) -> list[v2.Envelope]:
        """What `wanted` picks from the log after `after` up to `end`, rendered."""
        select = v2.selector(wanted)
        out: list[v2.Envelope] = []
        for position, event in self.svc.log.iter_after(self.thread_id, after, until=end):
            picked = select(event)[0]
            if picked is not None:
                out.append(v2.envelope(position, *picked))
        return out

    async def _follow(self, after: EventId) -> None:
        """The live tail: every event after `after`, once, if a subscription wants it."""
        everything = v2.Filter(channels=frozenset(v2.CHANNELS), named=frozenset())
        batches = v2.events(self.svc.log, self.thread_id, after, everything, shutdown=self.svc.shutdown, heartbeat=self.svc.heartbeat)
        async with aclosing(batches) as live:
            async for batch in live:
                async with self._lock:
                    for envelope in batch:
                        if any(f.accepts(envelope.method, envelope.namespace) for f in self._filters.values()):
                            await self._send(envelope.data)
                        self._position = envelope.position
