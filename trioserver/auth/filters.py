"""Authorization filters: what a handler returns to scope an operation to some objects,
matched against their stored `metadata`.

One evaluator for every place a filter applies (reads, searches, counts, run, cron and
stream checks), so they cannot disagree. A filter is checked once, when the handler
returns it (`compile_filter`), and then matched against each object (`Filter.allows`).

Forms, as the reference server: `{"k": v}` or `{"k": {"$eq": v}}` (metadata has `k`,
equal to `v`); `{"k": {"$contains": x}}` (metadata `k` is a list containing `x`, or
every element of `x` when it is a list); several keys AND; `{"$or": [f, ...]}` and
`{"$and": [f, ...]}` with at least two groups, ANDed with the other keys, nested at most
two deep. Unlike the reference, which ignores operators it does not know (so a typo
such as `$in` matches everything), an unknown operator is an error: it fails closed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..errors import ServerError

MAX_DEPTH = 2
OPERATORS = ("$eq", "$contains")


class FilterError(ServerError):
    """A handler returned a filter we cannot apply: a 500, as the reference answers."""

    status = 500


class Filter:
    """A checked filter. `ALL` (no filter) allows everything."""

    __slots__ = ("raw", "_terms", "_any", "_all")

    def __init__(self, raw: Mapping[str, Any] | None, terms: tuple[tuple[str, str, Any], ...] = (), any_of: tuple[Filter, ...] = (), all_of: tuple[Filter, ...] = ()) -> None:
        self.raw = raw
        self._terms = terms
        self._any = any_of
        self._all = all_of

    @property
    def empty(self) -> bool:
        return not (self._terms or self._any or self._all)

    def allows(self, metadata: Mapping[str, Any] | None) -> bool:
        """Whether an object with this `metadata` passes the filter."""
        if metadata is None:
            metadata = {}
        for key, op, expected in self._terms:
            if key not in metadata:
                return False
            actual = metadata[key]
            if op == "$eq":
                if actual != expected:
                    return False
            else:  # $contains
                if not isinstance(actual, list):
                    return False
                wanted = expected if isinstance(expected, list) else [expected]
                if any(item not in actual for item in wanted):
                    return False
        if self._any and not any(group.allows(metadata) for group in self._any):
            return False
        return all(group.allows(metadata) for group in self._all)

    def __repr__(self) -> str:
        return f"Filter({self.raw!r})"


ALL = Filter(None)


def compile_filter(raw: Any, depth: int = 0) -> Filter:
    """`raw` (a handler's dict result) checked and prepared for matching."""
    if not raw:
        return ALL
    if not isinstance(raw, Mapping):
        raise FilterError(f"Auth handler returned an invalid filter: expected an object, got {type(raw).__name__}")
    if depth > MAX_DEPTH:
        raise FilterError(
            "Your auth handler returned a filter with too many nested operators. The maximum depth for nested operators is 2. Please simplify your filter."
        )
    terms: list[tuple[str, str, Any]] = []
    groups: dict[str, tuple[Filter, ...]] = {"$or": (), "$and": ()}
    for key, value in raw.items():
        if key in groups:
            if not isinstance(value, list) or len(value) < 2:
                raise FilterError(
                    f"Your auth handler returned a filter with an invalid {key} operator. The {key} operator must be a list of at least 2 filter objects. "
                    "Check the filter returned by your auth handler."
                )
            groups[key] = tuple(_group(item, key, depth + 1) for item in value)
        elif not isinstance(key, str) or key.startswith("$"):
            raise FilterError(f"Auth handler returned a filter with an unknown operator {key!r} (supported: $or, $and)")
        elif isinstance(value, Mapping):
            if not value:
                raise FilterError(f"Auth handler returned an empty condition for {key!r}")
            for op, operand in value.items():
                if op not in OPERATORS:
                    raise FilterError(f"Auth handler returned a filter with an unknown operator {op!r} for {key!r} (supported: {', '.join(OPERATORS)})")
                terms.append((key, op, operand))
        else:
            terms.append((key, "$eq", value))
    return Filter(raw, tuple(terms), groups["$or"], groups["$and"])


def _group(item: Any, operator: str, depth: int) -> Filter:
    if not isinstance(item, Mapping) or not item:
        raise FilterError(f"Auth handler returned a filter whose {operator} holds {item!r}: each group must be a non-empty object")
    return compile_filter(item, depth)
