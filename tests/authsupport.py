"""Shared by the auth tests: every route the app serves (so a route added later is checked
too), and clients that carry a user's credentials."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from langgraph_sdk import get_client

ROOT = Path(__file__).resolve().parent.parent
AUTH_CONFIG = ROOT / "tests" / "graphs" / "langgraph.auth.json"
OPEN = {("GET", "/ok"), ("GET", "/"), ("GET", "/info"), ("GET", "/docs"), ("GET", "/openapi.json")}


class _Anything:
    """Stands in for every service while the app's routes are registered (nothing is called)."""

    def __getattr__(self, name: str) -> Any:
        return self

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self

    def __iter__(self) -> Any:
        return iter(())

    def __contains__(self, item: object) -> bool:
        return False


class _Services(_Anything):
    def __init__(self) -> None:
        from trioserver.auth import Authorizer
        from trioserver.services import Settings

        self.auth = Authorizer()
        self.settings = Settings()


def all_routes() -> list[tuple[str, str, bool]]:
    """(method, concrete path, is_websocket) for every route of the app, with ids filled in."""
    from trioserver.app import create_app

    app = create_app(_Services())  # type: ignore[arg-type]
    out = []
    for rule in app.url_map.iter_rules():
        path = rule.rule
        for name in rule.arguments:
            path = path.replace(f"<path:{name}>", "a/b").replace(f"<{name}>", str(uuid.uuid4()))
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            out.append((method, path, bool(rule.websocket)))
    return sorted(out)


def data_routes() -> list[tuple[str, str, bool]]:
    """Every route but the open ones (and the API reference's static files)."""
    return [r for r in all_routes() if (r[0], r[1]) not in OPEN and not r[1].startswith("/docs/assets/")]


def user_client(url: str, token: str | None = None, **headers: str) -> Any:
    """The official SDK client, as one user (a bearer token), or with other headers."""
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return get_client(url=url, api_key=None, headers=headers)
