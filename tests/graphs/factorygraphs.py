"""Graph factories in the shapes the reference calls (served by langgraph.factories.json).

Each graph's one node returns (and carries as metadata) what its factory saw: why it was
called, for whom, the run's context, its config's `configurable.tag`, and how many of
this factory's graphs were open at that moment in this process (1 when every earlier use
was closed). `runtime_cm` also records each call in the store, under the caller's
namespace, keyed by why it was called.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING, Any, TypedDict

from langchain_core.runnables import RunnableConfig
from langgraph.graph import StateGraph

if TYPE_CHECKING:  # the reference resolves the name even when imported only for typing
    from langgraph_sdk.runtime import ServerRuntime


class State(TypedDict, total=False):
    topic: str
    seen: dict[str, Any]


OPEN = {"runtime_cm": 0, "sync_cm": 0}


def _graph(seen: dict[str, Any]) -> StateGraph:
    def report(state: State) -> State:
        return {"seen": seen}

    builder = StateGraph(State)
    builder.add_node("report", report, metadata={"seen": seen})
    builder.add_edge("__start__", "report")
    return builder  # not compiled: the server compiles a StateGraph


def _seen(runtime: ServerRuntime | None, config: RunnableConfig | None, open_count: int) -> dict[str, Any]:
    execution = runtime.execution_runtime if runtime is not None else None
    return {
        "access": runtime.access_context if runtime is not None else None,
        "user": runtime.user.identity if runtime is not None and runtime.user is not None else None,
        "context": dict(execution.context) if execution is not None and execution.context else None,
        "store": runtime is not None and runtime.store is not None,
        "tag": (config or {}).get("configurable", {}).get("tag"),
        "open": open_count,
    }


@contextlib.asynccontextmanager
async def runtime_cm(config: RunnableConfig, runtime: ServerRuntime) -> AsyncIterator[StateGraph]:
    """Both arguments, by name and in the reverse of the usual order; an async context manager."""
    OPEN["runtime_cm"] += 1
    try:
        seen = _seen(runtime, config, OPEN["runtime_cm"])
        if runtime.user is not None:  # what each use saw, for the tests to read back
            await runtime.store.aput((runtime.user.identity, "factory"), runtime.access_context, seen)
        yield _graph(seen)
    finally:
        OPEN["runtime_cm"] -= 1


def runtime_only(runtime: ServerRuntime) -> Any:
    """One parameter, annotated: it gets the runtime, not the config."""
    return _graph(_seen(runtime, None, 1)).compile()


@contextlib.contextmanager
def sync_cm(config: RunnableConfig) -> Iterator[Any]:
    """One unannotated-as-runtime parameter (the config); a sync context manager."""
    OPEN["sync_cm"] += 1
    try:
        yield _graph(_seen(None, config, OPEN["sync_cm"])).compile()
    finally:
        OPEN["sync_cm"] -= 1
