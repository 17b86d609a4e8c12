"""JSON at the HTTP edge and in log payloads: orjson, with the conversions LangGraph needs.

One encoder for everything, so a message chunk looks the same in a stream, in a
thread's values and in a state response.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import enum
import uuid
from collections import deque
from decimal import Decimal
from typing import Any

import orjson

_OPTS = orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY


def _default(obj: Any) -> Any:
    # Only what orjson does not handle itself.
    model_dump = getattr(obj, "model_dump", None)
    if callable(model_dump) and not isinstance(obj, type):
        return model_dump()
    if isinstance(obj, BaseException):
        return {"error": type(obj).__name__, "message": str(obj)}
    as_dict = getattr(obj, "_asdict", None)
    if callable(as_dict) and not isinstance(obj, type):
        return as_dict()
    if type(obj).__name__ == "Send" and hasattr(obj, "node"):
        return {"node": obj.node, "args": obj.arg}
    if type(obj).__name__ == "Interrupt" and hasattr(obj, "value"):
        return {"value": obj.value, "id": getattr(obj, "id", None)}
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}
    if isinstance(obj, (set, frozenset, deque)):
        return list(obj)
    if isinstance(obj, _dt.timedelta):
        return obj.total_seconds()
    if isinstance(obj, Decimal):
        return float(obj) if obj.as_tuple().exponent < 0 else int(obj)  # type: ignore[operator]
    if isinstance(obj, (uuid.UUID,)):
        return str(obj)
    if isinstance(obj, enum.Enum):
        return obj.value
    if isinstance(obj, bytes):
        return obj.decode("utf-8", "replace")
    dict_method = getattr(obj, "dict", None)
    if callable(dict_method) and not isinstance(obj, type):
        return dict_method()
    return repr(obj)


def dumps(obj: Any) -> bytes:
    """Encode `obj` as JSON bytes."""
    return orjson.dumps(obj, default=_default, option=_OPTS)


def loads(raw: bytes | str) -> Any:
    return orjson.loads(raw)


def to_plain(obj: Any) -> Any:
    """`obj` as plain JSON-shaped data (dicts, lists, strings, numbers)."""
    return orjson.loads(dumps(obj))
