"""Graphs that exist to exercise the server: slow, failing, interrupting."""

import asyncio
import operator
from typing import Annotated, TypedDict

from langgraph.graph import START, StateGraph
from langgraph.types import interrupt


class SlowState(TypedDict, total=False):
    delay: float
    steps: int
    log: Annotated[list[str], operator.add]


async def tick(state: SlowState):
    """Sleep, then log: a long-running async node that cancellation must stop promptly."""
    await asyncio.sleep(state.get("delay", 0.2))
    return {"log": ["tick"]}


async def tock(state: SlowState):
    await asyncio.sleep(state.get("delay", 0.2))
    return {"log": ["tock"]}


slow = (
    StateGraph(SlowState)
    .add_node(tick)
    .add_node(tock)
    .add_edge(START, "tick")
    .add_edge("tick", "tock")
    .compile()
)


class FailState(TypedDict, total=False):
    topic: str


def ok(state: FailState):
    return {"topic": state.get("topic", "") + "!"}


def boom(state: FailState):
    raise ValueError("boom: " + state.get("topic", ""))


failing = (
    StateGraph(FailState)
    .add_node(ok)
    .add_node(boom)
    .add_edge(START, "ok")
    .add_edge("ok", "boom")
    .compile()
)


class AskState(TypedDict, total=False):
    question: str
    answer: str


def ask(state: AskState):
    answer = interrupt({"question": state.get("question", "?")})
    return {"answer": answer}


def finish(state: AskState):
    return {"answer": state["answer"] + " (confirmed)"}


asking = (
    StateGraph(AskState)
    .add_node(ask)
    .add_node(finish)
    .add_edge(START, "ask")
    .add_edge("ask", "finish")
    .compile()
)


class ChattyState(TypedDict, total=False):
    count: int
    size: int
    sent: int


def chatter(state: ChattyState):
    """Emit `count` custom events of `size` bytes each: volume for slow-reader tests."""
    from langgraph.config import get_stream_writer

    writer = get_stream_writer()
    filler = "x" * state.get("size", 1000)
    for i in range(state.get("count", 10)):
        writer({"i": i, "filler": filler})
    return {"sent": state.get("count", 10)}


chatty = StateGraph(ChattyState).add_node(chatter).add_edge(START, "chatter").compile()


class MemoryState(TypedDict, total=False):
    user: str
    fact: str
    known: list[str]


async def remember(state: MemoryState):
    """Store a fact in long-term memory and list what is known about the user."""
    from langgraph.config import get_store

    store = get_store()
    namespace = ("memories", state["user"])
    if state.get("fact"):
        await store.aput(namespace, state["fact"], {"fact": state["fact"]})
    items = await store.asearch(namespace)
    return {"known": sorted(item.value["fact"] for item in items)}


memory = StateGraph(MemoryState).add_node(remember).add_edge(START, "remember").compile()
