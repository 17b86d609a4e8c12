"""Where the event-streaming (v2) client tests point, and what they may expect there.

By default they run against our own server (the session `base_url` fixture). With
`TRIOSERVER_TEST_URL=http://host:port` they run against that server instead, e.g. the
reference, to prove that the tests themselves are right:

    GRAPHS=<copy of the reference's graphs with tests/graphs/v2graphs.py and its two
    graphs (slowchat, tools) in its langgraph.json> /work/ref/start.sh 8123 &
    TRIOSERVER_TEST_URL=http://127.0.0.1:8123 scripts/test tests/test_v2_clients.py \
        tests/test_js_v2.py tests/test_browser.py

The target decides the checks that go beyond what the Python reference does (every channel
for Python graphs, `agent.getTree`/`state.get` over HTTP, classic runs on a v2 stream): they
run against our server and are skipped against the reference. `TRIOSERVER_TEST_TARGET`
(`ours` or `reference`) says which; unset, an outside URL whose `server` header is uvicorn's
(the reference's `langgraph dev`) is the reference, and anything else is held to our bar.

"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

import httpx
import pytest

URL_ENV = "TRIOSERVER_TEST_URL"
TARGET_ENV = "TRIOSERVER_TEST_TARGET"


@dataclass(frozen=True)
class V2Target:
    url: str
    ours: bool  # our own test server (not an outside URL)
    reference: bool  # relax the checks that go beyond the Python reference

    def beyond_reference(self, why: str) -> None:
        """Skip a check the Python reference fails by design (`why`), when that is the target."""
        if self.reference:
            pytest.skip(f"the Python reference does not do this: {why}")


def resolve_target(base_url_fixture: Callable[[], str]) -> V2Target:
    """The target from the environment, else our session server (`base_url_fixture()`)."""
    url = os.environ.get(URL_ENV, "").rstrip("/")
    if not url:
        return V2Target(url=base_url_fixture(), ours=True, reference=False)
    target = os.environ.get(TARGET_ENV)
    if target is None:
        server = httpx.get(f"{url}/ok", timeout=10).headers.get("server", "")
        target = "reference" if "uvicorn" in server else "ours"
    return V2Target(url=url, ours=False, reference=target == "reference")


@pytest.fixture(scope="session")
def v2(request) -> V2Target:
    """The server the v2 client tests talk to (see the module docstring)."""
    return resolve_target(lambda: request.getfixturevalue("base_url"))
