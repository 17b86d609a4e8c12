"""Checking request values, with the reference's schema-validation messages (422).

Pure functions of plain data, shared by the HTTP layer and the domain code that takes
request bodies from elsewhere (a cron's stored run, a v2 command)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson

from . import ids
from .errors import Invalid

_TYPE_NAMES = {dict: "object", list: "array", str: "string", int: "integer", float: "number", bool: "boolean"}
_ID_NAMES = {"thread_id": "thread ID", "run_id": "run ID", "assistant_id": "assistant ID", "checkpoint_id": "checkpoint ID", "cron_id": "cron ID"}


def show(value: Any) -> str:
    return orjson.dumps(value, default=str).decode()


def type_names(types: type | tuple[type, ...]) -> str:
    kinds = types if isinstance(types, tuple) else (types,)
    return " or ".join(_TYPE_NAMES.get(t, t.__name__) for t in kinds)


def field(body: dict[str, Any], name: str, types: type | tuple[type, ...], default: Any = None, *, choices: Iterable[Any] | None = None) -> Any:
    """`body[name]`, checked against `types` (and `choices`); `default` when absent or null."""
    value = body.get(name)
    if value is None:
        return default
    kinds = types if isinstance(types, tuple) else (types,)
    if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
        raise Invalid(f'{show(value)} is not of type "{type_names(kinds)}"\n\nOn instance["{name}"]')
    if choices is not None and value not in choices:
        options = ", ".join(f'"{c}"' for c in choices)
        raise Invalid(f'{show(value)} is not one of {options}\n\nOn instance["{name}"]')
    return value


def require_uuid(value: Any, what: str) -> str:
    """`value` as a canonical UUID string, or a 422 naming what it should have been."""
    parsed = ids.parse_uuid(value)
    if parsed is None:
        raise Invalid(f"Invalid {_ID_NAMES.get(what, what)}: must be a UUID")
    return str(parsed)
