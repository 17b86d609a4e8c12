"""The one guard every background task runs under: a failure is logged on one line and
goes no further, so no task can take its nursery (and the server) down with it.

Tasks also start in an empty context: a task started from a request handler must not
inherit (and keep alive, and log under) that request's context.
"""

from __future__ import annotations

import contextvars
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import trio

log = logging.getLogger("trioserver.tasks")


async def guarded(what: str, fn: Callable[..., Awaitable[Any]], *args: Any, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
    """Await `fn(*args)`; an exception is logged (one line, with `what`) and swallowed.
    Cancellation passes through: it is how the owner stops the task. Under
    `nursery.start`, `task_status` is handed on to `fn`."""
    try:
        if task_status is trio.TASK_STATUS_IGNORED:
            await fn(*args)
        else:
            await fn(*args, task_status=task_status)
    except Exception as exc:  # noqa: BLE001 - the point of the guard
        log.error("background task failed: %s: %s: %s", what, type(exc).__name__, exc, exc_info=log.isEnabledFor(logging.DEBUG))


def spawn(nursery: trio.Nursery, what: str, fn: Callable[..., Awaitable[Any]], *args: Any) -> None:
    """Start `fn(*args)` in `nursery`, guarded, in an empty context."""
    contextvars.Context().run(nursery.start_soon, guarded, what, fn, *args)


async def critical(what: str, fn: Callable[..., Awaitable[Any]], *args: Any, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
    """For the few tasks the server cannot run without (the storage writer): a failure is
    logged on one line, then raised, so the server stops instead of hanging."""
    try:
        await fn(*args, task_status=task_status)
    except Exception as exc:
        log.critical("essential task failed, stopping: %s: %s: %s", what, type(exc).__name__, exc)
        raise
