"""A graph that reports progress through the stream writer (served as `custom`)."""

from typing import TypedDict

from langgraph.config import get_stream_writer
from langgraph.graph import START, StateGraph


class State(TypedDict, total=False):
    query: str
    answer: str


def work(state: State):
    writer = get_stream_writer()
    for i in range(3):
        writer({"progress": i, "query": state["query"]})
    return {"answer": f"done: {state['query']}"}


graph = StateGraph(State).add_node(work).add_edge(START, "work").compile()
