"""Calling the auth module's functions from trio.

Handlers are asyncio coroutines (the SDK insists on `async def`), and the server runs on
trio. A coroutine whose own code never awaits (the usual handler: look at `ctx`, return
a filter) cannot suspend, so it is stepped to its end right here, at the cost of a plain
call. One that awaits (an HTTP call to an identity provider, say) runs on the graph
loop, where asyncio libraries work. A sync authenticate function runs in a worker
thread, as the reference runs it: it may block.
"""

from __future__ import annotations

import dis
import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import trio

if TYPE_CHECKING:  # the graph loop is handed in; auth needs only its type
    from ..runtime.bridge import AsyncioBridge


# Opcodes through which a coroutine's own frame can suspend.
_SUSPENDING = frozenset({"YIELD_VALUE", "SEND", "GET_AWAITABLE", "GET_AITER", "GET_ANEXT", "BEFORE_ASYNC_WITH", "END_ASYNC_FOR"})


def never_suspends(fn: Callable[..., Any]) -> bool:
    """Whether `fn` is an `async def` whose body has no await, async for or async with."""
    code = getattr(fn, "__code__", None)  # the function itself: a wrapper may await
    if code is None or not inspect.iscoroutinefunction(fn):
        return False
    return not any(ins.opname in _SUSPENDING for ins in dis.get_instructions(code))


class Caller:
    """How one function of the auth module is called: inline, on the graph loop, or in a thread."""

    def __init__(self, fn: Callable[..., Any]) -> None:
        self.fn = fn
        self.is_async = inspect.iscoroutinefunction(fn)
        self.inline = never_suspends(fn)

    async def __call__(self, bridge: AsyncioBridge | None, kwargs: dict[str, Any]) -> Any:
        fn = self.fn
        if self.inline:
            coro = fn(**kwargs)
            try:
                coro.send(None)
            except StopIteration as done:
                return done.value
            coro.close()
            raise RuntimeError(f"auth function {getattr(fn, '__name__', fn)!r} suspended unexpectedly")
        if self.is_async:
            if bridge is None:
                raise RuntimeError("no asyncio loop to run the auth function on")
            return await bridge.call(lambda: fn(**kwargs), label=f"auth function {getattr(fn, '__name__', fn)}")
        return await trio.to_thread.run_sync(lambda: fn(**kwargs))
