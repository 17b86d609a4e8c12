"""Loading graphs from a `langgraph.json`, the way `langgraph dev` does.

A graph spec is `./path/to/file.py:attr` (relative to the config file) or
`package.module:attr`. The attribute is a compiled graph, or a factory, called as the
reference calls it: with nothing, the config, a `ServerRuntime` (by annotation), or both
(by name); it returns a graph (or a StateGraph, or an awaitable of one) or a context
manager, sync or async, that yields one for as long as the graph is used.
"""

from __future__ import annotations

import copy
import importlib
import inspect
import json
import os
import sys
import typing
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, get_args, get_origin

import attrs
from langgraph.pregel import Pregel
from langgraph_sdk.runtime import ServerRuntime, _ExecutionRuntime, _ReadRuntime

from ..auth.context import Principal
from ..pyfile import FileImportError, import_file

# Why a factory is called (the reference's `ServerRuntime.access_context`).
RUN, READ, UPDATE, INTROSPECT = "threads.create_run", "threads.read", "threads.update", "assistants.read"


class GraphLoadError(Exception):
    pass


@attrs.define
class GraphSpec:
    graph_id: str
    target: Any  # a Pregel, or a factory returning one
    description: str | None = None
    config: dict[str, Any] = attrs.field(factory=dict)  # its system assistant's (LANGGRAPH_CONFIG)

    arguments: Callable[[dict[str, Any], Any], dict[str, Any]] | None = attrs.field(default=None, init=False)

    def __attrs_post_init__(self) -> None:
        if self.is_factory:
            self.arguments = factory_arguments(self.target, self.graph_id)

    @property
    def is_factory(self) -> bool:
        return not isinstance(self.target, Pregel)

    @asynccontextmanager
    async def open(self, config: dict[str, Any], runtime: Any) -> AsyncIterator[Pregel]:
        """The graph for one use: the target, or what its factory makes, kept open (a
        context manager's) until the use ends."""
        if self.arguments is None:
            yield self.target
            return
        async with _entered(self.target(**self.arguments(config, runtime))) as made:
            if not isinstance(made, Pregel) and hasattr(made, "compile"):
                made = made.compile()  # a StateGraph
            if not isinstance(made, Pregel):
                raise GraphLoadError(f"graph factory {self.graph_id!r} returned {type(made).__name__}, not a graph")
            yield made


def factory_arguments(factory: Callable[..., Any], graph_id: str) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    """How to call `factory`, by its signature (the reference's rules): no parameter;
    one, which gets the runtime when annotated `ServerRuntime` and the config otherwise;
    or two, one of them the runtime. Returns `(config, runtime) -> keyword arguments`."""
    params = list(inspect.signature(factory).parameters.values())
    try:
        hints = typing.get_type_hints(factory, localns={"ServerRuntime": ServerRuntime})
    except Exception:  # noqa: BLE001 - unresolvable annotations: read them as written
        hints = {}
    takes_runtime = [_is_runtime(hints.get(p.name, p.annotation)) for p in params]
    if not params:
        return lambda config, runtime: {}
    if len(params) == 1:
        name = params[0].name
        return (lambda config, runtime: {name: runtime}) if takes_runtime[0] else (lambda config, runtime: {name: config})
    if len(params) == 2 and takes_runtime.count(True) == 1:
        runtime_name = params[takes_runtime.index(True)].name
        config_name = params[takes_runtime.index(False)].name
        return lambda config, runtime: {runtime_name: runtime, config_name: config}
    raise GraphLoadError(
        f"graph factory {graph_id!r} must take no argument, the config, a ServerRuntime, or both; it takes {[p.name for p in params]}"
    )


def _is_runtime(annotation: Any) -> bool:
    """Whether an annotation names `ServerRuntime` (bare, parameterized, a concrete variant or Annotated)."""
    if annotation is ServerRuntime or get_origin(annotation) is ServerRuntime:
        return True
    if isinstance(annotation, type):
        return issubclass(annotation, (_ExecutionRuntime, _ReadRuntime))
    args = get_args(annotation) if get_origin(annotation) is typing.Annotated else ()
    return bool(args) and _is_runtime(args[0])


def server_runtime(access: str, store: Any, principal: Principal | None, context: Any = None) -> Any:
    """The `ServerRuntime` a factory gets: why it is called, the caller, the store, and
    (to run the graph only) the run's context."""
    user = principal.user if principal is not None else None
    if access == RUN:
        return _ExecutionRuntime(access_context="threads.create_run", user=user, store=store, context=copy.copy(context))
    return _ReadRuntime(access_context=access, user=user, store=store)  # type: ignore[arg-type]


@asynccontextmanager
async def _entered(made: Any) -> AsyncIterator[Any]:
    """What a factory returned, entered: a context manager (async or not), an awaitable, or a value."""
    if hasattr(made, "__aenter__") and hasattr(made, "__aexit__"):
        async with made as value:
            yield value
    elif hasattr(made, "__enter__") and hasattr(made, "__exit__"):
        with made as value:
            yield value
    elif inspect.isawaitable(made):
        yield await made
    else:
        yield made


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

    @asynccontextmanager
    async def open(
        self, graph_id: str, config: dict[str, Any], *, access: str, principal: Principal | None = None, context: Any = None, stateless: bool = False
    ) -> AsyncIterator[Pregel]:
        """The graph for one run or one state operation, open for the body; stateless runs
        get no checkpointer, as the reference runs them. A factory is called anew each
        time, with `config` (the assistant's config for state operations) and a runtime
        saying why (`access`, one of RUN, READ, UPDATE, INTROSPECT) and for whom."""
        spec = self.specs[graph_id]
        if spec.is_factory:
            async with spec.open(config, server_runtime(access, self.kvstore, principal, context)) as made:
                yield self._attach(spec, made, stateless)
            return
        key = (graph_id, stateless)
        graph = self._compiled.get(key)
        if graph is None:
            graph = self._compiled[key] = self._attach(spec, spec.target, stateless)
        yield graph

    async def use(self, graph_id: str, config: dict[str, Any], use: Callable[[Pregel], Any], *, access: str, principal: Principal | None = None) -> Any:
        """`use(graph)` (sync or async) with the graph open; what it returns must not need
        the graph afterwards (a factory's context may have closed it)."""
        async with self.open(graph_id, config, access=access, principal=principal) as graph:
            result = use(graph)
            return await result if inspect.isawaitable(result) else result

    def _attach(self, spec: GraphSpec, graph: Pregel, stateless: bool) -> Pregel:
        update: dict[str, Any] = {"checkpointer": None if stateless else self.checkpointer}
        if self.kvstore is not None:
            update["store"] = self.kvstore
        if graph.name == "LangGraph":  # as the reference: the root run is named after the graph id
            update["name"] = spec.graph_id
        return graph.copy(update=update)
