"""The reference server's recorded answers (docs/reference-behaviour/raw), and the helpers
that compare ours with them key by key."""

from __future__ import annotations

import gzip
import json
import re
from functools import cache
from pathlib import Path
from typing import Any

RAW = Path(__file__).resolve().parent.parent / "docs" / "reference-behaviour" / "raw"
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT[0-9:.]+(\+00:00|Z)?")


@cache
def recorded(name: str) -> Any:
    """A raw dump: `conformance-probes`, `schemas`, `a2a`, `mcp` (the `.reference` file)."""
    for path in (RAW / f"{name}.reference.json.gz", RAW / f"{name}.reference.json"):
        if path.exists():
            opener: Any = gzip.open if path.suffix == ".gz" else open
            with opener(path, "rt") as f:
                return json.load(f)
    raise FileNotFoundError(name)


def probe(group: str, key: str) -> Any:
    return recorded("conformance-probes")[group][key]


def normalized(value: Any) -> Any:
    """Ids and timestamps replaced by placeholders: what is left must be equal."""
    if isinstance(value, dict):
        return {UUID.sub("<id>", k): normalized(v) for k, v in value.items()}
    if isinstance(value, list):
        return [normalized(v) for v in value]
    if isinstance(value, str):
        return TIMESTAMP.sub("<ts>", UUID.sub("<id>", value))
    return value


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "str"
    if isinstance(value, list):
        return "list"
    return "object"


def key_types(obj: dict[str, Any]) -> dict[str, str]:
    """Key -> JSON type, in order (as the recorded `keytypes` are)."""
    return {k: json_type(v) for k, v in obj.items()}


def without(obj: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if k not in keys}
