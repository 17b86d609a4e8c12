"""Importing a user's Python file (a graph, an auth module) under a module name we choose."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType


class FileImportError(Exception):
    """The file could not be imported; the message says why, for the user's log."""


def import_file(name: str, file: Path) -> ModuleType:
    """Import `file` as module `name`, registered in `sys.modules` first, as the import
    system does, so that pickled types and dataclasses in it can name their module.
    A module that fails to import is taken out again: a later attempt starts clean."""
    spec = importlib.util.spec_from_file_location(name, file)
    if spec is None or spec.loader is None:
        raise FileImportError(f"cannot import {file}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        del sys.modules[name]
        raise FileImportError(f"importing {file} failed: {exc!r}") from exc
    return module
