"""The official JS SDK's event-streaming (v2) client, `client.threads.stream(...)` of
@langchain/langgraph-sdk (pinned in tests/js/package.json), over SSE and WebSocket: runs
tests/js/v2_e2e.mjs against our server or `TRIOSERVER_TEST_URL` (see tests/v2support.py).

One check by name: `node --experimental-websocket tests/js/v2_e2e.mjs URL <part of name>`.
"""

from __future__ import annotations

import re
from pathlib import Path

from nodejs import ensure_node_modules, node_and_npm, node_flags, run_node
from v2support import V2Target, v2  # noqa: F401  (v2 is a fixture)

JS_DIR = Path(__file__).resolve().parent / "js"
SCRIPT = JS_DIR / "v2_e2e.mjs"
RUN_TIMEOUT = 180


def test_js_sdk_v2(v2: V2Target):  # noqa: F811
    node, npm = node_and_npm()
    ensure_node_modules(npm, JS_DIR, "@langchain/langgraph-sdk")
    code, output = run_node([node, *node_flags(node), str(SCRIPT), v2.url], JS_DIR, RUN_TIMEOUT,
                            {"V2_TARGET": "reference" if v2.reference else "ours"})
    print(output)  # shown by pytest on failure, and with -s / -rP
    assert code == 0, f"node {SCRIPT.name} exited with {code}:\n{output}"
    last = output.strip().splitlines()[-1]
    assert re.fullmatch(r"\d+ passed, 0 failed", last), f"unexpected summary line {last!r}:\n{output}"
