"""Loading graphs from a `langgraph.json`, the way `langgraph dev` does.

A graph spec is `./path/to/file.py:attr` (relative to the config file) or
`package.module:attr`. The attribute is a compiled graph, or a factory: a function
(sync or async) that takes the run's config, or nothing, and returns one.
"""

from __future__ import annotations

import importlib
import inspect
import json
import os
import sys
from pathlib import Path
from typing import Any

import attrs
from langgraph.pregel import Pregel

from ..pyfile import FileImportError, import_file


class GraphLoadError(Exception):
    pass


@attrs.define
class GraphSpec:
    graph_id: str
    target: Any  # a Pregel, or a factory returning one
    description: str | None = None
    config: dict[str, Any] = attrs.field(factory=dict)  # its system assistant's (LANGGRAPH_CONFIG)

    @property
    def is_factory(self) -> bool:
        return not isinstance(self.target, Pregel)

    async def build(self, config: dict[str, Any]) -> Pregel:
        """The graph for one run (or one state read): the target, or what its factory makes."""
        if not self.is_factory:
            return self.target
        factory = self.target
        params = inspect.signature(factory).parameters
        made = factory(config) if params else factory()
        if inspect.isawaitable(made):
            made = await made
        if not isinstance(made, Pregel):
            raise GraphLoadError(f"graph factory {self.graph_id!r} returned {type(made).__name__}, not a graph")
        return made


def default_config_path() -> Path:
    return Path(__file__).resolve().parent.parent / "examples" / "langgraph.json"


def load_config(path: str | os.PathLike[str]) -> dict[str, GraphSpec]:
    """Read `langgraph.json`, apply its `env`, import its graphs."""
    path = Path(path).resolve()
    try:
        config = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise GraphLoadError(f"cannot read {path}: {exc}") from exc
    base = path.parent
    for dep in config.get("dependencies", ["."]):
        dep_path = (base / dep).resolve()
        if dep_path.is_dir() and str(dep_path) not in sys.path:
            sys.path.insert(0, str(dep_path))
    _apply_env(config.get("env"), base)
    defaults = graph_defaults()
    graphs = config.get("graphs") or {}
    if not graphs:
        raise GraphLoadError(f"{path} names no graphs")
    specs = {}
    for graph_id, spec in graphs.items():
        description = None
        if isinstance(spec, dict):
            description = spec.get("description")
            spec = spec.get("path")
        specs[graph_id] = GraphSpec(graph_id, _import_target(str(spec), base), description, config=defaults.get(graph_id) or {})
    return specs


def graph_defaults() -> dict[str, dict[str, Any]]:
    """`LANGGRAPH_CONFIG`: a JSON object from graph id to the config of that graph's system
    assistant (`{"configurable": ..., ...}`), as `langgraph dev` reads it; often set through
    `env` in langgraph.json, so it is read after that is applied."""
    raw = os.environ.get("LANGGRAPH_CONFIG")
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except ValueError as exc:
        raise GraphLoadError(f"LANGGRAPH_CONFIG must be a valid JSON object: {exc}") from None
    if not isinstance(value, dict) or not all(isinstance(v, dict) for v in value.values()):
        raise GraphLoadError("LANGGRAPH_CONFIG must be a JSON object mapping graph ids to config objects")
    return value


def _apply_env(env: Any, base: Path) -> None:
    if isinstance(env, dict):
        for key, value in env.items():
            os.environ.setdefault(key, str(value))
    elif isinstance(env, str):
        env_path = base / env
        if env_path.is_file():
            for line in env_path.read_text().splitlines():
                line = line.strip()
                if line and not line.startswith("#") and "=" in line:
                    key, _, value = line.partition("=")
                    os.environ.setdefault(key.strip(), value.strip().strip("'\""))


def module_name(path: str) -> str:
    """The module name a graph file is imported under. It must be the same in every
    process and after every restart: pickled and msgpack'd state (dataclasses, pydantic
    models) names the module its types come from, and a restarted server must find them
    there again. Derived from the path as written in langgraph.json, as the reference
    derives it, so state written by either server names the same module. (Dots left
    over, from a `../` path, would read as packages: they become underscores.)"""
    return path.replace("/", "__").replace(".py", "").replace(" ", "_").lstrip(".").replace(".", "_")


def _import_target(spec: str, base: Path) -> Any:
    module_ref, sep, attr = spec.rpartition(":")
    if not sep:
        raise GraphLoadError(f"graph spec {spec!r} must look like ./file.py:attr")
    if module_ref.endswith(".py") or "/" in module_ref:
        file = (base / module_ref).resolve()
        name = module_name(module_ref)
        module = sys.modules.get(name)
        if module is None:
            try:
                module = import_file(name, file)
            except FileImportError as exc:
                raise GraphLoadError(str(exc)) from exc
    else:
        module = importlib.import_module(module_ref)
    try:
        target = getattr(module, attr)
    except AttributeError as exc:
        raise GraphLoadError(f"{module_ref} has no attribute {attr!r}") from exc
    if not isinstance(target, Pregel) and not callable(target):
        raise GraphLoadError(f"{spec} is neither a graph nor a graph factory")
    if not isinstance(target, Pregel) and hasattr(target, "compile"):
        target = target.compile()  # an uncompiled StateGraph
    return target


class Graphs:
    """The served graphs, ready to run: each with the server's checkpointer and store
    attached. Build them only on the graph loop (through the bridge): a factory may be
    async, and may create asyncio objects that must belong to that loop."""

    def __init__(self, specs: dict[str, GraphSpec], *, checkpointer: Any, kvstore: Any) -> None:
        self.specs = specs
        self.checkpointer = checkpointer
        self.kvstore = kvstore
        self._compiled: dict[tuple[str, bool], Pregel] = {}

    def __contains__(self, graph_id: object) -> bool:
        return graph_id in self.specs

    def __iter__(self) -> Any:
        return iter(self.specs)

    async def build(self, graph_id: str, config: dict[str, Any], *, stateless: bool = False) -> Pregel:
        """The graph for one run or one state operation; stateless runs get no
        checkpointer, as the reference runs them. A factory is built anew each time,
        with `config` (the assistant's config for state operations)."""
        spec = self.specs[graph_id]
        if spec.is_factory:
            return self._attach(spec, await spec.build(config), stateless)
        key = (graph_id, stateless)
        graph = self._compiled.get(key)
        if graph is None:
            graph = self._compiled[key] = self._attach(spec, spec.target, stateless)
        return graph

    def _attach(self, spec: GraphSpec, graph: Pregel, stateless: bool) -> Pregel:
        update: dict[str, Any] = {"checkpointer": None if stateless else self.checkpointer}
        if self.kvstore is not None:
            update["store"] = self.kvstore
        if graph.name == "LangGraph":  # as the reference: the root run is named after the graph id
            update["name"] = spec.graph_id
        return graph.copy(update=update)
