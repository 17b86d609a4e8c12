"""A user graph for the binary's smoke test (scripts/smoke-binary): it imports a local
module (dependencies "."), a package from the dependencies directory deps/, and one that
only a .pth file in a --python-path directory makes importable; it reads .env."""

import os
from typing import TypedDict

import pthpkg  # pydeps/lib, through pydeps/extra.pth (serve --python-path pydeps)
import tinypkg  # deps/tinypkg
from langgraph.graph import START, StateGraph
from wording import exclaim  # ./wording.py


class State(TypedDict, total=False):
    name: str
    greeting: str


def greet(state: State):
    text = f"{os.environ['GREETING']}, {state['name']}"
    return {"greeting": f"{exclaim(text)} ({tinypkg.SIGNATURE}, {pthpkg.MARK})"}


graph = StateGraph(State).add_node(greet).add_edge(START, "greet").compile()
