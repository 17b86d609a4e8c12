"""What `/openapi.json` advertises of the configured auth.

The API key: an `apiKey` scheme in header `x-api-key` (and HTTP bearer, which the gate
also accepts), required on every operation. Custom auth: langgraph.json's
`auth.openapi` as the reference copies it (`securitySchemes` or `security_schemes`,
`security`, and `paths` of `{path: {method: security}}`); without one, nothing (the
reference logs a warning then, as `setup` does).
"""

from __future__ import annotations

import copy
from typing import Any

from .apikey import ApiKeys


def apply_security(document: dict[str, Any], keys: ApiKeys | None, custom_openapi: dict[str, Any] | None) -> dict[str, Any]:
    """`document` (an OpenAPI document) with the server's security schemes; changed in place and returned."""
    schemes: dict[str, Any] = {}
    security: list[dict[str, list[str]]] = []
    custom = copy.deepcopy(custom_openapi or {})
    schemes.update(custom.get("securitySchemes") or custom.get("security_schemes") or {})
    security += custom.get("security") or []
    if keys is not None:
        schemes["apiKey"] = {"type": "apiKey", "in": "header", "name": "x-api-key", "description": "One of the server's API keys (--api-key-file, TRIOSERVER_API_KEY)."}
        schemes["apiKeyBearer"] = {"type": "http", "scheme": "bearer", "description": "The same key, as Authorization: Bearer <key>."}
        # With custom auth as well, both are needed: the key and the user's own credentials.
        security = [{**entry, "apiKey": []} for entry in security] or [{"apiKey": []}, {"apiKeyBearer": []}]
    if schemes:
        document.setdefault("components", {}).setdefault("securitySchemes", {}).update(schemes)
    if security:
        document["security"] = security
    for path, methods in (custom.get("paths") or {}).items():
        target = (document.get("paths") or {}).get(path)
        if not isinstance(target, dict) or not isinstance(methods, dict):
            continue
        for method, method_security in methods.items():
            if method.lower() in target:
                target[method.lower()]["security"] = method_security
    return document
