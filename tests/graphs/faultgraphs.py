"""Graphs for the fault scenarios: sync nodes that block, a graph that ignores
cancellation, custom state types, an async factory."""

import asyncio
import dataclasses
import time
from typing import TypedDict

from langgraph.graph import START, StateGraph


class SleepState(TypedDict, total=False):
    delay: float
    done: bool


def sleep_sync(state: SleepState):
    """A sync node: it runs in a worker thread and cannot be cancelled."""
    time.sleep(state.get("delay", 0.1))
    return {"done": True}


sync_slow = StateGraph(SleepState).add_node(sleep_sync).add_edge(START, "sleep_sync").compile()


class StubbornState(TypedDict, total=False):
    delay: float
    note: str


async def ignore_cancel(state: StubbornState):
    """Swallows its cancellation and carries on, then writes: the server must abandon it
    and refuse what it writes after that."""
    end = time.monotonic() + state.get("delay", 7.0)
    while time.monotonic() < end:
        try:
            await asyncio.sleep(end - time.monotonic())
        except asyncio.CancelledError:
            continue
    return {"note": "written after the run was cancelled"}


stubborn = StateGraph(StubbornState).add_node(ignore_cancel).add_edge(START, "ignore_cancel").compile()


@dataclasses.dataclass
class Tally:
    count: int


class TypedState(TypedDict, total=False):
    tally: Tally
    seen: int


def bump(state: TypedState):
    """Reads the stored dataclass by attribute: a plain dict after a restart would fail."""
    tally = state.get("tally")
    count = tally.count + 1 if tally is not None else 1
    return {"tally": Tally(count), "seen": count}


typed = StateGraph(TypedState).add_node(bump).add_edge(START, "bump").compile()


async def async_factory(config):
    """An async factory that needs the graph loop (asyncio) to build."""
    await asyncio.sleep(0)
    return sync_slow
