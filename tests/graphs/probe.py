"""Probe graphs for the conformance tests: a factory whose node is named by its config (`nodeName`), and a graph that reports the config, runtime context and metadata it ran with."""
from typing import Annotated, Any, TypedDict

from langchain_core.runnables import RunnableConfig
from langgraph.graph import START, StateGraph
from langgraph.runtime import get_runtime


def _add(left: list | None, right: Any) -> list:
    left = list(left or [])
    return left + (right if isinstance(right, list) else [right])


class DynState(TypedDict, total=False):
    messages: Annotated[list, _add]


def dynamic(config: RunnableConfig):
    name = (config.get("configurable") or {}).get("nodeName", "default")

    def node(state: DynState):
        return {"messages": [name]}

    return StateGraph(DynState).add_node(name, node).add_edge(START, name).compile()


class SeenState(TypedDict, total=False):
    x: int
    seen: dict


def look(state: SeenState, config: RunnableConfig):
    conf = dict(config.get("configurable") or {})
    keep = {k: v for k, v in conf.items() if not k.startswith("__") and k not in ("checkpoint_ns", "checkpoint_map")}
    try:
        ctx = get_runtime().context
    except Exception as e:  # noqa
        ctx = repr(e)
    return {"seen": {"configurable": {k: (v if isinstance(v, (str, int, float, bool, type(None), list, dict)) else repr(v)) for k, v in keep.items()},
                     "context": ctx if isinstance(ctx, (dict, type(None), str)) else repr(ctx),
                     "metadata": {k: v for k, v in (config.get("metadata") or {}).items() if isinstance(v, (str, int, float, bool, type(None)))}}}


seeconfig = StateGraph(SeenState).add_node(look).add_edge(START, "look").compile()
