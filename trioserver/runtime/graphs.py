"""Loading graphs from a `langgraph.json`, the way `langgraph dev` does.

A graph spec is `./path/to/file.py:attr` (relative to the config file) or
`package.module:attr`. The attribute is a compiled graph, or a factory: a function
(sync or async) that takes the run's config, or nothing, and returns one.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import json
import os
import sys
from pathlib import Path
from typing import Any

import attrs
from langgraph.pregel import Pregel


class GraphLoadError(Exception):
    pass


@attrs.define
class GraphSpec:
    graph_id: str
    target: Any  # a Pregel, or a factory returning one
    description: str | None = None

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
    graphs = config.get("graphs") or {}
    if not graphs:
        raise GraphLoadError(f"{path} names no graphs")
    specs = {}
    for graph_id, spec in graphs.items():
        description = None
        if isinstance(spec, dict):
            description = spec.get("description")
            spec = spec.get("path")
        specs[graph_id] = GraphSpec(graph_id, _import_target(str(spec), base), description)
    return specs


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


def _import_target(spec: str, base: Path) -> Any:
    module_ref, sep, attr = spec.rpartition(":")
    if not sep:
        raise GraphLoadError(f"graph spec {spec!r} must look like ./file.py:attr")
    if module_ref.endswith(".py") or "/" in module_ref:
        file = (base / module_ref).resolve()
        name = "trioserver_graph_" + file.stem + "_" + str(abs(hash(str(file))))
        module = sys.modules.get(name)
        if module is None:
            loader_spec = importlib.util.spec_from_file_location(name, file)
            if loader_spec is None or loader_spec.loader is None:
                raise GraphLoadError(f"cannot import {file}")
            module = importlib.util.module_from_spec(loader_spec)
            sys.modules[name] = module
            try:
                loader_spec.loader.exec_module(module)
            except Exception as exc:
                del sys.modules[name]
                raise GraphLoadError(f"importing {file} failed: {exc!r}") from exc
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
