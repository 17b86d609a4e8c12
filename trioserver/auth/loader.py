"""Loading the custom auth object named by langgraph.json's `auth.path`.

`"auth": {"path": "./auth.py:auth"}` names a `langgraph_sdk.Auth` instance, as for
`langgraph dev`. A path with `/` or `.py` is a file, resolved against the directory of
langgraph.json (as the graphs are; the reference resolves it against its working
directory, which `langgraph dev` sets to the project); anything else is a module name.
`disable_studio_auth`, `allow_langsmith_api_keys` and `cache` are accepted and ignored:
they concern LangSmith Studio and LangSmith deployments, which are not served here.
"""

from __future__ import annotations

import importlib
import json
import logging
from pathlib import Path
from typing import Any

import attrs

from ..pyfile import FileImportError, import_file
from .authorize import find_handler

log = logging.getLogger(__name__)


@attrs.frozen
class CustomAuth:
    """langgraph.json's `auth`, loaded: the `Auth` object and what /openapi.json shows of it."""

    auth: Any
    path: str
    openapi: dict[str, Any] | None = None


IGNORED_KEYS = ("disable_studio_auth", "allow_langsmith_api_keys", "cache")


class AuthLoadError(Exception):
    pass


def auth_section(config_path: str | Path) -> dict[str, Any] | None:
    """The `auth` object of a langgraph.json, or None when it has none (or no `path`)."""
    config = json.loads(Path(config_path).read_text())
    section = config.get("auth")
    if section is None:
        return None
    if isinstance(section, str):
        section = {"path": section}
    if not isinstance(section, dict):
        raise AuthLoadError(f"{config_path}: 'auth' must be an object with a 'path'")
    return section if section.get("path") else None


def load_auth_object(path: str, base: Path) -> Any:
    """The `Auth` instance at `path` ("./file.py:attr" or "package.module:attr")."""
    from langgraph_sdk import Auth

    module_ref, sep, attr = path.rpartition(":")
    if not sep or not module_ref or not attr:
        raise AuthLoadError(f"Invalid auth path format: {path}. Must be in format: './path/to/file.py:name' or 'module:name'")
    if module_ref.endswith((".js", ".ts", ".mts", ".cts", ".mjs", ".cjs", ".jsx", ".tsx")):
        raise AuthLoadError(f"auth path {path}: JavaScript auth objects are not supported; write it in Python with langgraph_sdk.Auth")
    if "/" in module_ref or ".py" in module_ref:
        file = (base / module_ref).resolve()
        if not file.is_file():
            raise AuthLoadError(f"Could not find auth file: {file}")
        name = "trioserver_auth_" + "".join(c if c.isalnum() else "_" for c in module_ref.lstrip("./"))
        try:
            module = import_file(name, file)
        except FileImportError as exc:
            raise AuthLoadError(str(exc)) from exc
    else:
        try:
            module = importlib.import_module(module_ref)
        except ImportError as exc:
            raise AuthLoadError(f"Could not import auth module {module_ref}: {exc}") from exc
    obj = getattr(module, attr, None)
    if obj is None:
        raise AuthLoadError(f"Could not find auth '{attr}' in module: {module_ref}")
    if not isinstance(obj, Auth):
        raise AuthLoadError(f"Expected an Auth instance at {path}, got {type(obj)}")
    if obj._authenticate_handler is None:
        raise AuthLoadError(
            f"Custom Auth object at path: {path} does not have an authenticate handler. Define one with @auth.authenticate."
        )
    return obj


def warn_fails_open(auth: Any) -> None:
    """Log the (resource, action) pairs no handler covers: those are allowed unfiltered,
    as in the reference, which logs the same warning."""
    if not auth._handlers and not auth._global_handlers:
        return
    missing = [f"{resource}.{action}" for resource, actions in KNOWN_ACTIONS.items() for action in actions if find_handler(auth, resource, action) is None]
    if missing:
        log.warning(
            "custom auth has no handler for %s: those requests are allowed without authorization checks. "
            "Add a default-deny global handler (@auth.on returning False) and override it per resource.",
            ", ".join(missing),
        )


KNOWN_ACTIONS = {
    "threads": ("create", "read", "update", "delete", "search", "create_run"),
    "assistants": ("create", "read", "update", "delete", "search"),
    "crons": ("create", "read", "update", "delete", "search"),
    "store": ("put", "get", "search", "delete", "list_namespaces"),
}
