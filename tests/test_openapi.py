"""`/openapi.json` validates as OpenAPI 3.1 and lists every route the server serves (the
app's own route table, walked here in-process, and the paths served in front of Quart);
`/docs` renders it with assets the server itself serves (no other host)."""

from __future__ import annotations

import re

import pytest
from openapi_spec_validator import validate
from serverproc import TEST_GRAPHS

from trioserver.api.openapi import IGNORED_ENDPOINTS, OUTSIDE_QUART, openapi_path
from trioserver.app import create_app
from trioserver.runtime.bridge import AsyncioBridge
from trioserver.runtime.graphs import load_config
from trioserver.services import Settings, build_services
from trioserver.storage.env import Store


@pytest.fixture(scope="module")
def served_routes(tmp_path_factory):
    """(path, method) of every route the app registers, read from a freshly built app."""
    data = tmp_path_factory.mktemp("routes")
    store, bridge = Store(str(data)), AsyncioBridge()
    try:
        app = create_app(build_services(Settings(data_dir=str(data)), load_config(TEST_GRAPHS), store, bridge))
        routes = set()
        for rule in app.url_map.iter_rules():
            if rule.endpoint in IGNORED_ENDPOINTS:
                continue
            methods = {"GET"} if rule.websocket else set(rule.methods or ()) - {"HEAD", "OPTIONS"}
            routes |= {(openapi_path(rule.rule), m.lower()) for m in methods}
        routes |= {(path, method) for path, ops in OUTSIDE_QUART.items() for method in ops}
        return routes
    finally:
        bridge.close()
        store.close()


@pytest.mark.anyio
async def test_document_is_valid_and_complete(http, base_url, served_routes):
    answer = await http.get("/openapi.json")
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/json"
    document = answer.json()
    validate(document)  # raises on an invalid document
    assert document["openapi"].startswith("3.1") and document["servers"] == [{"url": base_url}]
    documented = {(path, method) for path, ops in document["paths"].items() for method in ops}
    assert served_routes - documented == set()
    assert documented - served_routes == set()
    for expected in (("/mcp", "post"), ("/a2a/{assistant_id}", "post"), ("/threads/{thread_id}/storage", "get"), ("/metrics", "get"), ("/docs", "get")):
        assert expected in documented
    ids = [op["operationId"] for ops in document["paths"].values() for op in ops.values()]
    assert len(ids) == len(set(ids))
    refs = set(re.findall(r'"#/components/schemas/([^"]+)"', answer.text))
    assert refs <= set(document["components"]["schemas"])


@pytest.mark.anyio
async def test_docs_page_works_offline(http):
    page = await http.get("/docs")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert sources and all(s.startswith("/docs/assets/") for s in sources), sources  # nothing from another host
    assert "http://" not in page.text and "https://" not in page.text
    for source in sources:
        asset = await http.get(source)
        assert asset.status_code == 200 and len(asset.content) > 10_000, source
    assert "/openapi.json" in page.text
    assert (await http.get("/docs/assets/nope.js")).status_code == 404
