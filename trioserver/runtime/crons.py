"""Crons: stored schedules that create runs, and the task that fires them.

Each cron lives in its own LMDB database (`crons`, keyed by the cron's UUID bytes) as a
`Cron` record. `run_scheduler` sleeps until the earliest `next_run_date` among the
active crons, or until the API reports a change (`Crons.notify`), then creates the due
runs and advances each cron's `next_run_date` from *now*: ticks missed while the server
was down are run once, not replayed.
"""

from __future__ import annotations

import copy
import datetime as dt
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import attrs
import croniter
import trio

from ..errors import Invalid
from ..storage.env import Store, Txn
from ..storage.records import decode, encode

log = logging.getLogger(__name__)

UTC = dt.UTC
# Re-read the crons at least this often (seconds), so a wall-clock jump cannot delay a tick for long.
MAX_SLEEP = 60.0


@attrs.define
class Cron:
    cron_id: str
    assistant_id: str
    thread_id: str | None
    schedule: str
    payload: dict[str, Any]
    created_at: str
    updated_at: str
    next_run_date: str | None = None
    end_time: str | None = None
    timezone: str | None = None
    user_id: str | None = None
    metadata: dict[str, Any] = attrs.field(factory=dict)
    on_run_completed: str | None = None
    enabled: bool = True
    # With custom auth: who created it (user and permissions), whom its runs act for.
    creator: dict[str, Any] | None = None


# -- schedules -------------------------------------------------------------------------


def validate_schedule(schedule: str) -> str:
    if not isinstance(schedule, str) or not croniter.croniter.is_valid(schedule):
        raise Invalid(
            f"Invalid cron schedule: '{schedule}'. Reason: Invalid cron schedule. "
            "Ensure the schedule uses the standard cron format (minute hour day_of_month month day_of_week). "
            "Example: '*/5 * * * *' for every 5 minutes."
        )
    return schedule


def validate_timezone(timezone: Any) -> str | None:
    if timezone is None:
        return None
    try:
        if not isinstance(timezone, str) or not timezone:
            raise ValueError
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError, KeyError):
        raise Invalid(f"Invalid timezone: '{timezone}'. Use IANA timezone format (e.g. 'America/New_York').") from None
    return timezone


def parse_time(value: str) -> dt.datetime:
    """An ISO-8601 date-time, aware (a naive one is taken as UTC)."""
    parsed = dt.datetime.fromisoformat(value)
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def next_run(schedule: str, after: dt.datetime, timezone: str | None = None) -> dt.datetime:
    """The first tick of `schedule` strictly after `after`, in UTC; the schedule is read
    in `timezone` (an IANA name; UTC when None), as the reference's `next_cron_date`."""
    base = after.astimezone(ZoneInfo(timezone)) if timezone else after.astimezone(UTC)
    return croniter.croniter(schedule, base).get_next(dt.datetime).astimezone(UTC)


def is_active(cron: Cron, now: dt.datetime) -> bool:
    """Whether the cron may still fire: enabled, with a next tick before its end time."""
    if not cron.enabled or cron.next_run_date is None:
        return False
    if cron.end_time is None:
        return True
    end = parse_time(cron.end_time)
    return end >= now and parse_time(cron.next_run_date) <= end


def run_payload(cron: Cron) -> dict[str, Any]:
    """The run request a tick submits: the stored payload, with the reference's adjustments."""
    payload = copy.deepcopy(cron.payload)
    if cron.on_run_completed == "keep":
        payload.setdefault("on_completion", "keep")
    payload["metadata"] = {**(cron.metadata or {}), **(payload.get("metadata") or {})}
    if payload.get("context"):
        # `cron_id` in configurable would make the run both configurable and context: refused.
        configurable = (payload.get("config") or {}).get("configurable") or {}
        configurable.pop("cron_id", None)
    return payload


def run_creator(cron: Cron) -> dict[str, Any] | None:
    """Whom a tick's run acts for: the cron's creator (never anything in its payload, which a
    client wrote); a bare identity for a cron stored with only a user id; None without one."""
    if cron.creator or cron.user_id:
        return cron.creator or {"identity": cron.user_id}
    return None


# -- storage ---------------------------------------------------------------------------


def _key(cron_id: str) -> bytes:
    return uuid.UUID(cron_id).bytes


class Crons:
    """The crons of one `Store`, and the event that wakes the scheduler when they change."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.db = store.db("crons")
        self._changed = trio.Event()

    def watch(self) -> trio.Event:
        """An event set by the next `notify`. Take it before reading the crons, so a change
        made after the read still wakes the waiter."""
        self._changed = trio.Event()
        return self._changed

    def notify(self) -> None:
        """Wake the scheduler: a cron was created, changed or deleted."""
        self._changed.set()

    def get(self, cron_id: str) -> Cron | None:
        raw = self.store.read(lambda txn: txn.get(_key(cron_id), db=self.db))
        return None if raw is None else decode(raw, Cron)

    def all(self) -> list[Cron]:
        return self.store.read(lambda txn: [decode(v, Cron) for _, v in txn.cursor(self.db)])

    async def put(self, cron: Cron) -> Cron:
        def op(txn: Txn) -> Cron:
            txn.put(_key(cron.cron_id), encode(cron), db=self.db)
            return cron

        result = await self.store.write(op)
        self.notify()
        return result

    async def update(self, cron_id: str, change: Callable[[Cron], Any]) -> Cron | None:
        """Read the cron in the write transaction, apply `change`, store it; None when absent."""

        def op(txn: Txn) -> Cron | None:
            raw = txn.get(_key(cron_id), db=self.db)
            if raw is None:
                return None
            cron = decode(raw, Cron)
            change(cron)
            txn.put(_key(cron_id), encode(cron), db=self.db)
            return cron

        result = await self.store.write(op)
        self.notify()
        return result

    async def delete(self, cron_id: str) -> bool:
        deleted = await self.store.write(lambda txn: txn.delete(_key(cron_id), db=self.db))
        self.notify()
        return deleted

    def delete_matching_op(self, *, thread_id: str | None = None, assistant_id: str | None = None) -> Callable[[Txn], int]:
        """An op deleting the crons of a thread or an assistant (the reference cascades those
        deletes), for the handler's own write. Call `notify()` after it commits."""

        def op(txn: Txn) -> int:
            doomed = []
            for key, raw in txn.cursor(self.db):
                cron = decode(raw, Cron)
                if (thread_id is not None and cron.thread_id == thread_id) or (assistant_id is not None and cron.assistant_id == assistant_id):
                    doomed.append(key)
            for key in doomed:
                txn.delete(key, db=self.db)
            return len(doomed)

        return op

    async def advance(self, cron_id: str, fired: str, next_date: str) -> bool:
        """Set the next run date, unless the cron changed since the tick at `fired` was read
        (deleted, or its schedule patched): then the change stands."""

        def op(txn: Txn) -> bool:
            raw = txn.get(_key(cron_id), db=self.db)
            if raw is None:
                return False
            cron = decode(raw, Cron)
            if cron.next_run_date != fired:
                return False
            cron.next_run_date = next_date
            txn.put(_key(cron_id), encode(cron), db=self.db)
            return True

        return await self.store.write(op)


# -- the scheduler -----------------------------------------------------------------------

# create_run(thread_id, payload, creator): creator is `run_creator(cron)`.
CreateRun = Callable[[str | None, dict[str, Any], dict[str, Any] | None], Awaitable[Any]]


def _wall_now() -> dt.datetime:
    return dt.datetime.now(UTC)


async def run_scheduler(
    crons: Crons,
    create_run: CreateRun,
    *,
    now: Callable[[], dt.datetime] = _wall_now,
    task_status=trio.TASK_STATUS_IGNORED,
) -> None:
    """Fire due crons until cancelled. `create_run(thread_id, payload, creator)` has the semantics
    of `api.runs.create_run` (thread_id None: a new thread per tick), made as `creator` (the
    cron's, see `run_creator`). `now` is the wall clock.

    Reports its cancel scope as started (`scope = await nursery.start(run_scheduler, ...)`),
    so the owner can stop it before the executor shuts down."""
    with trio.CancelScope() as scope:
        task_status.started(scope)
        while True:
            # A fresh event before reading: a change made after this read wakes the sleep below.
            changed = crons.watch()
            current = now()
            due, wait = [], MAX_SLEEP
            for cron in crons.all():
                if not is_active(cron, current):
                    continue
                assert cron.next_run_date is not None  # is_active
                delay = (parse_time(cron.next_run_date) - current).total_seconds()
                if delay <= 0:
                    due.append(cron)
                else:
                    wait = min(wait, delay)
            for cron in due:
                await fire(crons, create_run, cron, current)
            if due:
                continue  # re-read: the runs took time, and the dates moved
            with trio.move_on_after(wait):
                await changed.wait()


async def fire(crons: Crons, create_run: CreateRun, cron: Cron, current: dt.datetime) -> None:
    """Create the cron's run for this tick, then move its next run date past `current`."""
    try:
        await create_run(cron.thread_id, run_payload(cron), run_creator(cron))
    except Exception:  # a rejected run (thread busy, deleted assistant) must not stop the scheduler
        log.exception("cron %s: could not create its run", cron.cron_id)
    try:
        following = next_run(cron.schedule, current, cron.timezone).isoformat()
    except Exception:  # a schedule croniter accepted but cannot iterate
        log.exception("cron %s: no next run date; disabling it", cron.cron_id)
        await crons.update(cron.cron_id, lambda c: setattr(c, "enabled", False))
        return
    if cron.next_run_date is not None:
        await crons.advance(cron.cron_id, cron.next_run_date, following)
