"""The Store API: LangGraph's long-term memory store (items in namespaces), over HTTP.

Statuses as the reference: a malformed body or a bad namespace label is a 422; what
the store itself rejects (an empty namespace on put, a root label "langgraph", an
unknown filter operator) is a 400, as the reference maps the store's ValueErrors. A
missing item is a 200 with a JSON `null` body, as the reference answers (the SDK's
`get_item` then returns None).

Every store call goes to a worker thread: a put commits with an fsync, and a search
may scan many items; neither may stall the trio loop.
"""

from __future__ import annotations

from typing import Any

import trio
from langgraph.store.base import GetOp, ListNamespacesOp, MatchCondition, Op, PutOp, SearchOp
from quart import Quart, Response, request

from ..errors import BadRequest, Invalid
from ..services import Services
from ..storage.kvstore import LmdbStore
from ..storage.kvstore import _check_filter as check_value_filter
from ..storage.kvstore import _matches_filter as matches_value_filter
from ..validate import show as _show
from ..validate import type_names as _type_names
from .common import body_object, empty_response, field, json_response

__all__ = ["register"]


def _required(body: dict[str, Any], name: str, types: type) -> Any:
    """`body[name]`, which must be present and of `types` (null is not)."""
    if name not in body:
        raise Invalid(f'"{name}" is a required property')
    if body[name] is None:
        raise Invalid(f'null is not of type "{_type_names(types)}"\n\nOn instance["{name}"]')
    return field(body, name, types)


def _labels(body: dict[str, Any], name: str) -> list[str] | None:
    """`body[name]` as a list of strings (None when absent or null), as the schema."""
    value = field(body, name, list, None)
    if value is None:
        return None
    for i, label in enumerate(value):
        if not isinstance(label, str):
            raise Invalid(f'{_show(label)} is not of type "string"\n\nOn instance["{name}"][{i}]')
    return value


def _check_labels(namespace: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """The reference's label check: non-empty strings without periods (422). A NUL,
    which no JSON client sends by accident, is refused here too: LangGraph refuses it."""
    for label in namespace:
        if not label or "." in label or "\x00" in label:
            raise Invalid(f"Namespace label {label!r} must be a non-empty string without periods")
    return tuple(namespace)


async def _run(kvstore: LmdbStore, op: Op) -> Any:
    try:
        return (await trio.to_thread.run_sync(kvstore.batch, [op]))[0]
    except ValueError as exc:  # InvalidNamespaceError, unsupported filter operator
        raise BadRequest(str(exc)) from None


async def _authorized(svc: Services, action: str, value: dict[str, Any]) -> dict[str, Any] | None:
    """The `store:<action>` event. As the reference, the endpoint then goes on with what the
    handler left in `value` (it may rewrite the namespace, say), checked again; the
    returned filter means something only to `search`."""
    result = await svc.auth.decide("store", action, value)
    for name in ("namespace", "suffix"):
        if name in value and value[name] is not None:
            labels = value[name]
            if not isinstance(labels, (list, tuple)) or not all(isinstance(label, str) for label in labels):
                raise Invalid("Namespace must be a list of labels")
            value[name] = _check_labels(labels)
    return result


async def _search(svc: Services, prefix: tuple[str, ...], wanted: dict[str, Any] | None, scope: dict[str, Any] | None, limit: int, offset: int, query: str | None) -> list[Any]:
    """A search with the request's filter and a handler's (both on item values, ANDed)."""
    if not scope:
        return await _run(svc.kvstore, SearchOp(prefix, wanted or None, limit, offset, query))
    if not wanted or not (wanted.keys() & scope.keys()):
        return await _run(svc.kvstore, SearchOp(prefix, {**(wanted or {}), **scope}, limit, offset, query))
    # Both constrain the same field: the request's in the store, the handler's on what it finds.
    try:
        check_value_filter(scope)
    except ValueError as exc:
        raise BadRequest(str(exc)) from None
    found = await _run(svc.kvstore, SearchOp(prefix, wanted, 1 << 62, 0, query))
    return [item for item in found if matches_value_filter(item.value, scope)][offset : offset + limit]


def _int(body: dict[str, Any], name: str, default: int) -> int:
    value = field(body, name, int, default)
    if value < 0:
        raise Invalid(f'{value} is less than the minimum of 0\n\nOn instance["{name}"]')
    return value


def register(app: Quart, svc: Services) -> None:
    @app.put("/store/items")
    async def put_item() -> Response:
        body = await body_object()
        _required(body, "namespace", list)
        labels = _labels(body, "namespace")
        key = _required(body, "key", str)
        value = _required(body, "value", dict)
        index = body.get("index")
        if not (index is None or index is False or (isinstance(index, list) and all(isinstance(p, str) for p in index))):
            raise Invalid(f'{_show(index)} is not valid under any of the given schemas\n\nOn instance["index"]')
        ttl = field(body, "ttl", (int, float), None)
        namespace = _check_labels(labels or [])
        if svc.auth.enabled:
            handled = {"namespace": namespace, "key": key, "value": value, "index": index, "ttl": ttl}
            await _authorized(svc, "put", handled)
            namespace, key, value, index, ttl = handled["namespace"], handled["key"], handled["value"], handled["index"], handled["ttl"]
        if namespace and namespace[0] == "langgraph":  # as BaseStore.put, which the reference calls
            raise BadRequest(f'Root label for namespace cannot be "langgraph". Got: {namespace}')
        await _run(svc.kvstore, PutOp(namespace, key, value, index=index, ttl=ttl))
        return empty_response(204)

    @app.get("/store/items")
    async def get_item() -> Response:
        namespace = _check_labels(request.args.get("namespace", "").split("."))
        key = request.args.get("key")
        if not key:
            raise BadRequest("Key is required")
        if svc.auth.enabled:
            refresh = request.args.get("refresh_ttl")
            handled: dict[str, Any] = {"namespace": namespace, "key": key, "refresh_ttl": refresh.lower() == "true" if refresh is not None else None}
            await _authorized(svc, "get", handled)
            namespace, key = handled["namespace"], handled["key"]
        item = await _run(svc.kvstore, GetOp(namespace, key))
        return json_response(None if item is None else item.dict())

    @app.delete("/store/items")
    async def delete_item() -> Response:
        body = await body_object()
        key = _required(body, "key", str)
        namespace = _check_labels(_labels(body, "namespace") or [])
        if svc.auth.enabled:
            handled = {"namespace": namespace, "key": key}
            await _authorized(svc, "delete", handled)
            namespace, key = handled["namespace"], handled["key"]
        await _run(svc.kvstore, PutOp(namespace, key, None))
        return empty_response(204)

    @app.post("/store/items/search")
    async def search_items() -> Response:
        body = await body_object(default={})
        namespace_prefix = _check_labels(_labels(body, "namespace_prefix") or [])
        filter = field(body, "filter", dict, None)
        limit = _int(body, "limit", 10) or 10  # as the reference: 0 means the default
        offset = _int(body, "offset", 0)
        query = field(body, "query", str, None)
        refresh_ttl = field(body, "refresh_ttl", bool, None)  # validated; items do not expire here
        scope = None
        if svc.auth.enabled:
            handled = {"namespace": namespace_prefix, "filter": filter, "limit": limit, "offset": offset, "query": query, "refresh_ttl": refresh_ttl}
            scope = await _authorized(svc, "search", handled)
            namespace_prefix, filter, limit, offset, query = handled["namespace"], handled["filter"], handled["limit"], handled["offset"], handled["query"]
        items = await _search(svc, namespace_prefix, filter, scope, limit, offset, query)
        return json_response({"items": [item.dict() for item in items]})

    @app.post("/store/namespaces")
    async def list_namespaces() -> Response:
        body = await body_object(default={})
        prefix = _labels(body, "prefix")
        suffix = _labels(body, "suffix")
        max_depth = field(body, "max_depth", int, None)
        if svc.auth.enabled:
            handled = {"namespace": _check_labels(prefix) if prefix else None, "suffix": _check_labels(suffix) if suffix else None,
                       "max_depth": max_depth, "limit": _int(body, "limit", 100), "offset": _int(body, "offset", 0)}  # fmt: skip
            await _authorized(svc, "list_namespaces", handled)
            prefix, suffix, max_depth = handled["namespace"], handled["suffix"], handled["max_depth"]
            body = {**body, "limit": handled["limit"], "offset": handled["offset"]}
        conditions = []
        if prefix:
            conditions.append(MatchCondition("prefix", _check_labels(prefix)))
        if suffix:
            conditions.append(MatchCondition("suffix", _check_labels(suffix)))
        if max_depth is not None and max_depth < 0:
            raise Invalid(f'{max_depth} is less than the minimum of 0\n\nOn instance["max_depth"]')
        limit = _int(body, "limit", 100)
        offset = _int(body, "offset", 0)
        namespaces = await _run(svc.kvstore, ListNamespacesOp(tuple(conditions), max_depth, limit, offset))
        return json_response({"namespaces": [list(ns) for ns in namespaces]})
