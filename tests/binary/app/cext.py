"""A graph whose package is a C extension (ujson) that the smoke test installs into cdeps/
with `trioserver pip install --target cdeps ujson`: a compiled wheel loading in the binary."""

from typing import TypedDict

import ujson
from langgraph.graph import START, StateGraph


class State(TypedDict, total=False):
    data: dict
    encoded: str


def encode(state: State):
    return {"encoded": ujson.dumps(state["data"], sort_keys=True) + " by " + ujson.__name__}


graph = StateGraph(State).add_node(encode).add_edge(START, "encode").compile()
